"""Image quality measures used by every bench, so all numbers agree."""

from __future__ import annotations

import numpy as np


def mse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error on [0, 1] (the paper's 'error'; x100 for percent)."""
    diff = np.asarray(estimate, np.float64) - np.asarray(truth, np.float64)
    return float(np.mean(diff * diff))


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data in [0, 1]; capped at 100 for identity."""
    err = mse(estimate, truth)
    return 100.0 if err <= 1e-10 else float(10.0 * np.log10(1.0 / err))


def ssim(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Structural similarity (scikit-image, Gaussian-free default window)."""
    from skimage.metrics import structural_similarity

    estimate = np.asarray(estimate, np.float32)
    truth = np.asarray(truth, np.float32)
    small = min(truth.shape[0], truth.shape[1])
    win = min(7, small if small % 2 else small - 1)
    channel_axis = 2 if truth.ndim == 3 else None
    return float(
        structural_similarity(
            estimate, truth, data_range=1.0, channel_axis=channel_axis, win_size=win
        )
    )


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of an RGB image in [0, 1], on the 0-255 scale."""
    rgb = np.asarray(rgb, np.float64) * 255.0
    if rgb.ndim == 2:
        return 0.0
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    std = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(std + 0.3 * mean)
