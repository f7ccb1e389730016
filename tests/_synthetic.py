"""Small synthetic grey photos for tests: smooth shading, edges and texture, no extremes."""

from __future__ import annotations

import numpy as np


def synthetic_photo(seed: int, size: int = 96) -> np.ndarray:
    """A grey image in [0.05, 0.95] with smooth shading, a few flat shapes and mild texture."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    shading = gaussian_filter(rng.standard_normal((size, size)), 8.0)
    shading = (shading - shading.min()) / (np.ptp(shading) + 1e-9)
    image = 0.2 + 0.6 * shading
    rows, cols = np.indices((size, size))
    for _ in range(3):
        top, left = rng.integers(0, size - 20, 2)
        height, width = rng.integers(10, 30, 2)
        inside = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
        image[inside] = rng.uniform(0.1, 0.9)
    image += gaussian_filter(rng.standard_normal((size, size)), 0.8) * 0.02
    return np.clip(image, 0.05, 0.95).astype(np.float32)
