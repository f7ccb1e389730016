"""The paper's window features: intercept, pixels, vertical and horizontal differences.

For a 5x5 window that is 1 + 25 + 20 + 20 = 66 features, in exactly that order:
the pixels row by row, then the differences down each column (row i+1 minus
row i), then the differences along each row (column j+1 minus column j).
"""

from __future__ import annotations

import numpy as np

WINDOWS = (3, 5, 7)


def feature_count(window: int) -> int:
    """1 + w*w + 2*w*(w-1): 22, 66 and 134 for windows 3, 5 and 7."""
    return 1 + window * window + 2 * window * (window - 1)


def window_features(patches: np.ndarray) -> np.ndarray:
    """(N, w, w) windows -> (N, feature_count(w)) float32 design matrix."""
    patches = np.asarray(patches, np.float32)
    count, size = patches.shape[0], patches.shape[1]
    vertical = (patches[:, 1:, :] - patches[:, :-1, :]).reshape(count, -1)
    horizontal = (patches[:, :, 1:] - patches[:, :, :-1]).reshape(count, -1)
    out = np.empty((count, feature_count(size)), np.float32)
    out[:, 0] = 1.0
    out[:, 1 : 1 + size * size] = patches.reshape(count, -1)
    out[:, 1 + size * size : 1 + size * size + vertical.shape[1]] = vertical
    out[:, 1 + size * size + vertical.shape[1] :] = horizontal
    return out
