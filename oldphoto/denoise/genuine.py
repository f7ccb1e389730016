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

import numpy as np

from oldphoto.denoise.windows import flat_nonzero, padded_index, window_sums

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
    :func:`oldphoto.denoise.detect.extreme_density` on each mask. One padded
    byte image of value classes (:func:`class_bits`) serves both extremes; the
    rest follows the extreme pixels: 8 one-byte gathers each, then the few
    pixels either test still concerns.
    """
    width = grey.shape[1]
    bits = class_bits(grey, black, white, CONTEXT_WINDOW // 2)
    flat, padded_width = bits.ravel(), bits.shape[1]
    steps = _steps(padded_width)
    found = []
    for own, (own_bit, near_bit), rate in ((black, _BLACK, density[0]), (white, _WHITE, density[1])):
        candidates = flat_nonzero(own & flagged)
        if candidates.size == 0:
            continue
        centres = padded_index(candidates, width, CONTEXT_WINDOW // 2)
        around = np.zeros(centres.size, np.uint8)
        degree = np.zeros(centres.size, np.uint8)
        for step in steps:
            value = flat.take(centres + step)
            around |= value
            value &= own_bit
            degree += value
        degree //= own_bit  # own-valued 8-neighbours
        clustered = np.zeros(candidates.size, bool)
        smallest = cluster_size(rate, grey.size)
        if smallest is not None and degree.any():
            clustered = _in_large_clusters(centres, degree, flat, own_bit, steps, smallest)
        found.append(candidates[clustered])
        rest = np.flatnonzero(((around & near_bit) != 0) & ~clustered)
        found.append(candidates[rest[_in_context(bits, grey.shape, centres[rest], rate, own_bit)]])
    return np.concatenate(found) if found else np.zeros(0, np.int64)


#: Bits of :func:`class_bits`: (own, near) for black, then for white.
_BLACK, _WHITE = (1, 2), (4, 8)
#: A spare bit of the same image, set and cleared again by :func:`_in_large_clusters`.
_MARK = 16


def class_bits(grey: np.ndarray, black: np.ndarray, white: np.ndarray, pad: int) -> np.ndarray:
    """A uint8 image, padded by ``pad`` with 0, of each pixel's class as bits: 1 black,
    2 near black (within CONTEXT_TOLERANCE, not black), 4 white, 8 near white.

    Two whole-image comparisons replace a float gather and two comparisons per
    neighbour of every extreme pixel, and bytes are a quarter of the traffic.
    """
    height, width = grey.shape
    bits = np.zeros((height + 2 * pad, width + 2 * pad), np.uint8)
    low = np.less_equal(grey, CONTEXT_TOLERANCE).view(np.uint8)
    low += low
    low -= black.view(np.uint8)  # 1 black, 2 near black
    high = np.greater_equal(grey, 1.0 - CONTEXT_TOLERANCE).view(np.uint8)
    high += high
    high -= white.view(np.uint8)
    high <<= 2  # 4 white, 8 near white
    low |= high
    bits[pad : pad + height, pad : pad + width] = low
    return bits


def _steps(width: int) -> list[int]:
    """Flat steps to the 8 neighbours in an array ``width`` wide."""
    return [dr * width + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]


def cluster_size(rate: float, pixels: int) -> int | None:
    """Smallest cluster noise of this density makes less than CLUSTER_BUDGET times
    in an image of ``pixels``; None when clusters of any size are likely."""
    growth = GROWTH * rate
    if growth >= 0.5:
        return None
    if growth <= 0.0:
        return 2
    return max(2, math.ceil(math.log(CLUSTER_BUDGET / pixels) / math.log(growth)))


def _in_large_clusters(
    centres: np.ndarray, degree: np.ndarray, flat: np.ndarray, own_bit: int, steps: list[int],
    smallest: int,
) -> np.ndarray:
    """Whether each of ``centres`` (sorted flat indices into the padded ``flat`` bits,
    whose own-valued 8-neighbours number ``degree``) lies in an 8-connected cluster of
    at least ``smallest`` own-valued pixels.

    A cluster of 3 or more has a pixel with 2 own neighbours, and each of its
    pixels is one or touches one; so only those (a few percent of the noise) and
    their own-valued neighbours enter the graph, not every pair of impulses.
    """
    if smallest <= 2:
        nodes = centres[degree > 0]
    else:
        hubs = centres[degree >= 2]
        if hubs.size == 0:
            return np.zeros(centres.size, bool)
        # Mark the hubs and their own-valued neighbours in a spare bit, read the
        # mark back at the (sorted, flagged) centres, and clear it: no sorting.
        reach = (hubs[:, None] + np.asarray(steps)).ravel()
        reach = np.concatenate([hubs, reach[(flat.take(reach) & own_bit) != 0]])
        flat[reach] |= _MARK
        nodes = centres[(flat.take(centres) & _MARK) != 0]
        flat[reach] &= ~np.uint8(_MARK)
    width = steps[-1] - 1  # the step down-right is width + 1
    labels = node_components(nodes, (1, width - 1, width, width + 1))  # each link once, forwards
    large = nodes[(np.bincount(labels) >= smallest)[labels]]
    if large.size == 0:
        return np.zeros(centres.size, bool)
    return large[np.minimum(np.searchsorted(large, centres), large.size - 1)] == centres


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
    bits: np.ndarray, shape: tuple[int, int], centres: np.ndarray, rate: float, own_bit: int
) -> np.ndarray:
    """Whether the 9x9 window of each of ``centres`` holds more of its own value than
    noise of this density explains (windows clipped at the border, and the expectation too)."""
    if centres.size == 0:
        return np.zeros(0, bool)
    inside = window_sums(lambda v: (v & own_bit) != 0, bits, centres, CONTEXT_WINDOW).astype(np.int64)
    width, half = bits.shape[1], CONTEXT_WINDOW // 2
    rows, cols = np.divmod(centres, width)
    rows, cols = rows - half, cols - half
    tall = np.minimum(rows + half + 1, shape[0]) - np.maximum(rows - half, 0)
    wide = np.minimum(cols + half + 1, shape[1]) - np.maximum(cols - half, 0)
    areas, which = np.unique(tall * wide, return_inverse=True)
    needed = np.array([poisson_tail_start(rate * a, CONTEXT_ALPHA) for a in areas])[which]
    return inside >= needed
