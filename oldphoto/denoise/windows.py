"""Gather square windows around chosen pixels without Python loops over pixels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: A pixel this close to 0 or 1 counts as extreme (half an 8-bit step), for the
#: detector, the genuine-extreme tests and DAMF alike.
EXTREME_TOLERANCE = 0.5 / 255.0
#: Pixels gathered per block: a block's windows span a few image rows that stay in cache.
CHUNK = 16384


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


def padded_index(flat: np.ndarray, width: int, radius: int) -> np.ndarray:
    """Flat indices into an image ``width`` wide -> the same pixels' once it is padded by ``radius``."""
    return flat + (flat // width) * (2 * radius) + radius * (width + 2 * radius) + radius


def window_offsets(size: int, width: int) -> np.ndarray:
    """Flat offsets of a size x size window's pixels, row by row, in an array ``width`` wide."""
    steps = np.arange(size) - size // 2
    return (steps[:, None] * width + steps[None, :]).ravel()


def windowed_dot(
    image_padded: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    size: int,
    radius: int,
    weights: np.ndarray,
    bias: float = 0.0,
) -> np.ndarray:
    """``gather(...) @ weights + bias`` without building the (N, size*size) matrix."""
    width = image_padded.shape[1]
    centres = (rows.astype(np.int64) + radius) * width + (cols.astype(np.int64) + radius)
    return windowed_dot_at(image_padded, centres, window_offsets(size, width), weights, bias)


def windowed_dot_at(
    image_padded: np.ndarray, centres: np.ndarray, offsets: np.ndarray, weights: np.ndarray,
    bias: float = 0.0,
) -> np.ndarray:
    """The windows at flat indices ``centres`` (pixels at ``offsets``) dotted with ``weights``.

    The product is accumulated one window offset at a time (one take and one
    axpy each, into preallocated arrays, so memory stays O(N); about 3x faster
    than gathering the N x w*w matrix), and ``CHUNK`` centres at a time, so the
    few image rows a chunk's windows touch stay in cache across all offsets.
    Each offset reads a shifted view, so no index arithmetic is repeated.
    """
    shifted, views = shifted_views(image_padded, centres, offsets)
    total = np.full(centres.size, bias, np.float32)
    column = np.empty(min(CHUNK, centres.size), image_padded.dtype)
    weights = np.asarray(weights, np.float32).ravel()
    for start in range(0, centres.size, CHUNK):
        index, part = shifted[start : start + CHUNK], total[start : start + CHUNK]
        values = column[: index.size]
        for view, weight in zip(views, weights, strict=True):
            view.take(index, out=values, mode="wrap")
            values *= weight
            part += values
    return total


def shifted_views(
    image_padded: np.ndarray, centres: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Indices and flat views such that ``views[k][indices] == flat[centres + offsets[k]]``.

    The views start at the offsets, so a gather needs no index addition; valid
    indices are the caller's promise (``take`` runs with ``mode="wrap"``, unchecked).
    """
    flat = image_padded.ravel()
    base = -int(np.min(offsets))
    return centres - base, [flat[offset + base :] for offset in np.asarray(offsets).tolist()]


def flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` for a boolean mask, fast also when it is sparse but scattered.

    Below 10% density numpy switches to a branchy loop that costs 4x more on
    scattered pixels (salt-and-pepper) than its dense one. Finding the non-zero
    8-pixel words first keeps both steps above that density.
    """
    flat = np.ascontiguousarray(mask, bool).ravel()
    count = np.count_nonzero(flat)
    if count * 10 >= flat.size or flat.size < 64:
        return np.flatnonzero(flat)
    whole = flat.size - flat.size % 8
    packed = flat[:whole].view(np.uint64)
    words = np.flatnonzero(packed != 0)
    bits = np.flatnonzero(packed.take(words).view(bool))
    found = words.take(bits >> 3) * 8 + (bits & 7)
    if whole < flat.size:
        found = np.concatenate([found, whole + np.flatnonzero(flat[whole:])])
    return found


def refresh_mirror(image_padded: np.ndarray, radius: int) -> None:
    """Redo :func:`padded`'s mirrored border in place after pixels inside changed."""
    r = radius
    height, width = image_padded.shape[0] - 2 * r, image_padded.shape[1] - 2 * r
    if height < r or width < r:  # tiny image: the mirror reflects more than once
        image_padded[...] = padded(image_padded[r : r + height, r : r + width], r)
        return
    image_padded[:r] = image_padded[r : 2 * r][::-1]
    image_padded[-r:] = image_padded[-2 * r : -r][::-1]
    image_padded[:, :r] = image_padded[:, r : 2 * r][:, ::-1]
    image_padded[:, -r:] = image_padded[:, -2 * r : -r][:, ::-1]


def window_sums(
    score: Callable[[np.ndarray], np.ndarray], padded: np.ndarray, centres: np.ndarray, size: int
) -> np.ndarray:
    """Sums of ``score`` (bool, or int8 in -1..1) over the size x size windows at ``centres``.

    ``padded`` is the grey image padded with NaN (which scores nothing, so
    windows are clipped at the borders for free) and ``centres`` are flat
    indices into it. Few queries gather their windows' values directly; many
    take running sums along the rows the windows cover (one fast pass), and
    each window adds up its rows' spans from those, so only candidates pay.
    The running sums are uint16 and wrap around: window sums stay exact (they
    are far below 2**15) at half the memory traffic of int32.
    """
    width = padded.shape[1]
    half = size // 2
    if centres.size * size * size * 8 <= padded.size:
        windows = padded.ravel()[centres[:, None] + window_offsets(size, width)]
        return score(windows).sum(axis=1, dtype=np.int32)
    rows, cols = np.divmod(centres, width)
    top = rows.min() - half
    band = padded[top : rows.max() + half + 1]  # whole rows: contiguous, so the score is fast
    runs = np.zeros((band.shape[0], width + 1), np.uint16)
    np.cumsum(score(band), axis=1, dtype=np.uint16, out=runs[:, 1:])
    flat, stride = runs.ravel(), width + 1
    first = (rows - top - half) * stride + (cols - half)  # each window's top-left
    sums = np.zeros(centres.size, np.uint16)
    for row in range(size):
        start = first + row * stride
        sums += flat.take(start + size)
        sums -= flat.take(start)
    return sums.view(np.int16)
