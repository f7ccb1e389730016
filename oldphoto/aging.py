"""Numeric damage models behind ``oldphoto age``: each takes and returns float32 in [0, 1].

Every function takes a ``numpy.random.Generator`` so a whole run is reproducible
from one seed.
"""

from __future__ import annotations

import numpy as np


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, as the paper's 'grayscale' (same weights as scikit-image)."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32, copy=True)
    weights = np.array([0.2125, 0.7154, 0.0721], np.float32)
    return np.clip(pixels[..., :3] @ weights, 0.0, 1.0).astype(np.float32)


def salt_and_pepper(
    image: np.ndarray,
    density: float,
    rng: np.random.Generator,
    salt_vs_pepper: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Set a ``density`` fraction of pixels to pure white (salt) or black (pepper).

    Returns the noisy image and the boolean mask of corrupted pixels. For
    colour input the same pixel is hit in every channel, as a speck of dust
    would be.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    height, width = image.shape[:2]
    mask = rng.random((height, width)) < density
    salt = rng.random((height, width)) < salt_vs_pepper
    noisy = image.astype(np.float32, copy=True)
    values = np.where(salt, 1.0, 0.0).astype(np.float32)
    if noisy.ndim == 3:
        noisy[mask] = values[mask][:, None]
    else:
        noisy[mask] = values[mask]
    return noisy, mask
