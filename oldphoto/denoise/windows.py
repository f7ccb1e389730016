"""Gather square windows around chosen pixels without Python loops over pixels."""

from __future__ import annotations

import numpy as np


def padded(image: np.ndarray, radius: int) -> np.ndarray:
    """Mirror-pad a 2-D array so every window around an in-image pixel exists."""
    return np.pad(image, radius, mode="symmetric")


def gather(
    image_padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, radius: int
) -> np.ndarray:
    """The size x size windows centred on (rows, cols), from an array padded by ``radius``.

    Returns an (N, size, size) copy. ``radius`` is the padding actually applied,
    which may exceed ``size // 2`` so one padded array serves several sizes.
    """
    half = size // 2
    offset = radius - half
    view = np.lib.stride_tricks.sliding_window_view(image_padded, (size, size))
    return view[rows + offset, cols + offset]
