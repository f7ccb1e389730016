"""The unit of work that flows between filters: pixels, named planes and meta."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Planes that oldphoto itself knows about. Plugins may add any others.
NOISE_MASK = "noise_mask"  # bool (H, W) or (H, W, C): pixels a detector flagged
TRUE_MASK = "true_mask"  # bool (H, W) or (H, W, C): pixels `age` really corrupted
ORIGINAL = "original"  # float32, the clean input `age --keep-original` saw
ALPHA = "alpha"  # float32 (H, W): kept aside so filters only see colour


@dataclass
class Frame:
    """One image on its way through a pipe.

    ``pixels`` is float32 in [0, 1], shaped (H, W) for grey or (H, W, 3) for
    colour. ``planes`` carry per-pixel side data (masks, the original), and
    ``meta`` is JSON-able: ``name`` is the path relative to the input root and
    ``history`` lists every filter applied with its options; ``carried`` holds
    what the source file carried (EXIF, ICC profile, DPI, tags), so that it is
    written back.
    """

    pixels: np.ndarray
    planes: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: One-line warnings about this frame's input (reported once, never streamed or copied).
    notes: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pixels = as_pixels(self.pixels)
        self.meta.setdefault("name", "image")
        self.meta.setdefault("history", [])

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def is_grey(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    def replace(self, pixels: np.ndarray | None = None, **planes: np.ndarray | None) -> Frame:
        """A new frame with other pixels and/or planes (``None`` drops a plane).

        Meta is deep-copied so that a filter can never edit its input's record.
        """
        new_planes = dict(self.planes)
        for key, value in planes.items():
            if value is None:
                new_planes.pop(key, None)
            else:
                new_planes[key] = value
        return Frame(
            pixels=self.pixels if pixels is None else pixels,
            planes=new_planes,
            meta=copy.deepcopy(self.meta),
        )


def as_pixels(array: np.ndarray) -> np.ndarray:
    """Validate and coerce an array to the frame pixel contract."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"pixels must be (H, W) or (H, W, 3), got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)
