"""What the dust and scratch finder flags but ``restore`` leaves alone: the picture's own detail.

The finder judges a few pixels around each spot; a thin bright line on grass looks
the same to it whether it is a scratch or a fence post. These guards look at each
flagged part as a whole (its place, its colour, its neighbours) and drop the parts
that damage does not make:

- a part lying along the picture's edge is a frame or a scanner's border line;
- a vividly coloured part is detail, since dust and scratches are neutral;
- a row of short parallel lines, side by side, is a structure (a fence, a railing,
  window bars), since scratches run along the film, long and at random places.
"""

from __future__ import annotations

import numpy as np

#: On a picture read as clean, a flagged part with most of its pixels this close to the
#: picture's edge is its frame, not a scratch (on scans the guard would cost 0.085 dB at
#: age --realistic x1, where scratches may run along the edge, so they go without it).
EDGE_BAND = 2
#: On a colour picture, a flagged speck or line whose mean CIELAB chroma is above this is
#: the picture's own detail (a printed dot, a red wire): dust and scratches block or scatter
#: the light of every dye layer alike, so they are neutral, or at most toned like a
#: sepia print (chroma 10-30).
DUST_MAX_CHROMA = 40.0
#: A flagged part is a line when it is at least this long (px) ...
LINE_MIN_LENGTH = 10.0
#: ... and this many times longer than wide.
LINE_ELONGATION = 4.0
#: Only lines shorter than this share of the picture's extent along them can be posts:
#: film scratches often run across most of the frame (age --realistic draws them from a
#: quarter to all of its height), and a row of such long lines is rain on the film.
POST_MAX_SHARE = 0.35
#: Two lines stand side by side when their directions differ by at most this many
#: degrees, ...
ROW_ANGLE = 10.0
#: ... they overlap along it by at least this share of the shorter one, ...
ROW_OVERLAP = 0.5
#: ... the longer is at most this many times the shorter, ...
ROW_LENGTH_RATIO = 3.0
#: ... and they are at least this far apart across (pieces of one line are not a row), and
#: at most this many times the longer one's length (neighbours in a row stand close).
ROW_MIN_GAP, ROW_REACH = 3.0, 2.0
#: Lines linked side by side, one to the next, make a row when there are this many or more:
#: a structure, not scratches.
ROW_SIZE = 5
#: Lines are compared with all others this many at a time, so a scan with thousands of
#: flagged lines stays within a few tens of MB.
NEIGHBOUR_CHUNK = 256


def _labelled(mask: np.ndarray) -> tuple[np.ndarray, int]:
    from scipy import ndimage

    return ndimage.label(mask, structure=np.ones((3, 3)))


def not_along_the_edge(mask: np.ndarray) -> np.ndarray:
    """``mask`` without the connected parts that lie mostly in the picture's outer EDGE_BAND
    pixels: a frame or a scanner's border line, not a scratch (which crosses the edge)."""
    if not mask.any():
        return mask
    labels, count = _labelled(mask)
    band = np.ones(mask.shape, bool)
    band[EDGE_BAND:-EDGE_BAND, EDGE_BAND:-EDGE_BAND] = False
    size = np.bincount(labels.ravel(), minlength=count + 1)
    on_band = np.bincount(labels[band], minlength=count + 1)
    keep = on_band <= 0.5 * size
    keep[0] = False
    return keep[labels]


def neutral_only(mask: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """``mask`` without the connected parts whose colour is vivid (see DUST_MAX_CHROMA);
    unchanged for a grey picture."""
    if pixels.ndim == 2 or not mask.any():
        return mask
    from skimage.color import rgb2lab

    labels, count = _labelled(mask)
    lab = rgb2lab(np.clip(pixels[mask], 0.0, 1.0)[None])[0]
    parts = labels[mask]
    size = np.bincount(parts, minlength=count + 1)
    chroma = np.bincount(parts, np.hypot(lab[:, 1], lab[:, 2]), count + 1) / np.maximum(size, 1)
    neutral = chroma <= DUST_MAX_CHROMA
    neutral[0] = False
    return neutral[labels]


def part_shapes(labels: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Each labelled part's centre (row, col), unit direction (row, col) of its long axis,
    length and width (those of the bar with the same second moments: sqrt(12) standard
    deviations along and across), indexed by label (entry 0 is the background)."""
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols]

    def total(values: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(which, values, minlength=count + 1).astype(np.float64)

    size = np.maximum(total(), 1.0)
    centre_r, centre_c = total(rows) / size, total(cols) / size
    dr, dc = rows - centre_r[which], cols - centre_c[which]
    # second moments about each centre; + 1/12: a pixel is a unit square, not a point
    var_r, var_c = total(dr * dr) / size + 1 / 12, total(dc * dc) / size + 1 / 12
    cov = total(dr * dc) / size
    spread = np.sqrt(((var_r - var_c) / 2) ** 2 + cov**2)
    major, minor = (var_r + var_c) / 2 + spread, np.maximum((var_r + var_c) / 2 - spread, 0.0)
    angle = 0.5 * np.arctan2(2 * cov, var_r - var_c)  # of the long axis, from the row axis
    return {"centre": np.stack([centre_r, centre_c], 1),
            "direction": np.stack([np.cos(angle), np.sin(angle)], 1),
            "length": np.sqrt(12 * major), "width": np.sqrt(12 * minor)}


def _side_by_side(direction: np.ndarray, centre: np.ndarray, length: np.ndarray,
                  start: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i, j), i in lines start..start+NEIGHBOUR_CHUNK, where j stands side by side
    with i, measured along i's direction (the rules of ROW_ANGLE .. ROW_REACH)."""
    stop = min(start + NEIGHBOUR_CHUNK, len(length))
    d, long = direction[start:stop], length[start:stop, None]
    offset = centre[None, :, :] - centre[start:stop, None, :]  # [i, j]: from line i to line j
    along = np.abs((offset * d[:, None, :]).sum(-1))  # between midpoints
    across = np.abs(offset[..., 0] * d[:, None, 1] - offset[..., 1] * d[:, None, 0])
    longer, shorter = np.maximum(long, length[None]), np.minimum(long, length[None])
    linked = ((np.abs(d @ direction.T) >= np.cos(np.radians(ROW_ANGLE)))
              & ((longer + shorter) / 2 - along >= ROW_OVERLAP * shorter)
              & (longer <= ROW_LENGTH_RATIO * shorter)
              & (across >= ROW_MIN_GAP) & (across <= ROW_REACH * longer))
    first, second = np.nonzero(linked)
    return first + start, second


def not_in_a_row(mask: np.ndarray) -> np.ndarray:
    """``mask`` without the short lines that stand in a row of ROW_SIZE or more, each
    parallel to and side by side with the next: fence posts, railings, window bars."""
    if not mask.any():
        return mask
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    labels, count = _labelled(mask)
    shape = part_shapes(labels, count)
    height, width = mask.shape
    direction, length = shape["direction"], shape["length"]
    extent = height * np.abs(direction[:, 0]) + width * np.abs(direction[:, 1])
    line = ((length >= LINE_MIN_LENGTH) & (length >= LINE_ELONGATION * np.maximum(shape["width"], 1.0))
            & (length <= POST_MAX_SHARE * extent))
    line[0] = False
    ids = np.flatnonzero(line)
    if len(ids) < ROW_SIZE:
        return mask
    pairs = [_side_by_side(direction[ids], shape["centre"][ids], length[ids], start)
             for start in range(0, len(ids), NEIGHBOUR_CHUNK)]
    first, second = (np.concatenate(side) for side in zip(*pairs, strict=True))
    linked = csr_matrix((np.ones(len(first), np.int8), (first, second)), shape=(len(ids),) * 2)
    linked = linked.multiply(linked.T)  # measured along each one's own direction: both ways
    _, row = connected_components(linked, directed=False)
    in_row = np.zeros(count + 1, bool)
    in_row[ids] = np.bincount(row)[row] >= ROW_SIZE
    return mask & ~in_row[labels]
