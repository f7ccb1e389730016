"""Classical impulse-noise filters: 3x3 median, adaptive median, and DAMF (Erkan et al. 2018).

They are baselines the bench runs in the same process, and fast filters in their
own right. ``fill_from_clean`` is also the pre-fill of the default regression,
which computes the same numbers with ``clean_neighbour_median`` (a sorting
network over the 8 neighbours) and ``fill_from_clean_at`` (for the rest).
"""

from __future__ import annotations

import numpy as np

from oldphoto.denoise.windows import CHUNK, EXTREME_TOLERANCE, gather, padded, shifted_views

DAMF_MAX_WINDOW = 21
#: Pixels filled per gather: at most 65536 x 441 x 8 B = 231 MB of window indices.
FILL_CHUNK = 1 << 16


def extreme_mask(image: np.ndarray) -> np.ndarray:
    """Pixels at pure black or white: DAMF's own notion of 'noisy'."""
    return (image <= EXTREME_TOLERANCE) | (image >= 1.0 - EXTREME_TOLERANCE)


def median3(image: np.ndarray) -> np.ndarray:
    """Plain 3x3 median over every pixel."""
    from scipy.ndimage import median_filter

    return median_filter(np.asarray(image, np.float32), size=3, mode="mirror")


def adaptive_median(image: np.ndarray, max_window: int = 7) -> np.ndarray:
    """Hwang and Haddad's adaptive median filter, vectorised over sizes not pixels.

    A pixel keeps its value when it lies strictly between the window's min and
    max; otherwise it takes the median of the smallest window whose median is
    not itself an extreme, else the median of the largest window. The 3x3 stage
    runs on the whole image; larger windows are gathered only for the pixels
    still undecided.
    """
    from scipy.ndimage import maximum_filter, median_filter, minimum_filter

    image = np.asarray(image, np.float32)
    out = image.copy()
    low = minimum_filter(image, size=3, mode="mirror")
    high = maximum_filter(image, size=3, mode="mirror")
    med = median_filter(image, size=3, mode="mirror")
    rows, cols = np.nonzero(np.ones(image.shape, bool))
    _settle(out, image.ravel(), rows, cols, low.ravel(), high.ravel(), med.ravel())
    pending = ~((low < med) & (med < high))
    rows, cols = np.nonzero(pending)
    radius = max_window // 2
    source = np.pad(image, radius, mode="reflect")
    for size in range(5, max_window + 1, 2):
        if rows.size == 0:
            break
        ranked = np.sort(gather(source, rows, cols, size, radius), axis=1)
        low, high, med = ranked[:, 0], ranked[:, -1], ranked[:, ranked.shape[1] // 2]
        decided = _settle(out, image[rows, cols], rows, cols, low, high, med)
        if size == max_window:
            out[rows[~decided], cols[~decided]] = med[~decided]
        rows, cols = rows[~decided], cols[~decided]
    if max_window < 5 and rows.size:
        out[rows, cols] = med.ravel()[rows * image.shape[1] + cols]
    return out


def _settle(
    out: np.ndarray, values: np.ndarray, rows: np.ndarray, cols: np.ndarray,
    low: np.ndarray, high: np.ndarray, med: np.ndarray,
) -> np.ndarray:
    """Adaptive median level B for the pixels whose window median is not an extreme.

    Returns which pixels were decided (level A held).
    """
    level_a = (low < med) & (med < high)
    keep = level_a & (low < values) & (values < high)
    take = level_a & ~keep
    out[rows[take], cols[take]] = med[take]
    return level_a


def _median_of_clean(values: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Row-wise median of the entries marked clean (rows need at least one)."""
    ranked = np.sort(np.where(clean, values, np.inf), axis=1)
    count = clean.sum(axis=1)
    lower = np.take_along_axis(ranked, ((count - 1) // 2)[:, None], axis=1)[:, 0]
    upper = np.take_along_axis(ranked, (count // 2)[:, None], axis=1)[:, 0]
    return 0.5 * (lower + upper)


def fill_from_clean(image: np.ndarray, noisy: np.ndarray, max_window: int = DAMF_MAX_WINDOW,
                    chunk: int = FILL_CHUNK) -> np.ndarray:
    """Replace each noisy pixel by the median of the clean pixels in the smallest window
    (3x3, 5x5, ... up to ``max_window``) that holds any; beyond that, the clean median.

    This is the default regression's pre-fill (a first guess it corrects); DAMF
    itself uses :func:`_fill_pass` twice and a local fallback, see :func:`damf`.
    """
    image = np.asarray(image, np.float32)
    noisy = np.asarray(noisy, bool)
    if noisy.all():
        return np.full(image.shape, 0.5, np.float32)
    out, rows, cols = _fill_pass(image, noisy, max_window, chunk)
    if rows.size:
        out[rows, cols] = float(np.median(image[~noisy]))
    return out


def _fill_pass(image: np.ndarray, noisy: np.ndarray, max_window: int = DAMF_MAX_WINDOW,
               chunk: int = FILL_CHUNK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One DAMF pass: each noisy pixel takes the median of the clean pixels in the smallest
    window (3x3 .. ``max_window``, the image mirrored at its border) holding any.

    Returns the result, with the pixels no window reached left as they were, and
    those pixels' (rows, cols). Windows grow only for the pixels still unfilled,
    so cost follows the noise; pixels go ``chunk`` at a time (each depends only on
    the input and the mask, so the result is the same), which bounds memory on
    photos whose large pure black areas send a million pixels to 21x21 windows.
    """
    image = np.asarray(image, np.float32)
    noisy = np.asarray(noisy, bool)
    out = image.copy()
    all_rows, all_cols = np.nonzero(noisy)
    if all_rows.size == 0:
        return out, all_rows, all_cols
    radius = max_window // 2
    pixels_padded = padded(image, radius)
    clean_padded = padded(~noisy, radius)
    left_rows, left_cols = [], []
    for start in range(0, all_rows.size, chunk):
        rows, cols = all_rows[start:start + chunk], all_cols[start:start + chunk]
        for size in range(3, max_window + 1, 2):
            if rows.size == 0:
                break
            clean = gather(clean_padded, rows, cols, size, radius)
            found = clean.any(axis=1)
            if found.any():
                values = gather(pixels_padded, rows[found], cols[found], size, radius)
                out[rows[found], cols[found]] = _median_of_clean(values, clean[found])
            rows, cols = rows[~found], cols[~found]
        left_rows.append(rows)
        left_cols.append(cols)
    return out, np.concatenate(left_rows), np.concatenate(left_cols)


#: Compare-exchanges that put the 5 smallest of 8 values in order: an 8-input sorting
#: network (19 comparators) less the one only larger ranks need (checked in the tests).
LOWER_FIVE_OF_EIGHT = (
    (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7), (0, 1), (2, 3), (4, 5),
    (6, 7), (2, 4), (3, 5), (1, 4), (3, 6), (1, 2), (3, 4),
)


def clean_neighbour_median(marked: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of the clean pixels among the 8 neighbours of each of ``centres``, and whether any.

    ``marked`` is the padded image with every noisy pixel set to +inf, and
    ``centres`` are flat indices of noisy pixels into it. These are exactly the
    numbers of :func:`fill_from_clean`'s 3x3 step (a noisy centre is never among
    its own clean pixels), found without sorting an (N, 9) array: the 8
    neighbours go through a sorting network of elementwise minima and maxima,
    in cache-sized blocks, and the median is picked by rank from the sorted rows.
    """
    width = marked.shape[1]
    offsets = np.array([-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1])
    shifted, views = shifted_views(marked, centres, offsets)
    median = np.empty(centres.size, np.float32)
    count = np.empty(centres.size, np.uint8)
    chunk = min(CHUNK, centres.size)
    rows = np.empty((9, chunk), np.float32)  # the 8 neighbours and a spare
    finite = np.empty(chunk, bool)
    for start in range(0, centres.size, chunk):
        index = shifted[start : start + chunk]
        size = index.size
        counted = count[start : start + size]
        counted[:] = 0
        for k, view in enumerate(views):
            view.take(index, out=rows[k, :size], mode="wrap")
            np.less(rows[k, :size], np.inf, out=finite[:size])
            counted += finite[:size]
        slots = _sort_lower_five(rows, size)
        _pick_median(rows, slots, counted, median[start : start + size])
    return median, count > 0


def _sort_lower_five(rows: np.ndarray, size: int) -> list[int]:
    """Run :data:`LOWER_FIVE_OF_EIGHT` over rows 0-7 (row 8 is spare); returns the row of each rank."""
    slots, spare = list(range(8)), 8
    for i, j in LOWER_FIVE_OF_EIGHT:
        low, high = rows[slots[i], :size], rows[slots[j], :size]
        np.minimum(low, high, out=rows[spare, :size])
        np.maximum(low, high, out=high)
        slots[i], spare = spare, slots[i]
    return slots


def _pick_median(rows: np.ndarray, slots: list[int], count: np.ndarray, out: np.ndarray) -> None:
    """The mean of ranks (count - 1) // 2 and count // 2 of the sorted rows, into ``out``."""
    size = out.size
    start = np.array(slots[:5], np.int64) * rows.shape[1]
    column = np.arange(size)
    rank = np.maximum(count, 1)
    rank -= 1
    rank //= 2
    rows.ravel().take(start.take(rank) + column, out=out)
    np.floor_divide(count, 2, out=rank)
    out += rows.ravel().take(start.take(rank) + column)
    out *= np.float32(0.5)


def fill_from_clean_at(
    image: np.ndarray, noisy: np.ndarray, rows: np.ndarray, cols: np.ndarray, first: int = 3,
    max_window: int = DAMF_MAX_WINDOW, chunk: int = FILL_CHUNK,
) -> np.ndarray:
    """:func:`fill_from_clean`'s values at the noisy pixels (rows, cols), starting at ``first``.

    For the few pixels :func:`clean_neighbour_median` leaves, whose 3x3 window
    holds no clean pixel; the same growing windows, median and fallback.
    """
    radius = max_window // 2
    pixels_padded = padded(image, radius)
    clean_padded = padded(~noisy, radius)
    values = np.empty(rows.size, np.float32)
    left = np.zeros(rows.size, bool)
    for start in range(0, rows.size, chunk):
        pending = np.arange(start, min(start + chunk, rows.size))
        for size in range(first, max_window + 1, 2):
            if pending.size == 0:
                break
            clean = gather(clean_padded, rows[pending], cols[pending], size, radius)
            found = clean.any(axis=1)
            if found.any():
                done = pending[found]
                window = gather(pixels_padded, rows[done], cols[done], size, radius)
                values[done] = _median_of_clean(window, clean[found])
            pending = pending[~found]
        left[pending] = True
    if left.any():
        values[left] = float(np.median(image[~noisy]))
    return values


def damf(image: np.ndarray, noisy: np.ndarray | None = None,
         max_window: int = DAMF_MAX_WINDOW, chunk: int = FILL_CHUNK) -> np.ndarray:
    """Different Applied Median Filter (Erkan, Gokrem and Enginoglu 2018), as published.

    Noisy pixels (pure black or white unless ``noisy`` is given) take the median
    of the noise-free pixels in the smallest window, 3x3 to 21x21, holding any.
    Pass 1 leaves a pixel whose 21x21 window holds none (inside a saturated sky);
    pass 2 runs on pass 1's output, where pass 1's estimates count as noise-free,
    and a pixel still out of reach takes the median of its whole 21x21 window --
    inside a genuine white sky that is white, not the photo's grey median.
    """
    image = np.asarray(image, np.float32)
    if noisy is None:
        noisy = extreme_mask(image)
    first, rows, cols = _fill_pass(image, noisy, max_window, chunk)
    if rows.size == 0:
        return first
    left = np.zeros(image.shape, bool)
    left[rows, cols] = True
    second, rows, cols = _fill_pass(first, left, max_window, chunk)
    radius = max_window // 2
    source = padded(first, radius)
    for start in range(0, rows.size, chunk):
        part = slice(start, start + chunk)
        window = gather(source, rows[part], cols[part], max_window, radius)
        second[rows[part], cols[part]] = np.median(window, axis=1)
    return second
