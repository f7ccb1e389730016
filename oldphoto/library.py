"""The Python API at the package top: ``oldphoto.load``, ``save``, ``run`` and ``filters``.

``run`` goes through the same registry and the same option validation as the
command line, so a plugin's filter works here too; each filter is set up once
per set of options (weights loaded once) and reused by later calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.arrays import as_float_image
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import ALPHA, Frame

#: Set-up filters by (class, device, validated options): models load once per process.
_READY: dict[tuple[Any, ...], Filter] = {}


def load(path: str | os.PathLike[str]) -> Frame:
    """Read an image file (PNG, JPEG, TIFF, BMP, WebP, PNM) as a :class:`Frame`."""
    from oldphoto.codecs import read_image

    return read_image(path)


def save(frame: Frame | np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write a frame (or an array) to ``path``, atomically, in the format its suffix names."""
    from oldphoto.codecs import encode_image, format_of, write_atomically

    fmt = format_of(str(path))
    if fmt is None or fmt == "stream":
        raise OldphotoError(f"{path}: unknown image format (use .png, .jpg, .tif, .bmp, .webp, .pnm)")
    write_atomically(Path(path), encode_image(as_frame(frame), fmt))


def as_frame(image: Frame | np.ndarray, name: str = "image") -> Frame:
    """A Frame as is; an array scaled to [0, 1] (uint8, uint16) or taken as [0, 1] (float)."""
    if isinstance(image, Frame):
        return image
    pixels, alpha = as_float_image(image)
    return Frame(pixels, {} if alpha is None else {ALPHA: alpha}, {"name": name})


def filters() -> dict[str, str]:
    """Every registered filter, built-in or plugin, by name, with its one-line summary."""
    from oldphoto.plugins import registered_filters

    return {name: info.cls.summary for name, info in sorted(registered_filters().items())}


def run(name: str, image: Frame | np.ndarray, *, device: str = "cpu", **options: Any) -> Frame:
    """Run the filter ``name`` on one image, with its options as keyword arguments.

    ``options`` are checked as the command line checks them (type, choices,
    bounds); an unknown name or option raises :class:`OldphotoError`.
    """
    filt = _ready(name, device, options)
    frame = as_frame(image)
    result = filt.process([frame])[0]
    result.meta.setdefault("history", []).append(filt.record)
    return result


def _ready(name: str, device: str, options: dict[str, Any]) -> Filter:
    """The set-up filter for these options, made and set up on first use."""
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(name)
    if info is None:
        raise OldphotoError(f"no filter {name!r} (registered: {', '.join(sorted(registered_filters()))})")
    if device not in ("cpu", "cuda", "auto"):
        raise OldphotoError(f"device {device!r}: expected cpu, cuda or auto")
    try:
        filt = info.cls(device=device, **options)
    except ValueError as err:
        raise OldphotoError(str(err)) from None
    key = (info.cls, filt.device, tuple(sorted((k, repr(v)) for k, v in vars(filt.params).items())))
    if key not in _READY:
        filt.setup()
        _READY[key] = filt
    return _READY[key]
