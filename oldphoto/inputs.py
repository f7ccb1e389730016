"""Where frames come from: files, folder trees and stdin (a stream or one image)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oldphoto import codecs
from oldphoto.codecs import IMAGE_EXTENSIONS, decode_pages, iter_pages
from oldphoto.errors import InputError, OldphotoError
from oldphoto.frame import Frame
from oldphoto.stream import MAGIC, is_stream, read_stream

STDIN = "-"


@dataclass(frozen=True)
class Item:
    """One thing to read: an image file (with its name in the output tree) or stdin."""

    path: Path | None  # None means stdin
    name: str
    problem: str | None = None  # why it cannot be read, found before any work

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
    case-insensitively, and named by their path relative to the folder. An
    argument that cannot be read becomes an item with a ``problem``: it costs
    one line when its turn comes, and the others are still processed.
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
                items.append(Item(path, path.name, f"{path}: is a directory (use -r to read folders)"))
                continue
            roots.append(path)
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                items.append(Item(path, path.name,
                                  f"{path}: no image files found (looked for {_extensions()})"))
            items.extend(Item(p, p.relative_to(path).as_posix()) for p in found)
        elif path.exists():
            items.append(Item(path, path.name))
        else:
            items.append(Item(path, path.name, f"{path}: no such file or folder"))
    return items, roots


def _extensions() -> str:
    return ", ".join(sorted({ext for ext in IMAGE_EXTENSIONS}))


def iter_frames(items: list[Item], stdin: BinaryIO | None = None) -> Iterator[Frame | Failure]:
    """Yield frames in order, or a :class:`Failure` for each input that cannot be read."""
    for item in items:
        if item.problem is not None:
            yield Failure(item.label, item.problem)
            continue
        if item.path is None:
            yield from _from_stdin(stdin if stdin is not None else sys.stdin.buffer)
            continue
        if is_stream_file(item.path):
            with item.path.open("rb") as handle:
                yield from _from_stream(handle, item.label)
            continue
        yield from _pages(lambda item=item: iter_pages(item.path, name=item.name), item.label)


def is_stream_file(path: Path) -> bool:
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
    first = source.read(16)
    if not first:
        yield Failure(label, f"{label}: empty input (pipe an image or an oldphoto stream)")
        return
    if is_stream(first):
        yield from _from_stream(source, label, first)
        return
    if codecs.sniff(first) is None:  # refused before reading the rest (it may never end)
        yield Failure(label, f"{label}: not an image in any supported format")
        return
    limit = codecs.max_file_bytes()
    data = first + source.read(limit + 1 - len(first))
    if len(data) > limit:
        yield Failure(label, f"{label}: too large for an image of at most {codecs.MAX_PIXELS} "
                             "pixels (see --max-pixels)")
        return
    fmt = codecs.sniff(data[:64])
    suffix = {"jpeg": ".jpg", "tiff": ".tif", "gif": ".png"}.get(fmt or "", f".{fmt}")
    yield from _pages(lambda: decode_pages(data, source=label, name="stdin" + suffix), label)


def _pages(pages: Callable[[], Iterator[Frame]], label: str) -> Iterator[Frame | Failure]:
    """Every page of one input, or one failure line when it (or a later page) cannot be read."""
    try:
        yield from pages()
    except OldphotoError as err:
        yield Failure(label, str(err))
