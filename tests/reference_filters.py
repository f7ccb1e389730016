"""Plain, slow reference filters written from the papers, one pixel at a time.

They exist only to check the vectorised filters of ``oldphoto.denoise.classical``
against: no sorting networks, no chunking, no shared padding, one Python loop
per pixel and ``np.median`` over the values the paper names.
"""

from __future__ import annotations

import numpy as np


def is_extreme(value: float) -> bool:
    """A pure black or white 8-bit level: the only values salt-and-pepper writes."""
    level = round(float(value) * 255.0)
    return level in (0, 255)


def median3_reference(image: np.ndarray) -> np.ndarray:
    """Every pixel: the median of its 3x3 window, the image mirrored at the border (c b | a b c)."""
    padded = np.pad(np.asarray(image, np.float64), 1, mode="reflect")
    out = np.empty(image.shape, np.float64)
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            out[r, c] = np.median(padded[r : r + 3, c : c + 3])
    return out.astype(np.float32)


def adaptive_median_reference(image: np.ndarray, max_window: int = 7) -> np.ndarray:
    """Hwang and Haddad (1995), as in Gonzalez and Woods: per pixel, window 3x3 upwards.

    Level A: if min < median < max, go to level B; else grow the window, and at
    the largest window output the median. Level B: keep the pixel if
    min < pixel < max, else output the median. Windows are taken from the image
    mirrored at its border without repeating it (c b | a b c).
    """
    image = np.asarray(image, np.float64)
    radius = max_window // 2
    padded = np.pad(image, radius, mode="reflect")
    out = np.empty(image.shape, np.float64)
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            for size in range(3, max_window + 1, 2):
                half = size // 2
                window = padded[r + radius - half : r + radius + half + 1,
                                c + radius - half : c + radius + half + 1]
                low, high, med = window.min(), window.max(), np.median(window)
                if low < med < high:
                    out[r, c] = image[r, c] if low < image[r, c] < high else med
                    break
                if size >= max_window:
                    out[r, c] = med
                    break
    return out.astype(np.float32)


def damf_pass_reference(
    image: np.ndarray, noisy: np.ndarray, max_window: int = 21
) -> tuple[np.ndarray, np.ndarray]:
    """One DAMF pass: each noisy pixel becomes the median of the noise-free pixels of the
    smallest window (3x3, 5x5, ... ``max_window``) holding any; a pixel with none
    keeps its value. All windows read the pass's input (image mirrored at the
    border, a b | b a). Returns the result and the pixels left unfilled.
    """
    image = np.asarray(image, np.float64)
    radius = max_window // 2
    pixels = np.pad(image, radius, mode="symmetric")
    clean = np.pad(~np.asarray(noisy, bool), radius, mode="symmetric")
    out = image.copy()
    unfilled = np.zeros(image.shape, bool)
    for r, c in zip(*np.nonzero(noisy), strict=True):
        for size in range(3, max_window + 1, 2):
            half = size // 2
            rows = slice(r + radius - half, r + radius + half + 1)
            cols = slice(c + radius - half, c + radius + half + 1)
            values = pixels[rows, cols][clean[rows, cols]]
            if values.size:
                out[r, c] = np.median(values)
                break
        else:
            unfilled[r, c] = True
    return out, unfilled


def damf_reference(image: np.ndarray, noisy: np.ndarray | None = None, max_window: int = 21) -> np.ndarray:
    """DAMF (Erkan, Gokrem and Enginoglu 2018): noisy pixels are the pure black and white
    ones; a first pass fills them; a second pass, on the first pass's output,
    fills those the first left (no noise-free pixel within 21x21), now counting
    the first pass's estimates as noise-free. A pixel neither pass reaches takes
    the median of its whole 21x21 window of the first pass's output.
    """
    image = np.asarray(image, np.float64)
    if noisy is None:
        noisy = np.vectorize(is_extreme)(image)
    first, unfilled = damf_pass_reference(image, noisy, max_window)
    second, unreached = damf_pass_reference(first, unfilled, max_window)
    radius = max_window // 2
    source = np.pad(first, radius, mode="symmetric")
    for r, c in zip(*np.nonzero(unreached), strict=True):
        second[r, c] = np.median(source[r : r + max_window, c : c + max_window])
    return second.astype(np.float32)
