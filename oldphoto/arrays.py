"""Arrays from Python callers into the pixel contract: float32 in [0, 1], alpha apart.

The command line gets this from :mod:`oldphoto.codecs`; the Python API takes
arrays a notebook already holds, so it needs the same scaling without a file.
"""

from __future__ import annotations

import numpy as np

from oldphoto.errors import OldphotoError

#: Integer pixel types and the value that stands for white.
INTEGER_WHITE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def as_float_image(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels (H, W) or (H, W, 3) as float32 in [0, 1], and the alpha channel if there was one.

    uint8 and uint16 are scaled to [0, 1]; float is taken as [0, 1] already;
    bool is 0 or 1. A trailing channel of 2 or 4 is grey or RGB plus alpha.
    """
    array = np.asarray(image)
    if array.dtype in INTEGER_WHITE:
        pixels = array.astype(np.float32) / np.float32(INTEGER_WHITE[array.dtype])
    elif array.dtype.kind == "f" or array.dtype == np.bool_:
        pixels = array.astype(np.float32, copy=False)
    else:
        raise OldphotoError(f"image: pixel type {array.dtype} (expected uint8, uint16 or float)")
    alpha = None
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        pixels, alpha = pixels[..., :-1], np.ascontiguousarray(pixels[..., -1])
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise OldphotoError(f"image: shape {array.shape} (expected (H, W) or (H, W, 3))")
    return np.ascontiguousarray(pixels), alpha
