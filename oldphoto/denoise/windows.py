"""Gather square windows around chosen pixels without Python loops over pixels."""

from __future__ import annotations

import numpy as np


def padded(image: np.ndarray, radius: int) -> np.ndarray:
    """Mirror-pad a 2-D array so every window around an in-image pixel exists."""
    return np.pad(image, radius, mode="symmetric")


def gather(
    image_padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, radius: int
) -> np.ndarray:
    """The size x size windows centred on (rows, cols), flattened row by row: (N, size*size).

    ``image_padded`` was padded by ``radius`` (which may exceed ``size // 2`` so
    one padded array serves several sizes). One fancy-indexing read of flat
    offsets is several times faster than indexing a sliding-window view.
    """
    width = image_padded.shape[1]
    half = size // 2
    steps = np.arange(size) - half
    offsets = (steps[:, None] * width + steps[None, :]).ravel()
    centres = (rows.astype(np.int64) + radius) * width + (cols.astype(np.int64) + radius)
    return image_padded.ravel()[centres[:, None] + offsets[None, :]]


def windowed_dot(
    image_padded: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    size: int,
    radius: int,
    weights: np.ndarray,
    bias: float = 0.0,
) -> np.ndarray:
    """``gather(...) @ weights + bias`` without building the (N, size*size) matrix.

    The product is accumulated one window offset at a time: each step is one
    vectorised take of N pixels and one axpy, so memory stays O(N) and the
    reads stay cache-friendly (about 3x faster than gathering the matrix).
    """
    width = image_padded.shape[1]
    flat = image_padded.ravel()
    centres = (rows.astype(np.int64) + radius) * width + (cols.astype(np.int64) + radius)
    total = np.full(rows.size, bias, np.float32)
    index = np.empty_like(centres)
    column = np.empty(rows.size, image_padded.dtype)
    half = size // 2
    weights = np.asarray(weights, np.float32).reshape(size, size)
    for dy in range(-half, half + 1):
        for dx in range(-half, half + 1):
            np.add(centres, dy * width + dx, out=index)
            np.take(flat, index, out=column)
            total += weights[dy + half, dx + half] * column
    return total
