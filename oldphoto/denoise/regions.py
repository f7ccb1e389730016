"""The region rule: which pure black or white pixels belong to a genuine region.

An extreme pixel is noise unless it sits in a real pure black or white area,
told apart by spatial coherence: a region is seeded where a whole window holds
no pixel contradicting the extreme value, and grows through connected
near-extreme pixels. :mod:`oldphoto.denoise.detect` applies it before flagging
extremes; :mod:`oldphoto.denoise.genuine` handles what it cannot seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oldphoto.denoise.genuine import node_components
from oldphoto.denoise.windows import (
    EXTREME_TOLERANCE,
    flat_nonzero,
    padded_index,
    window_offsets,
    window_sums,
)

#: Pixels this close to an extreme value support a genuine extreme region.
REGION_TOLERANCE = 2.0 / 255.0


@dataclass(frozen=True)
class _Polarity:
    """Pixel classes for one extreme (black or white) as value tests; NaN passes none.

    A pixel contradicts the extreme when it is neither near it nor at the
    opposite one: strictly between the two, so two comparisons.
    """

    own: Callable[[np.ndarray], np.ndarray]
    near: Callable[[np.ndarray], np.ndarray]
    opposite: Callable[[np.ndarray], np.ndarray]
    contradicting: Callable[[np.ndarray], np.ndarray]

    def balance(self, values: np.ndarray) -> np.ndarray:
        """+1 near this extreme, -1 at the opposite one, 0 otherwise (int8)."""
        return self.near(values).view(np.int8) - self.opposite(values).view(np.int8)


_BLACK = _Polarity(
    own=lambda v: v <= EXTREME_TOLERANCE,
    near=lambda v: v <= REGION_TOLERANCE,
    opposite=lambda v: v >= 1.0 - EXTREME_TOLERANCE,
    contradicting=lambda v: (v > REGION_TOLERANCE) & (v < 1.0 - EXTREME_TOLERANCE),
)
_WHITE = _Polarity(
    own=lambda v: v >= 1.0 - EXTREME_TOLERANCE,
    near=lambda v: v >= 1.0 - REGION_TOLERANCE,
    opposite=lambda v: v <= EXTREME_TOLERANCE,
    contradicting=lambda v: (v < 1.0 - REGION_TOLERANCE) & (v > EXTREME_TOLERANCE),
)


#: Expected number of windows per image that noise alone may fill (a false seed).
SEED_BUDGET = 0.01
#: The reference image size for :func:`seed_window` when none is given (BSD68's 481x321).
REFERENCE_PIXELS = 481 * 321


def seed_window(density: float, pixels: int = REFERENCE_PIXELS) -> int:
    """Smallest odd window that noise alone fills in fewer than SEED_BUDGET places per image.

    A window of n pixels holds no clean pixel by chance with probability
    density**n, and an image holds about ``pixels`` windows. The budget is per
    image, not per window: at 30% density a 3x3 window is all noise once in
    70,000 places, so a BSD68 photo had about two false seeds, and each spared
    a cluster of impulses worth up to 3 dB (issue 19).
    """
    for size in (3, 5, 7, 9, 11, 13):
        if density ** (size * size) * max(pixels, 1) < SEED_BUDGET:
            return size
    return 15


def genuine_extreme_pixels(grey: np.ndarray, density: float) -> np.ndarray:
    """Boolean image of :func:`genuine_extreme_indices`."""
    grey = np.asarray(grey, np.float32)
    protected = np.zeros(grey.shape, bool)
    protected.ravel()[genuine_extreme_indices(grey, density)] = True
    return protected


def genuine_extreme_indices(
    grey: np.ndarray, density: float, extremes: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Flat indices of the extreme pixels that belong to a real pure black or white region.

    A seed is an extreme pixel whose window holds no pixel contradicting its
    value (anything neither near it nor at the opposite extreme) and, in a
    window three times wider, more of its own value than of the opposite one
    (at high density a white region is nearly half pepper, and only a wide
    majority tells which extreme the region really is). Regions grow from seeds through
    4-connected pixels near the extreme value, but only inside the seeds' own
    windows (which hold no contradicting pixel): at high density, impulses of
    the same value touch the region and would otherwise carry the protection
    out into the noise around it.

    Only extreme pixels are examined, so the cost follows them, not the image;
    ``extremes`` are the (black, white) masks when the caller has them.
    """
    grey = np.asarray(grey, np.float32)
    size = seed_window(density, grey.size)
    radius = (3 * size) // 2
    padded = np.pad(grey, radius, mode="constant", constant_values=np.nan)
    found = []
    for index, polarity in enumerate((_BLACK, _WHITE)):
        own = polarity.own(grey) if extremes is None else extremes[index]
        seeds = _seeds(padded, padded_index(flat_nonzero(own), grey.shape[1], radius), size, polarity)
        if seeds.size:
            found.append(_grow(padded, seeds, size, polarity))
    if not found:
        return np.zeros(0, np.int64)
    return _unpadded_index(np.concatenate(found), grey.shape[1], radius)


def _unpadded_index(flat: np.ndarray, width: int, radius: int) -> np.ndarray:
    """Inverse of :func:`~oldphoto.denoise.windows.padded_index` (for pixels inside the image)."""
    rows, cols = np.divmod(flat, width + 2 * radius)
    return (rows - radius) * width + (cols - radius)


def _seeds(padded: np.ndarray, own: np.ndarray, size: int, polarity: _Polarity) -> np.ndarray:
    """The pixels among ``own`` (flat indices into ``padded``) that seed a genuine region."""
    if own.size == 0:
        return own
    # Cheap screen first: a seed cannot have a contradicting 4-neighbour. In a
    # photo without genuine regions this leaves almost nothing to count.
    # One neighbour at a time, so each look costs only what the last one left.
    flat, width = padded.ravel(), padded.shape[1]
    for step in (1, -1, width, -width):
        own = own[~polarity.contradicting(flat.take(own + step))]
        if own.size == 0:
            return own
    own = own[window_sums(polarity.contradicting, padded, own, size) == 0]
    if own.size == 0:
        return own
    return own[window_sums(polarity.balance, padded, own, 3 * size) > 0]  # more near than opposite


def _grow(padded: np.ndarray, seeds: np.ndarray, size: int, polarity: _Polarity) -> np.ndarray:
    """Own-valued pixels 4-connected to ``seeds`` through near pixels within the seeds' windows.

    Few seeds: the connected components of the (small) set of near pixels in
    their windows. Many (a large genuine region): a labelling of the seeds'
    bounding box. Both give the same flat indices into ``padded``.
    """
    if seeds.size * size * size * 16 > padded.size:
        return _grow_dense(padded, seeds, size, polarity)
    return _grow_sparse(padded, seeds, size, polarity)


def _grow_sparse(padded: np.ndarray, seeds: np.ndarray, size: int, polarity: _Polarity) -> np.ndarray:
    """:func:`_grow` as a graph of the near pixels in the seeds' windows, linked to 4-neighbours."""
    width = padded.shape[1]
    offsets = window_offsets(size, width)
    reach = np.unique((seeds[:, None] + offsets).ravel())
    nodes = reach[polarity.near(padded.ravel()[reach])]  # NaN (outside) is never near
    labels = node_components(nodes, (1, width))
    seeded = np.zeros(labels.max() + 1, bool)
    seeded[labels[np.searchsorted(nodes, seeds)]] = True
    region = nodes[seeded[labels]]
    return region[polarity.own(padded.ravel()[region])]


def _grow_dense(padded: np.ndarray, seeds: np.ndarray, size: int, polarity: _Polarity) -> np.ndarray:
    """:func:`_grow` over the box around the seeds' windows: the connected components
    of the near pixels there that hold a seed (scipy's binary propagation from
    the seeds, but in one labelling pass)."""
    from scipy.ndimage import label

    width, half = padded.shape[1], size // 2
    rows, cols = np.divmod(seeds, width)
    top, left = rows.min() - half, cols.min() - half
    box = padded[top : rows.max() + half + 1, left : cols.max() + half + 1]
    marked = np.zeros(box.shape, bool)
    marked[rows - top, cols - left] = True
    labels, count = label(polarity.near(box) & _dilate(marked, half))
    seeded = np.zeros(count + 1, bool)
    seeded[labels[rows - top, cols - left]] = True
    own = flat_nonzero(polarity.own(box))
    own = own[seeded[labels.ravel()[own]]]
    box_rows, box_cols = np.divmod(own, box.shape[1])
    return (box_rows + top) * width + (box_cols + left)


def _dilate(marked: np.ndarray, half: int) -> np.ndarray:
    """Pixels within ``half`` (Chebyshev distance) of a marked one: shifted ORs, rows then columns."""
    wide = marked.copy()
    for step in range(1, half + 1):
        wide[:, step:] |= marked[:, :-step]
        wide[:, :-step] |= marked[:, step:]
    out = wide.copy()
    for step in range(1, half + 1):
        out[step:] |= wide[:-step]
        out[:-step] |= wide[step:]
    return out
