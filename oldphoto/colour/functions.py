"""Colourisation as a function: image first, keyword-only options, ``None`` for automatic.

The ``colorize-*`` filters run the same :class:`oldphoto.colour.pipeline.Colouriser`;
this is the entry point for a notebook or a script.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oldphoto.arrays import as_float_image

if TYPE_CHECKING:
    from oldphoto.colour.pipeline import Colouriser


def colorize(
    image: np.ndarray, *, model: str | Path = "colorize-cnn", size: int | None = None,
    saturation: float | None = None, spread: float | None = None,
    min_chroma: float | None = None, bw_detector: str | None = None, device: str = "cpu",
) -> np.ndarray:
    """Colour a grey (or greyed) photo, keeping its own full-resolution lightness.

    Parameters
    ----------
    image : ndarray
        (H, W) grey or (H, W, 3) colour (its L* is used); float in [0, 1], or
        uint8 / uint16.
    model : str or Path
        A shipped weights name (``colorize-cnn``, ``colorize-resnet``,
        ``colorize-mlp``, ...) or a checkpoint path.
    size : int, optional
        Working size (the short side the model sees); ``None``: the checkpoint's.
    saturation, spread, min_chroma : float, optional
        a*b* gain, extra colour spread, and the mean |a*b*| below which the
        photo is left grey; ``None``: the checkpoint's calibrated values.
    bw_detector : str, optional
        Weights of a black-and-white-original detector whose "yes" leaves the
        photo grey; ``None``: always colour.
    device : {'cpu', 'cuda', 'auto'}
        Where the model runs.

    Returns
    -------
    ndarray
        float32 RGB (H, W, 3) in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from oldphoto.colour import colorize
    >>> grey = np.tile(np.linspace(0.1, 0.9, 48, dtype=np.float32), (32, 1))
    >>> colorize(grey, model="colorize-cnn", min_chroma=0).shape
    (32, 48, 3)
    """
    pixels, _ = as_float_image(image)
    colouriser = _colouriser(
        str(model), -1.0 if saturation is None else saturation, -1.0 if spread is None else spread,
        -1.0 if min_chroma is None else min_chroma, bw_detector or "none", size or 0, device,
    )
    rgb, _ = colouriser.colourise([pixels])[0]
    return rgb


@lru_cache(maxsize=4)
def _colouriser(model: str, saturation: float, spread: float, min_chroma: float, detector: str,
                size: int, device: str) -> Colouriser:
    """Loaded once per set of options; later calls reuse the network."""
    from oldphoto.colour.pipeline import Colouriser
    from oldphoto.device import resolve_device

    return Colouriser(model, None, resolve_device(device), size, saturation,
                      detector=detector, min_chroma=min_chroma, spread=spread)
