"""Where frames come from: files, folder trees and stdin (a stream or one image)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oldphoto.codecs import IMAGE_EXTENSIONS, decode_image, read_image
from oldphoto.errors import InputError, OldphotoError
from oldphoto.frame import Frame
from oldphoto.stream import MAGIC, is_stream, read_stream

STDIN = "-"


@dataclass(frozen=True)
class Item:
    """One thing to read: an image file (with its name in the output tree) or stdin."""

    path: Path | None  # None means stdin
    name: str

    @property
    def label(self) -> str:
        return "<stdin>" if self.path is None else str(self.path)


@dataclass(frozen=True)
class Failure:
    """An input that could not be read; the run reports it and goes on."""

    label: str
    message: str


def discover(inputs: list[str], recursive: bool) -> tuple[list[Item], list[Path]]:
    """Expand arguments into items, and return the folders read (to guard outputs).

    A folder needs ``-r``; inside it, image files are found by extension,
    case-insensitively, and named by their path relative to the folder.
    """
    items: list[Item] = []
    roots: list[Path] = []
    for argument in inputs:
        if argument == STDIN:
            items.append(Item(None, "stdin"))
            continue
        path = Path(argument)
        if path.is_dir():
            if not recursive:
                raise InputError(f"{path}: is a directory (use -r to read folders)")
            roots.append(path)
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                raise InputError(f"{path}: no image files found (looked for {_extensions()})")
            items.extend(Item(p, p.relative_to(path).as_posix()) for p in found)
        elif path.exists():
            items.append(Item(path, path.name))
        else:
            raise InputError(f"{path}: no such file or folder")
    return items, roots


def _extensions() -> str:
    return ", ".join(sorted({ext for ext in IMAGE_EXTENSIONS}))


def iter_frames(items: list[Item], stdin: BinaryIO | None = None) -> Iterator[Frame | Failure]:
    """Yield frames in order, or a :class:`Failure` for each input that cannot be read."""
    for item in items:
        if item.path is None:
            yield from _from_stdin(stdin if stdin is not None else sys.stdin.buffer)
            continue
        if _is_stream_file(item.path):
            with item.path.open("rb") as handle:
                yield from _from_stream(handle, item.label)
            continue
        try:
            yield read_image(item.path, name=item.name)
        except OldphotoError as err:
            yield Failure(item.label, str(err))


def _is_stream_file(path: Path) -> bool:
    """A saved stream (``--to stream``) is read as frames, whatever its name."""
    try:
        with path.open("rb") as handle:
            return is_stream(handle.read(len(MAGIC)))
    except OSError:
        return False


def _from_stream(source: BinaryIO, label: str, first: bytes = b"") -> Iterator[Frame | Failure]:
    try:
        yield from read_stream(source, label, first)
    except InputError as err:
        yield Failure(label, str(err))


def _from_stdin(source: BinaryIO) -> Iterator[Frame | Failure]:
    label = "<stdin>"
    first = source.read(len(MAGIC))
    if not first:
        yield Failure(label, f"{label}: empty input (pipe an image or an oldphoto stream)")
        return
    if is_stream(first):
        yield from _from_stream(source, label, first)
        return
    try:
        data = first + source.read()
        frame = decode_image(data, source=label, name="stdin")
        frame.meta["name"] = "stdin" + {"jpeg": ".jpg", "tiff": ".tif"}.get(
            frame.meta["format"], "." + frame.meta["format"])
        yield frame
    except InputError as err:
        yield Failure(label, str(err))
