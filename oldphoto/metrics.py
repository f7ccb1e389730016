"""Image quality measures used by every bench, so all numbers agree."""

from __future__ import annotations

import numpy as np


def mse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error on [0, 1] (the paper's 'error'; x100 for percent)."""
    diff = np.asarray(estimate, np.float64) - np.asarray(truth, np.float64)
    return float(np.mean(diff * diff))


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data in [0, 1]; capped at 100 for identity."""
    return float(psnr_from_mse(mse(estimate, truth)))


def psnr_from_mse(error: float | np.ndarray) -> float | np.ndarray:
    """PSNR in dB of a mean squared error on [0, 1] (element-wise); 100 dB where it is ~0.

    The paper reports "MSE %": pass ``percent / 100``.
    """
    error = np.asarray(error, np.float64)
    value = np.where(error > 1e-10, 10.0 * np.log10(1.0 / np.maximum(error, 1e-10)), 100.0)
    return float(value) if value.ndim == 0 else value


def grey_baseline(rgb: np.ndarray) -> np.ndarray:
    """The 'gray' reference every colouriser is scored against: the image's own L*, a*b* = 0.

    ``rgb`` is (H, W, 3) or a stack (N, H, W, 3) in [0, 1]; returns float32 RGB
    of the same shape. This is what doing nothing scores, so every colour
    bench computes it in the same run as the models.
    """
    return constant_tint(rgb, 0.0, 0.0)


def constant_tint(rgb: np.ndarray, a: float, b: float) -> np.ndarray:
    """The image's own L* under one a*b* everywhere (shapes as :func:`grey_baseline`).

    With a*b* = (4, 12), a warm tint: a control that any colouriser scoring
    "better than gray" must also beat, or its colour is no more than a cast.
    """
    import torch

    from oldphoto.cielab import lab_to_rgb, rgb_to_lab

    batch = np.asarray(rgb, np.float32)
    single = batch.ndim == 3
    with torch.no_grad():
        lab = rgb_to_lab(torch.from_numpy(batch[None] if single else batch).permute(0, 3, 1, 2))
        lab[:, 1] = a
        lab[:, 2] = b
        tinted = lab_to_rgb(lab).permute(0, 2, 3, 1).numpy().astype(np.float32)
    return tinted[0] if single else tinted


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


#: Hue-balanced hit rate: truth pixels at least this colourful (|a*b*|) are scored ...
HIT_TRUTH_CHROMA = 15.0
#: ... and a prediction hits when it is at least this colourful ...
HIT_MIN_CHROMA = 7.0
#: ... with a hue within this many degrees of the truth's.
HIT_MAX_DEGREES = 40.0


def hue_hits(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Hit and pixel counts per true-hue sextant, (2, 6), for one pair of RGB images in [0, 1].

    Sextants are 60-degree sectors of the a*b* hue angle centred on 0, 60, ...,
    300 degrees. Counts are returned rather than a rate so that a bench can pool
    them over a whole set before averaging (see :func:`hue_balanced_hit_rate`).
    """
    from skimage.color import rgb2lab

    counts = np.zeros((2, 6), np.int64)
    truth = np.asarray(truth, np.float64)
    if truth.ndim == 2:
        return counts
    true_ab = rgb2lab(np.clip(truth, 0, 1))[..., 1:]
    estimate = np.asarray(estimate, np.float64)
    if estimate.ndim == 2:
        estimate = np.repeat(estimate[..., None], 3, axis=2)
    est_ab = rgb2lab(np.clip(estimate, 0, 1))[..., 1:]
    colourful = np.hypot(true_ab[..., 0], true_ab[..., 1]) >= HIT_TRUTH_CHROMA
    true_hue = np.degrees(np.arctan2(true_ab[..., 1], true_ab[..., 0]))[colourful]
    est = est_ab[colourful]
    est_hue = np.degrees(np.arctan2(est[:, 1], est[:, 0]))
    gap = np.abs((est_hue - true_hue + 180.0) % 360.0 - 180.0)
    hit = (np.hypot(est[:, 0], est[:, 1]) >= HIT_MIN_CHROMA) & (gap <= HIT_MAX_DEGREES)
    sextant = (((true_hue + 30.0) % 360.0) // 60.0).astype(np.int64).clip(0, 5)
    counts[0] = np.bincount(sextant[hit], minlength=6)
    counts[1] = np.bincount(sextant, minlength=6)
    return counts


def hue_balanced_hit_rate(counts: np.ndarray, min_share: float = 0.01) -> float:
    """Mean hit rate over the sextants that hold at least ``min_share`` of the colourful pixels.

    ``counts`` is the pooled (2, 6) of :func:`hue_hits`. Grey scores 0; a
    constant warm tint hits only the warm sextants, about 0.3 on photos.
    """
    hits, totals = np.asarray(counts, np.float64)
    if totals.sum() == 0:
        return float("nan")
    used = totals >= min_share * totals.sum()
    return float((hits[used] / totals[used]).mean())


def hits_by_sextant(counts: np.ndarray) -> dict[str, list[float]]:
    """Each sextant's hit rate and its share of the colourful pixels (hues 0, 60, ..., 300),
    from the pooled (2, 6) counts: which colours pull the balanced rate down."""
    hits, totals = np.asarray(counts, np.float64)
    rates = np.divide(hits, totals, out=np.zeros(6), where=totals > 0)
    return {"rate": [round(float(r), 4) for r in rates],
            "share": [round(float(t), 4) for t in totals / max(totals.sum(), 1.0)]}
