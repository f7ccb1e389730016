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

from dataclasses import dataclass

import numpy as np

from oldphoto.aging import to_grey

#: Default threshold of the 4-neighbour test, on [0, 1] pixels; measured in docs/detect.md.
DEFAULT_THRESHOLD = 0.4
#: A pixel this close to 0 or 1 counts as extreme (half an 8-bit step).
EXTREME_TOLERANCE = 0.5 / 255.0
#: Pixels this close to an extreme value support a genuine extreme region.
REGION_TOLERANCE = 2.0 / 255.0
#: Speck rule: a 3x3 morphological top-hat deeper than this flags dust and scratches.
SPECK_SIZE, SPECK_DEPTH = 3, 0.25
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


def _window_counts(indicator: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """How many True pixels the size x size windows at (rows, cols) hold (clipped at borders).

    Few queries gather their windows directly; many use a summed-area table
    (two cumulative sums, then four look-ups a query), so only candidates pay.
    """
    half = size // 2
    if rows.size * size * size <= indicator.size:
        from oldphoto.denoise.windows import gather

        padded = np.pad(indicator.astype(np.uint8), half, mode="constant")
        return gather(padded, rows, cols, size, half).sum(axis=1, dtype=np.int32)
    height, width = indicator.shape
    table = np.zeros((height + 1, width + 1), np.int32)
    np.cumsum(indicator, axis=0, dtype=np.int32, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    top, bottom = np.clip(rows - half, 0, height), np.clip(rows + half + 1, 0, height)
    left, right = np.clip(cols - half, 0, width), np.clip(cols + half + 1, 0, width)
    return table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]


def _has_no_neighbour_in(indicator: np.ndarray) -> np.ndarray:
    """Pixels none of whose 4 neighbours is in ``indicator`` (a cheap first screen)."""
    padded = np.pad(indicator, 1, mode="constant", constant_values=False)
    return ~(padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:])


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
    """Extreme pixels that belong to a real pure black or pure white region.

    A seed is an extreme pixel whose window holds no pixel contradicting its
    value (anything neither near it nor at the opposite extreme) and, in a
    window three times wider, more of its own value than of the opposite one
    (at high density a white region is nearly half pepper, and only a wide
    majority tells which extreme the region really is). Regions grow from seeds through
    4-connected pixels near the extreme value, but only inside the seeds' own
    windows (which hold no contradicting pixel): at high density, impulses of
    the same value touch the region and would otherwise carry the protection
    out into the noise around it.
    """
    from scipy.ndimage import binary_propagation, maximum_filter

    low = grey <= EXTREME_TOLERANCE
    high = grey >= 1.0 - EXTREME_TOLERANCE
    size = seed_window(density)
    protected = np.zeros(grey.shape, bool)
    for own, opposite, near in (
        (low, high, grey <= REGION_TOLERANCE),
        (high, low, grey >= 1.0 - REGION_TOLERANCE),
    ):
        if not own.any():
            continue
        contradicting = ~near & ~opposite
        # Cheap screen first: a seed cannot have a contradicting 4-neighbour. In a
        # photo without genuine regions this leaves almost nothing to count.
        rows, cols = np.nonzero(own & _has_no_neighbour_in(contradicting))
        if rows.size == 0:
            continue
        free = _window_counts(contradicting, rows, cols, size) == 0
        rows, cols = rows[free], cols[free]
        if rows.size == 0:
            continue
        wide = 3 * size
        majority = _window_counts(near, rows, cols, wide) > _window_counts(
            opposite, rows, cols, wide
        )
        seeds = np.zeros(grey.shape, bool)
        seeds[rows[majority], cols[majority]] = True
        if seeds.any():
            reach = maximum_filter(seeds, size=size, mode="constant")
            region = binary_propagation(seeds, mask=near & reach)
            protected |= region & own
    return protected


def extreme_density(grey: np.ndarray, tile: int = 16) -> float:
    """The impulse density salt-and-pepper implies: the lower quartile over tiles
    of the fraction of pure black or white pixels.

    Noise is spread evenly, so any quantile of the tiles' fractions estimates its
    density; the lower quartile keeps genuine black or white regions (even ones
    covering half the photo) from inflating it, which would demand needlessly
    large seed windows and leave narrow genuine regions unprotected.
    """
    extreme = (grey <= EXTREME_TOLERANCE) | (grey >= 1.0 - EXTREME_TOLERANCE)
    height, width = extreme.shape
    if height < 2 * tile or width < 2 * tile:
        return float(extreme.mean())
    rows, cols = height // tile, width // tile
    fractions = extreme[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile).mean(axis=(1, 3))
    return float(np.quantile(fractions, 0.25))


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
        extreme = (grey <= EXTREME_TOLERANCE) | (grey >= 1.0 - EXTREME_TOLERANCE)
        impulses = extreme & ~genuine_extreme_pixels(grey, extreme_density(grey))
    # Impulses found by the extreme rule are no evidence about their neighbours:
    # without this, a clean pixel ringed by impulses would be flagged.
    difference = min_neighbour_difference(grey, ignore=impulses)
    threshold = auto_threshold(grey, difference) if settings.auto_threshold else settings.threshold
    mask = difference > threshold
    if impulses is not None:
        mask |= impulses
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
