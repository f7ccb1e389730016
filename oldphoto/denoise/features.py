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
    """(N, w, w) or (N, w*w) windows -> (N, feature_count(w)) float32 design matrix."""
    patches = np.asarray(patches, np.float32)
    if patches.ndim == 2:
        side = round(patches.shape[1] ** 0.5)
        patches = patches.reshape(patches.shape[0], side, side)
    count, size = patches.shape[0], patches.shape[1]
    vertical = (patches[:, 1:, :] - patches[:, :-1, :]).reshape(count, -1)
    horizontal = (patches[:, :, 1:] - patches[:, :, :-1]).reshape(count, -1)
    out = np.empty((count, feature_count(size)), np.float32)
    out[:, 0] = 1.0
    out[:, 1 : 1 + size * size] = patches.reshape(count, -1)
    out[:, 1 + size * size : 1 + size * size + vertical.shape[1]] = vertical
    out[:, 1 + size * size + vertical.shape[1] :] = horizontal
    return out


def fold_weights(weights: np.ndarray, window: int) -> np.ndarray:
    """Weights over the paper's features -> the same linear map over (1, pixels).

    The differences are themselves linear in the pixels, so ``features @ w``
    equals ``[1, pixels] @ fold_weights(w)`` exactly; prediction uses the folded
    form (1 + w*w numbers a pixel instead of 66 for w = 5), training the paper's.
    ``weights`` may carry leading axes (stages, bands).
    """
    weights = np.asarray(weights, np.float64)
    lead = weights.shape[:-1]
    pixels = window * window
    vertical_count = window * (window - 1)
    pix = weights[..., 1 : 1 + pixels].reshape(*lead, window, window).copy()
    vertical = weights[..., 1 + pixels : 1 + pixels + vertical_count].reshape(
        *lead, window - 1, window
    )
    horizontal = weights[..., 1 + pixels + vertical_count :].reshape(*lead, window, window - 1)
    pix[..., 1:, :] += vertical
    pix[..., :-1, :] -= vertical
    pix[..., :, 1:] += horizontal
    pix[..., :, :-1] -= horizontal
    return np.concatenate([weights[..., :1], pix.reshape(*lead, pixels)], axis=-1)
