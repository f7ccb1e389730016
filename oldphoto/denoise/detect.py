"""Find impulse-noise pixels: the paper's 4-neighbour test, an extreme-value rule, auto threshold.

The paper flags a pixel when the smallest absolute difference to its four
neighbours exceeds a threshold. Two same-valued impulses side by side hide each
other from that test (at 50% salt-and-pepper about two thirds of impulses have
such a twin), so extreme (pure black/white) pixels are flagged too -- except
where they belong to a genuine pure black or white region, which is told apart
by spatial coherence: a region is seeded where a whole window holds no pixel
that contradicts the extreme value, and grows through connected near-extreme
pixels. Pepper noise on a black region changes nothing, so leaving it alone is
free; salt on it is still caught by both tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.denoise.genuine import node_components, spared_indices
from oldphoto.denoise.windows import flat_nonzero, padded_index, window_offsets

#: Default threshold of the 4-neighbour test, on [0, 1] pixels; measured in docs/detect.md.
DEFAULT_THRESHOLD = 0.4
#: A pixel this close to 0 or 1 counts as extreme (half an 8-bit step).
EXTREME_TOLERANCE = 0.5 / 255.0
#: Pixels this close to an extreme value support a genuine extreme region.
REGION_TOLERANCE = 2.0 / 255.0
#: Speck rule: a 3x3 morphological top-hat deeper than this flags dust and scratches.
SPECK_SIZE, SPECK_DEPTH = 3, 0.25
#: Pixels per strip in the whole-image boolean passes: a strip's temporaries stay in cache.
STRIP_PIXELS = 1 << 17
#: Bounds for the automatic per-image threshold.
AUTO_MIN, AUTO_MAX, AUTO_QUANTILE = 0.15, 0.6, 0.999


@dataclass(frozen=True)
class DetectorSettings:
    """How :func:`detect_noise` decides; the defaults are the measured ones."""

    threshold: float = DEFAULT_THRESHOLD
    extreme_rule: bool = True
    auto_threshold: bool = False
    specks: bool = False


def min_neighbour_difference(grey: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """Smallest absolute difference between each pixel and its 4 neighbours.

    Neighbours outside the image, or marked in ``ignore`` (impulses already
    found), are left out; a pixel with no neighbour left gets 0, as there is no
    evidence against it. Mirroring the border instead would compare a pixel with
    itself and hide border impulses.
    """
    grey = np.asarray(grey, np.float32)
    source = grey if ignore is None else np.where(ignore, np.inf, grey)
    padded = np.pad(source, 1, mode="constant", constant_values=np.inf)
    out = np.abs(padded[:-2, 1:-1] - grey)
    scratch = np.empty_like(out)
    for neighbour in (padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
        np.subtract(neighbour, grey, out=scratch)
        np.abs(scratch, out=scratch)
        np.minimum(out, scratch, out=out)
    out[np.isinf(out)] = 0.0  # no neighbour left to compare with
    return out


def _window_sums(
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


def seed_window(density: float) -> int:
    """Smallest odd window in which a whole patch of noise alone is very unlikely.

    A window of n pixels holds no clean pixel by chance with probability
    density**n; we want that below 1e-5 so noise clusters do not seed regions.
    """
    for size in (3, 5, 7, 9, 11, 13):
        if density ** (size * size) < 1e-5:
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
    size = seed_window(density)
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
    own = own[_window_sums(polarity.contradicting, padded, own, size) == 0]
    if own.size == 0:
        return own
    return own[_window_sums(polarity.balance, padded, own, 3 * size) > 0]  # more near than opposite


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


def extreme_density(grey: np.ndarray, tile: int = 16, extreme: np.ndarray | None = None) -> float:
    """The impulse density salt-and-pepper implies: the lower quartile over tiles
    of the fraction of pure black or white pixels (``extreme``, when known).

    Noise is spread evenly, so any quantile of the tiles' fractions estimates its
    density; the lower quartile keeps genuine black or white regions (even ones
    covering half the photo) from inflating it, which would demand needlessly
    large seed windows and leave narrow genuine regions unprotected.
    """
    if extreme is None:
        extreme = (grey <= EXTREME_TOLERANCE) | (grey >= 1.0 - EXTREME_TOLERANCE)
    height, width = extreme.shape
    if height < 2 * tile or width < 2 * tile:
        return float(extreme.mean())
    rows, cols = height // tile, width // tile
    # Integer counts per tile, adding whole rows first (fast) and only then the
    # short runs along a row; count / tile**2 is exactly the mean.
    crop = extreme[: rows * tile, : cols * tile]
    per_column = crop.reshape(rows, tile, cols * tile).sum(axis=1, dtype=np.min_scalar_type(tile))
    counts = per_column.reshape(rows, cols, tile).sum(axis=2, dtype=np.int32)
    return float(np.quantile(counts / (tile * tile), 0.25))


def outlier_indices(grey: np.ndarray, ignore: np.ndarray | None, threshold: float) -> np.ndarray:
    """Flat indices of the pixels, not ignored, that the 4-neighbour test flags: where
    ``min_neighbour_difference(grey, ignore) > threshold``, for a threshold >= 0, faster.

    Such a pixel passes when no neighbour left (inside the image and not
    ignored) lies within the threshold of it, and at least one is left. Each
    difference is computed once per pair of neighbours and the rest is boolean,
    in strips of rows that stay in cache (several times faster than whole-image
    passes); only the few pixels without a near neighbour are then checked for
    having any neighbour left.
    """
    grey = np.asarray(grey, np.float32)
    height, width = grey.shape
    keep = None if ignore is None else ~np.asarray(ignore, bool)
    rows = max(1, STRIP_PIXELS // width)
    found = []
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        above, below = max(top - 1, 0), min(bottom + 1, height)
        strip_keep = None if keep is None else keep[above:below].ravel()
        lonely = ~_has_near_neighbour(grey[above:below].ravel(), strip_keep, width, threshold)
        inner = lonely[(top - above) * width : (bottom - above) * width]
        if keep is not None:
            inner &= keep[top:bottom].ravel()
        found.append(flat_nonzero(inner) + top * width)
    candidates = np.concatenate(found)
    flat_keep = None if keep is None else keep.ravel()
    return candidates[_has_neighbour_left(candidates, flat_keep, height, width)]


def _has_near_neighbour(
    flat: np.ndarray, keep: np.ndarray | None, width: int, threshold: float
) -> np.ndarray:
    """Whether each pixel of a flattened strip has a kept 4-neighbour within ``threshold``."""
    near = np.zeros(flat.size, bool)
    difference = np.empty(max(flat.size - 1, 0), np.float32)
    for step, across in ((1, True), (width, False)):
        if step >= flat.size:
            continue
        gap = np.subtract(flat[step:], flat[:-step], out=difference[: flat.size - step])
        close = ~(np.abs(gap, out=gap) > threshold)  # NaN counts as close, as in the minimum
        if across:
            close[width - 1 :: width] = False  # the pair wraps to the next row: not neighbours
        if keep is None:
            near[:-step] |= close
            near[step:] |= close
        else:
            near[:-step] |= close & keep[step:]
            near[step:] |= close & keep[:-step]
    return near


def _has_neighbour_left(pixels: np.ndarray, keep: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Whether each of ``pixels`` (flat indices) has a 4-neighbour inside the image and in ``keep``."""
    rows, cols = np.divmod(pixels, width)
    found = np.zeros(pixels.size, bool)
    sides = ((rows > 0, -width), (rows < height - 1, width), (cols > 0, -1), (cols < width - 1, 1))
    for inside, step in sides:
        if keep is not None:
            inside &= keep.take(np.where(inside, pixels + step, 0))
        found |= inside
    return found


def auto_threshold(grey: np.ndarray, difference: np.ndarray | None = None) -> float:
    """A per-image threshold for the 4-neighbour test: a false-alarm budget.

    The threshold is the 99.9th percentile of the smallest neighbour difference
    over pixels that are not extreme, so on a clean-looking photo at most about
    0.1% of them are flagged however fine its texture, and on a smooth one faint
    specks are still caught; it is kept within [AUTO_MIN, AUTO_MAX].
    """
    if difference is None:
        difference = min_neighbour_difference(grey)
    ordinary = (grey > EXTREME_TOLERANCE) & (grey < 1.0 - EXTREME_TOLERANCE)
    values = difference[ordinary] if ordinary.any() else difference.ravel()
    if values.size == 0:
        return DEFAULT_THRESHOLD
    return float(np.clip(np.quantile(values, AUTO_QUANTILE), AUTO_MIN, AUTO_MAX))


def speck_mask(grey: np.ndarray, impulses: np.ndarray) -> np.ndarray:
    """Dust specks and thin scratches: what a 3x3 opening or closing removes, by a margin.

    Specks of 2-3 pixels and 1-pixel scratches hide from the 4-neighbour test
    (each of their pixels has a like neighbour) and are rarely pure black or
    white. The top-hat is taken after the impulses already found are filled in,
    so that salt-and-pepper does not drown it.
    """
    from scipy.ndimage import grey_closing, grey_opening

    from oldphoto.denoise.classical import fill_from_clean

    filled = fill_from_clean(grey, impulses) if impulses.any() else grey
    dark = grey_closing(filled, size=SPECK_SIZE, mode="mirror") - filled > SPECK_DEPTH
    light = filled - grey_opening(filled, size=SPECK_SIZE, mode="mirror") > SPECK_DEPTH
    return dark | light


def detect_grey(grey: np.ndarray, settings: DetectorSettings = DetectorSettings()) -> np.ndarray:
    """Boolean noise mask of one grey image in [0, 1]."""
    grey = np.asarray(grey, np.float32)
    impulses = None
    if settings.extreme_rule:
        black, white = grey <= EXTREME_TOLERANCE, grey >= 1.0 - EXTREME_TOLERANCE
        impulses = black | white
        genuine = genuine_extreme_indices(grey, extreme_density(grey, extreme=impulses), (black, white))
        impulses.ravel()[genuine] = False
        rates = (extreme_density(grey, extreme=black), extreme_density(grey, extreme=white))
        impulses.ravel()[spared_indices(grey, impulses, black, white, rates)] = False
    # Impulses found by the extreme rule are no evidence about their neighbours:
    # without this, a clean pixel ringed by impulses would be flagged.
    if settings.auto_threshold or settings.threshold < 0:
        # The automatic threshold needs the differences themselves (and a negative
        # one would flag pixels with no neighbour left), so this takes the full image.
        difference = min_neighbour_difference(grey, ignore=impulses)
        threshold = auto_threshold(grey, difference) if settings.auto_threshold else settings.threshold
        mask = difference > threshold
        if impulses is not None:
            mask |= impulses
    else:
        mask = np.zeros(grey.shape, bool) if impulses is None else impulses  # ours to change
        mask.ravel()[outlier_indices(grey, impulses, settings.threshold)] = True
    if settings.specks:
        mask |= speck_mask(grey, mask)
    return mask


def detect_noise(
    pixels: np.ndarray, settings: DetectorSettings = DetectorSettings(), per_channel: bool = False
) -> np.ndarray:
    """Noise mask of a frame's pixels: (H, W) from luminance, or (H, W, 3) per channel.

    Luminance is the default because damage (dust, salt-and-pepper as ``age``
    makes it) hits all channels of a pixel at once, and because a saturated
    colour has legitimately extreme channels that a per-channel extreme rule
    would flag.
    """
    if pixels.ndim == 2:
        return detect_grey(pixels, settings)
    if per_channel:
        return np.stack([detect_grey(pixels[..., c], settings) for c in range(3)], axis=-1)
    return detect_grey(to_grey(pixels), settings)


def precision_recall(
    found: np.ndarray, truth: np.ndarray, changed: np.ndarray | None = None
) -> tuple[float, float]:
    """Precision and recall of a predicted mask (both 1.0 when there is nothing to find).

    With ``changed`` (pixels whose value the damage really altered), recall counts
    only those: salt on a pure white sky is in the true mask but harmless to miss.
    """
    found = np.asarray(found, bool)
    truth = np.asarray(truth, bool)
    if found.ndim == 3 and truth.ndim == 2:
        found = found.any(axis=-1)
    if truth.ndim == 3 and found.ndim == 2:
        truth = truth.any(axis=-1)
    hits = int(np.count_nonzero(found & truth))
    flagged = int(np.count_nonzero(found))
    precision = hits / flagged if flagged else 1.0
    if changed is not None:
        truth = truth & np.asarray(changed, bool).reshape(truth.shape)
        hits = int(np.count_nonzero(found & truth))
    real = int(np.count_nonzero(truth))
    recall = hits / real if real else 1.0
    return precision, recall
