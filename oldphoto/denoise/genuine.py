"""Genuine pure black and white that the region rule cannot seed: lines, specks in shadows.

The region rule of :mod:`oldphoto.denoise.regions` protects an extreme pixel only
inside a whole window of its own value, so thin black lines, clipped specks in a
dark shadow and single white highlights were flagged as salt-and-pepper: on
photos with such pixels the detector's precision at 5% noise fell to 0.95.
Two tests, both asking whether noise alone would explain what is seen at the
density the image itself shows:

- *components*: 8-connected same-valued extreme pixels many enough that noise
  alone would make such a cluster less than once in a hundred images this size
  (only at low density: above about 15% clusters of any size arise by chance);
- *context*: an extreme pixel next to a pixel within a few levels of it (a
  shadow, a highlight), in a 9x9 window holding far more pixels of its value than
  the noise's density explains (Poisson tail below 1e-4).

Sparing a pepper impulse in a shadow costs a few levels at most; flagging a
genuine black pixel there, a few too -- but as precision, on every such photo.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oldphoto.denoise.windows import EXTREME_TOLERANCE, flat_nonzero, padded_index, window_sums

#: Context pixels are within this of 0 or 1 (extreme ones within EXTREME_TOLERANCE).
CONTEXT_TOLERANCE = 3.0 / 255.0
CONTEXT_WINDOW = 9
#: Chance allowed for noise alone to explain a window's count, or a cluster per image.
CONTEXT_ALPHA, CLUSTER_BUDGET = 1e-4, 0.01
#: Growth rate of the number of 8-connected pixel clusters with their size (about 6.5 for
#: the king's lattice); clusters of size s arise about pixels * (GROWTH * p)**s times.
GROWTH = 6.5


def spared_indices(
    grey: np.ndarray, flagged: np.ndarray, black: np.ndarray, white: np.ndarray,
    density: tuple[float, float],
) -> np.ndarray:
    """Flat indices of the extreme pixels in ``flagged`` that are genuine by either test.

    ``density`` is the (pepper, salt) density the image shows, e.g. from
    :func:`oldphoto.denoise.detect.extreme_density` on each mask. The work
    follows the extreme pixels: one padded copy of the image, then gathers.
    """
    width = grey.shape[1]
    padded = np.pad(grey, CONTEXT_WINDOW // 2, mode="constant", constant_values=np.nan)
    found = []
    for own, polarity, rate in ((black, _BLACK, density[0]), (white, _WHITE, density[1])):
        candidates = flat_nonzero(own & flagged)
        if candidates.size == 0:
            continue
        centres = padded_index(candidates, width, CONTEXT_WINDOW // 2)
        social, near = _neighbour_tests(padded, centres, polarity)
        clustered = np.zeros(candidates.size, bool)
        smallest = cluster_size(rate, grey.size)
        if smallest is not None and social.any():
            clustered[social] = _in_large_clusters(centres[social], padded.shape[1], smallest)
        found.append(candidates[clustered])
        rest = np.flatnonzero(near & ~clustered)
        found.append(candidates[rest[_in_context(padded, grey.shape, centres[rest], rate, polarity)]])
    return np.concatenate(found) if found else np.zeros(0, np.int64)


@dataclass(frozen=True)
class _Values:
    """Value tests for one extreme; NaN (outside the image) passes neither."""

    own: Callable[[np.ndarray], np.ndarray]
    near: Callable[[np.ndarray], np.ndarray]


_BLACK = _Values(
    own=lambda v: v <= EXTREME_TOLERANCE,
    near=lambda v: (v > EXTREME_TOLERANCE) & (v <= CONTEXT_TOLERANCE),
)
_WHITE = _Values(
    own=lambda v: v >= 1.0 - EXTREME_TOLERANCE,
    near=lambda v: (v < 1.0 - EXTREME_TOLERANCE) & (v >= 1.0 - CONTEXT_TOLERANCE),
)
#: Flat steps to the 8 neighbours are built per padded width; these are (row, col) steps.
_AROUND = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _neighbour_tests(padded: np.ndarray, centres: np.ndarray, values: _Values):
    """Whether each of ``centres`` (flat, padded) has an own-valued 8-neighbour, and a near one."""
    flat, width = padded.ravel(), padded.shape[1]
    own = np.zeros(centres.size, bool)
    near = np.zeros(centres.size, bool)
    for dr, dc in _AROUND:
        around = flat.take(centres + dr * width + dc)
        own |= values.own(around)
        near |= values.near(around)
    return own, near


def cluster_size(rate: float, pixels: int) -> int | None:
    """Smallest cluster noise of this density makes less than CLUSTER_BUDGET times
    in an image of ``pixels``; None when clusters of any size are likely."""
    growth = GROWTH * rate
    if growth >= 0.5:
        return None
    if growth <= 0.0:
        return 2
    return max(2, math.ceil(math.log(CLUSTER_BUDGET / pixels) / math.log(growth)))


def _in_large_clusters(nodes: np.ndarray, width: int, smallest: int) -> np.ndarray:
    """Whether each of ``nodes`` (sorted flat indices into an image ``width`` wide, padded
    so that rows do not touch) lies in an 8-connected cluster of at least ``smallest`` of them."""
    labels = node_components(nodes, (1, width - 1, width, width + 1))  # each link once, forwards
    return (np.bincount(labels) >= smallest)[labels]


def node_components(nodes: np.ndarray, steps: tuple[int, ...]) -> np.ndarray:
    """Connected-component labels of sorted flat indices ``nodes``, each linked to the
    node ``step`` after it for each of ``steps`` (where that node exists)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    starts, ends = [], []
    for step in steps:
        target = np.searchsorted(nodes, nodes + step)
        linked = np.flatnonzero(nodes[np.minimum(target, nodes.size - 1)] == nodes + step)
        starts.append(linked)
        ends.append(target[linked])
    links = (np.concatenate(starts), np.concatenate(ends))
    graph = coo_matrix((np.ones(links[0].size, np.int8), links), shape=(nodes.size, nodes.size))
    return connected_components(graph, directed=False)[1]


def poisson_tail_start(mean: float, alpha: float) -> int:
    """Smallest n with P(X >= n) < alpha for X ~ Poisson(mean)."""
    term = math.exp(-mean)
    below, n = term, 0  # P(X <= n)
    while 1.0 - below >= alpha:
        n += 1
        term *= mean / n
        below += term
    return n + 1


def _in_context(
    padded: np.ndarray, shape: tuple[int, int], centres: np.ndarray, rate: float, values: _Values
) -> np.ndarray:
    """Whether the 9x9 window of each of ``centres`` holds more of its own value than
    noise of this density explains (windows clipped at the border, and the expectation too)."""
    if centres.size == 0:
        return np.zeros(0, bool)
    inside = window_sums(values.own, padded, centres, CONTEXT_WINDOW).astype(np.int64)
    width, half = padded.shape[1], CONTEXT_WINDOW // 2
    rows, cols = np.divmod(centres, width)
    rows, cols = rows - half, cols - half
    tall = np.minimum(rows + half + 1, shape[0]) - np.maximum(rows - half, 0)
    wide = np.minimum(cols + half + 1, shape[1]) - np.maximum(cols - half, 0)
    areas, which = np.unique(tall * wide, return_inverse=True)
    needed = np.array([poisson_tail_start(rate * a, CONTEXT_ALPHA) for a in areas])[which]
    return inside >= needed
