"""Find impulse-noise pixels: the paper's 4-neighbour test, an extreme-value rule, auto threshold.

The paper flags a pixel when the smallest absolute difference to its four
neighbours exceeds a threshold. Two same-valued impulses side by side hide each
other from that test (at 50% salt-and-pepper about two thirds of impulses have
such a twin), so extreme (pure black/white) pixels are flagged too -- except
where they belong to a genuine pure black or white region, which is told apart
by spatial coherence: a region is seeded where a whole window holds no pixel
that contradicts the extreme value, and grows through connected near-extreme
pixels (:mod:`oldphoto.denoise.regions`). Pepper noise on a black region
changes nothing, so leaving it alone is free; salt on it is still caught by
both tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.denoise.classical import extreme_mask
from oldphoto.denoise.genuine import spared_indices
from oldphoto.denoise.regions import (  # noqa: F401  (public here too: tests and benches)
    REGION_TOLERANCE,
    genuine_extreme_indices,
    genuine_extreme_pixels,
    seed_window,
)
from oldphoto.denoise.windows import EXTREME_TOLERANCE, flat_nonzero

#: Default threshold of the 4-neighbour test, on [0, 1] pixels; measured in docs/detect.md.
DEFAULT_THRESHOLD = 0.4
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


def extreme_density(grey: np.ndarray, tile: int = 16, extreme: np.ndarray | None = None) -> float:
    """The impulse density salt-and-pepper implies: the lower quartile over tiles
    of the fraction of pure black or white pixels (``extreme``, when known).

    Noise is spread evenly, so any quantile of the tiles' fractions estimates its
    density; the lower quartile keeps genuine black or white regions (even ones
    covering half the photo) from inflating it, which would demand needlessly
    large seed windows and leave narrow genuine regions unprotected.
    """
    if extreme is None:
        extreme = extreme_mask(grey)
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
    ordinary = ~extreme_mask(grey)
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
