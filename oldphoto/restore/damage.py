"""Finding dust and scratches on a scan, and filling them in.

Dust specks (up to ~7 px) and thin scratches (1-2 px) are what a small
morphological opening (light damage) or closing (dark damage) removes. The
top-hat is taken on the *denoised* image, where grain no longer hides them,
and thresholded with hysteresis: a faint pixel counts when it touches a strong
one, so a scratch whose shade drifts is found whole while faint texture is not.
Filling is normalised convolution: each masked pixel becomes the Gaussian-
weighted mean of the unmasked pixels around it, at growing scales until every
pixel has support.
"""

from __future__ import annotations

import numpy as np

#: Structuring element sides: 3 finds specks to 2 px and 1-px lines, 7 the bigger dust.
SIZES = (3, 7)
#: Hysteresis thresholds on the contrast score (on [0, 1]) for each size.
HIGH, LOW = (0.4, 0.45), (0.175, 0.25)
#: Component shapes that count as damage: specks up to MAX_SPECK px, lines at least
#: MIN_LINE px long and at most MAX_WIDTH px wide on average (WIDE_WIDTH on a grainy scan:
#: a grainless picture is most likely a clean digital photo, where thin dark or light
#: lines are real detail far more often than damage).
MAX_SPECK, MIN_LINE, MAX_WIDTH, WIDE_WIDTH = 24, 20, 1.5, 2.5
#: A long line (LONG_LINE px or more) needs only a seed above LINE_HIGH: a faint scratch.
LONG_LINE, LINE_HIGH = 40, 0.2
#: Seeds of dark damage must be darker than DARK_MAX, of light damage lighter than LIGHT_MIN.
DARK_MAX, LIGHT_MIN = 0.2, 0.8
#: The score is the top-hat minus CONTEXT times the local mean top-hat (clipped at CLIP,
#: over WINDOW px): texture has high top-hat everywhere, a speck on a smooth patch does not.
CONTEXT, CLIP, WINDOW = 5.0, 0.1, 21


def _tophats(clean: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """How much a size x size closing (dark damage) and opening (light damage) change each pixel."""
    from scipy.ndimage import grey_closing, grey_opening

    dark = grey_closing(clean, size=(size, size), mode="mirror") - clean  # size=: separable
    light = clean - grey_opening(clean, size=(size, size), mode="mirror")
    return dark, light


def _hysteresis(score: np.ndarray, seeds: np.ndarray, low: float, width: float,
                line_seeds: np.ndarray | None = None) -> np.ndarray:
    """Pixels above ``low`` connected (8-way) to a seed, in components shaped like damage:
    a small speck (at most MAX_SPECK pixels) or a thin line (mean width at most MAX_WIDTH
    across its longer side). Bigger blobs are texture or real detail."""
    from scipy.ndimage import find_objects, label

    labels, count = label(score > low, structure=np.ones((3, 3), bool))
    seeded = np.unique(labels[seeds])
    if line_seeds is not None:
        seeded = np.union1d(seeded, labels[line_seeds])
    seeded = seeded[seeded > 0]
    if count == 0 or len(seeded) == 0:
        return np.zeros(score.shape, bool)
    area = np.bincount(labels.ravel(), minlength=count + 1)[seeded]
    boxes = find_objects(labels)  # bounding boxes in one C pass; one entry per component
    span = np.array([max(boxes[i - 1][0].stop - boxes[i - 1][0].start,
                         boxes[i - 1][1].stop - boxes[i - 1][1].start) for i in seeded])
    thin = area <= width * span
    shaped = (area <= MAX_SPECK) | ((span >= MIN_LINE) & thin)
    if line_seeds is not None:  # a faint seed counts only in a long thin line: a scratch
        strong = np.isin(seeded, labels[seeds])
        shaped &= strong | ((span >= LONG_LINE) & thin)
    keep = np.zeros(count + 1, bool)
    keep[seeded[shaped]] = True
    return keep[labels]


def damage_mask(clean: np.ndarray, sizes: tuple[int, ...] = SIZES, grainy: bool = True) -> np.ndarray:
    """Boolean mask of dust specks and thin scratches on a denoised grey image
    (``grainy``: the scan had grain, so wider lines count as scratches too).

    A seed must also be near black (dark damage) or near white (light damage):
    dust and scratches are, while most fine texture sits in the mid-tones.
    """
    from scipy.ndimage import uniform_filter

    clean = np.asarray(clean, np.float32)
    mask = np.zeros(clean.shape, bool)
    for size, high, low in zip(sizes, HIGH, LOW, strict=False):
        for tophat, extreme in zip(_tophats(clean, size), (clean < DARK_MAX, clean > LIGHT_MIN),
                                   strict=True):
            score = tophat - CONTEXT * uniform_filter(np.minimum(tophat, CLIP), WINDOW, mode="mirror")
            mask |= _hysteresis(score, (score > high) & extreme, low,
                               WIDE_WIDTH if grainy else MAX_WIDTH,
                               score > LINE_HIGH if grainy and size == sizes[0] else None)
    return mask


def fill_masked(image: np.ndarray, mask: np.ndarray, scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
                ) -> np.ndarray:
    """Masked pixels replaced by a Gaussian-weighted mean of the unmasked ones near them."""
    from scipy.ndimage import gaussian_filter

    image = np.asarray(image, np.float32)
    mask = np.asarray(mask, bool)
    if not mask.any():
        return image.copy()
    valid = (~mask).astype(np.float32)
    out = image.copy()
    todo = mask.copy()
    for sigma in scales:
        weight = gaussian_filter(valid, sigma, mode="mirror")
        total = gaussian_filter(image * valid, sigma, mode="mirror")
        ready = todo & (weight > 0.05)
        out[ready] = total[ready] / weight[ready]
        todo &= ~ready
        if not todo.any():
            break
    if todo.any():
        out[todo] = float(image[~mask].mean()) if (~mask).any() else 0.5
    return out
