"""Extra window features for the default regression: fill estimates a linear map cannot form.

The paper's features are linear in the window's pixels, so any fixed average
of neighbours (a directional mean, the window mean) adds nothing a refit could
not find. What it cannot form is a *choice*: the mean along the direction the
window varies least, the median of the directional means, the mean of the
clean pixels only, the 3x3 window in ascending order (so the weights make a
rank-order filter). These few numbers per flagged pixel are appended to the
paper's features; the model stays one linear regression over them
(issue 19 measures what each adds, in docs/denoise.md).

Every feature reads the current estimate (``source``, mirror-padded by at least
:data:`EXTRA_RADIUS`) at flat ``centres``; the clean-pixel means also read the
detection mask (``clean``, padded alike: True where a pixel was not flagged).
"""

from __future__ import annotations

import numpy as np

from oldphoto.denoise.windows import CHUNK, shifted_views, window_offsets

#: Names of the extra features, in the order they are appended.
EXTRAS = ("edge1", "edge2", "median4", "clean3", "clean5", "sorted3")
#: Columns of the features that have more than one: the 3x3 window in ascending order.
WIDTHS = {"sorted3": 9}
#: Compare-exchanges that sort 9 values (25; checked on all 0/1 inputs in the tests).
SORT9 = (
    (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (0, 3), (3, 6),
    (0, 3), (1, 4), (4, 7), (1, 4), (2, 5), (5, 8), (2, 5), (1, 3), (5, 7), (2, 6), (4, 6),
    (2, 4), (2, 3), (5, 6),
)
#: The default variant's extras (measured in docs/denoise.md).
DEFAULT_EXTRAS = ("edge1", "edge2", "median4", "sorted3")
#: The farthest pixel any extra feature reads, in rows or columns.
EXTRA_RADIUS = 2


def _directions(width: int, distance: int) -> list[tuple[int, int]]:
    """Flat steps to the two pixels ``distance`` away across the centre: horizontal,
    vertical and the two diagonals."""
    down, right = distance * width, distance
    return [(-right, right), (-down, down), (-down - right, down + right), (-down + right, down - right)]


def extra_count(names: tuple[str, ...]) -> int:
    """Columns the named extra features take."""
    return sum(WIDTHS.get(name, 1) for name in names)


def extra_features(
    source: np.ndarray, clean: np.ndarray, centres: np.ndarray, names: tuple[str, ...]
) -> np.ndarray:
    """(N, extra_count(names)) float32 extra features at ``centres`` (flat indices into
    the padded arrays), in the order of ``names``.

    Work goes ``CHUNK`` centres at a time into preallocated buffers, one shifted
    view per neighbour (as :func:`~oldphoto.denoise.windows.windowed_dot_at`), so the
    rows a block reads stay in cache and no index arithmetic is repeated.
    """
    unknown = [name for name in names if name not in EXTRAS]
    if unknown:
        raise ValueError(f"unknown extra features {unknown}")
    out = np.empty((centres.size, extra_count(names)), np.float32)
    if not names or centres.size == 0:
        return out
    width = source.shape[1]
    directional = bool({"edge1", "edge2", "median4"} & set(names))
    steps = [step for pair in _directions(width, 1) + _directions(width, 2) for step in pair]
    clean_steps = [s for s in window_offsets(2 * EXTRA_RADIUS + 1, width).tolist() if s]
    all_steps = np.array(steps + clean_steps + window_offsets(3, width).tolist())
    shifted, views = shifted_views(source, centres, all_steps)
    masks = shifted_views(clean, centres, all_steps)[1]
    columns, first = {}, 0
    for name in names:
        columns[name] = out[:, first : first + WIDTHS.get(name, 1)]
        first += WIDTHS.get(name, 1)
    for start in range(0, centres.size, CHUNK):
        index = shifted[start : start + CHUNK]
        part = {name: column[start : start + CHUNK] for name, column in columns.items()}
        if directional:
            _directional(views[: len(steps)], index, {k: v[:, 0] for k, v in part.items()})
        for name, radius in (("clean3", 1), ("clean5", 2)):
            if name in part:
                chosen = [k for k, s in enumerate(clean_steps) if _within(s, width, radius)]
                centre = source.ravel().take(centres[start : start + CHUNK])
                _clean_mean([views[len(steps) + k] for k in chosen],
                            [masks[len(steps) + k] for k in chosen], index, centre, part[name][:, 0])
        if "sorted3" in part:
            _sorted(views[len(steps) + len(clean_steps) :], index, part["sorted3"])
    return out


def _sorted(views: list[np.ndarray], index: np.ndarray, out: np.ndarray) -> None:
    """The 9 values of each 3x3 window in ascending order, by :data:`SORT9`, into ``out`` (N, 9)."""
    rows = np.empty((10, index.size), np.float32)  # 9 values and a spare
    for k, view in enumerate(views):
        view.take(index, out=rows[k], mode="wrap")
    slots, spare = list(range(9)), 9
    for i, j in SORT9:
        np.minimum(rows[slots[i]], rows[slots[j]], out=rows[spare])
        np.maximum(rows[slots[i]], rows[slots[j]], out=rows[slots[j]])
        slots[i], spare = spare, slots[i]
    out[...] = rows[slots].T


def _within(step: int, width: int, radius: int) -> bool:
    """Whether a flat step (in an array ``width`` wide, |column step| < width / 2) stays
    within ``radius`` rows and columns."""
    row, col = divmod(step + width // 2, width)
    return abs(row) <= radius and abs(col - width // 2) <= radius


def _directional(views: list[np.ndarray], index: np.ndarray, out: dict[str, np.ndarray]) -> None:
    """Edge-directed means: the mean of the opposite neighbours along the direction whose
    two neighbours differ least (``edge1``), the same choice with the pixels two steps
    out also counted (``edge2``), and the median of the four directional means.

    ``views`` hold the four distance-1 pairs, then the four distance-2 pairs.
    """
    count = index.size
    buffers = np.empty((8, count), np.float32)
    first, second, mean, gap, best1, best2, low, high = buffers
    total = np.zeros(count, np.float32)
    edge1 = out.get("edge1", np.empty(count, np.float32))
    edge2 = out.get("edge2", np.empty(count, np.float32))
    take = np.empty(count, bool)
    for k in range(4):
        views[2 * k].take(index, out=first, mode="wrap")
        views[2 * k + 1].take(index, out=second, mode="wrap")
        np.add(first, second, out=mean)
        np.subtract(first, second, out=gap)
        np.abs(gap, out=gap)
        if k == 0:
            edge1[:], best1[:], low[:], high[:] = mean, gap, mean, mean
        else:
            np.less(gap, best1, out=take)
            np.copyto(edge1, mean, where=take)
            np.copyto(best1, gap, where=take)
            np.minimum(low, mean, out=low)
            np.maximum(high, mean, out=high)
        total += mean
        views[8 + 2 * k].take(index, out=first, mode="wrap")
        views[8 + 2 * k + 1].take(index, out=second, mode="wrap")
        np.subtract(first, second, out=first)
        np.abs(first, out=first)
        gap += first
        if k == 0:
            edge2[:], best2[:] = mean, gap
        else:
            np.less(gap, best2, out=take)
            np.copyto(edge2, mean, where=take)
            np.copyto(best2, gap, where=take)
    edge1 *= np.float32(0.5)
    edge2 *= np.float32(0.5)
    if "median4" in out:
        total -= low
        total -= high
        np.multiply(total, np.float32(0.25), out=out["median4"])  # the middle two means, averaged


def _clean_mean(
    views: list[np.ndarray], masks: list[np.ndarray], index: np.ndarray, fallback: np.ndarray,
    out: np.ndarray,
) -> None:
    """Mean of the clean pixels among ``views`` (``masks`` True where clean), else ``fallback``."""
    total = np.zeros(index.size, np.float32)
    count = np.zeros(index.size, np.float32)
    values = np.empty(index.size, np.float32)
    keep = np.empty(index.size, bool)
    for view, mask in zip(views, masks, strict=True):
        mask.take(index, out=keep, mode="wrap")
        view.take(index, out=values, mode="wrap")
        values *= keep
        total += values
        count += keep
    np.divide(total, np.maximum(count, 1), out=out)
    np.copyto(out, fallback, where=count == 0)
