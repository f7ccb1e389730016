"""Noise detection and removal as functions: image first, keyword-only options.

The filters ``detect`` and ``denoise-lr`` are thin adapters over these. Images
are float in [0, 1] (uint8 and uint16 are scaled), (H, W) or (H, W, 3).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oldphoto.arrays import as_float_image
from oldphoto.denoise.detect import DEFAULT_THRESHOLD, DetectorSettings
from oldphoto.denoise.detect import detect_noise as _detect
from oldphoto.errors import OldphotoError

if TYPE_CHECKING:
    from oldphoto.denoise.regression import LinearDenoiser

def detect_noise(
    image: np.ndarray, *, threshold: float | None = DEFAULT_THRESHOLD, extreme: bool = True,
    specks: bool = False, per_channel: bool = False,
) -> np.ndarray:
    """Find the pixels that impulse noise (salt and pepper, dust) has replaced.

    Parameters
    ----------
    image : ndarray
        (H, W) grey or (H, W, 3) colour; float in [0, 1], or uint8 / uint16.
    threshold : float or None
        Flag a pixel whose smallest difference to its 4 neighbours exceeds
        this (on [0, 1]); ``None`` picks it per image (the 99.9th percentile
        of that difference, within [0.15, 0.6]).
    extreme : bool
        Also flag pure black or white pixels outside genuine black or white regions.
    specks : bool
        Also flag dust specks and thin scratches (for real scans).
    per_channel : bool
        One mask per colour channel instead of one from luminance.

    Returns
    -------
    mask : ndarray of bool
        (H, W), or (H, W, 3) with ``per_channel``; True where noise was found.

    Examples
    --------
    >>> import numpy as np
    >>> from oldphoto.denoise import detect_noise
    >>> image = np.full((16, 16), 0.5)
    >>> image[4, 4], image[9, 11] = 1.0, 0.0
    >>> np.argwhere(detect_noise(image)).tolist()
    [[4, 4], [9, 11]]
    """
    pixels, _ = as_float_image(image)
    settings = DetectorSettings(
        threshold=DEFAULT_THRESHOLD if threshold is None else float(threshold),
        extreme_rule=extreme, auto_threshold=threshold is None, specks=specks,
    )
    return _detect(pixels, settings, per_channel=per_channel)


def denoise_lr(
    image: np.ndarray, mask: np.ndarray | None = None, *, variant: str = "default",
    window: int = 5, weights: str | Path | None = None,
) -> np.ndarray:
    """Replace the flagged pixels by the paper's window linear regression, made strong.

    Parameters
    ----------
    image : ndarray
        (H, W) grey or (H, W, 3) colour; float in [0, 1], or uint8 / uint16.
        Colour is cleaned channel by channel.
    mask : ndarray of bool, optional
        The pixels to replace, (H, W) or (H, W, 3); ``None`` runs
        :func:`detect_noise` with its defaults.
    variant : {'default', 'paper'}
        ``default``: pre-filled window, edge-directed and rank-order extra
        features, per-density models, three rounds;
        ``paper``: the paper's 66 features on the raw window.
    window : {3, 5, 7}
        Window size.
    weights : str or Path, optional
        A weights file from ``oldphoto train denoise-lr``; ``None``: the shipped ones.

    Returns
    -------
    ndarray
        float32, the shape of ``image``; pixels outside the mask are unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from oldphoto.denoise import denoise_lr
    >>> image = np.tile(np.linspace(0.2, 0.8, 16), (16, 1))
    >>> noisy = image.copy()
    >>> noisy[5, 5] = 1.0
    >>> bool(abs(denoise_lr(noisy)[5, 5] - image[5, 5]) < 0.02)
    True
    """
    pixels, _ = as_float_image(image)
    if mask is None:
        mask = detect_noise(pixels)
    mask = np.asarray(mask, bool)
    if mask.shape[:2] != pixels.shape[:2]:
        raise OldphotoError(f"mask is {mask.shape[:2]}, the image {pixels.shape[:2]}")
    model = load_lr_model(variant, window, None if weights is None else Path(weights))
    return per_channel(pixels, mask, model.denoise)


def load_lr_model(variant: str, window: int, weights: Path | None) -> LinearDenoiser:
    """The regression weights (shipped ones by variant and window), read once per process."""
    from oldphoto.denoise.regression import shipped_weights

    if variant not in ("default", "paper"):
        raise OldphotoError(f"variant {variant!r}: expected default or paper")
    if window not in (3, 5, 7):
        raise OldphotoError(f"--window {window}: expected 3, 5 or 7")
    path = weights or shipped_weights(variant, window)
    if not path.exists():
        raise OldphotoError(
            f"{path}: no weights for variant {variant}, window {window}; "
            "make them with `oldphoto train denoise-lr`"
        )
    return _read_weights(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read_weights(path: Path, _mtime_ns: int) -> LinearDenoiser:
    """Cached by path and modification time, so retrained weights are read afresh."""
    from oldphoto.denoise.regression import load_denoiser

    return load_denoiser(path)


def per_channel(
    pixels: np.ndarray, mask: np.ndarray | None, clean: Callable[..., np.ndarray]
) -> np.ndarray:
    """Apply a grey denoiser to each channel, with its own mask where the mask has channels."""
    if pixels.ndim == 2:
        grey_mask = mask if mask is None or mask.ndim == 2 else mask.any(axis=2)
        return clean(pixels) if mask is None else clean(pixels, grey_mask)
    channels = []
    for c in range(pixels.shape[2]):
        if mask is None:
            channels.append(clean(pixels[..., c]))
        else:
            channels.append(clean(pixels[..., c], mask if mask.ndim == 2 else mask[..., c]))
    return np.stack(channels, axis=2).astype(np.float32)
