"""Looking ahead before any work: how many frames will come, and which are done already.

Rules that depend on the number of frames (``-o NAME.ext``, an image on a
pipe) and the progress display's total are decided before the first photo is
processed. Upstream stages write the total they know into each frame header;
peeking reads stdin's first header and hands every byte back to the reader.
Inputs whose outputs exist are skipped here, before they are decoded.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from oldphoto.codecs import format_of
from oldphoto.destinations import Count
from oldphoto.inputs import Item, is_stream_file
from oldphoto.outputs import PathSink
from oldphoto.stream import MAGIC, MAX_HEADER_BYTES
from oldphoto.stream import RECORD_PREFIX as _PREFIX


class Replay:
    """A binary reader that returns bytes already read before reading on."""

    def __init__(self, source: BinaryIO, head: bytes) -> None:
        self.source = source
        self.head = head

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.source.read(size)
        if size is None or size < 0:
            data, self.head = self.head + self.source.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        if len(data) < size:
            data += self.source.read(size - len(data))
        return data


def peek_total(source: BinaryIO) -> tuple[Replay, int | None, bool]:
    """(a reader replaying what was read, the announced frame count or None, is a stream).

    A non-stream input (one encoded image) counts as one frame.
    """
    head = source.read(len(MAGIC))
    if not head.startswith(MAGIC):
        return Replay(source, head), (1 if head else None), False
    rest = source.read(_PREFIX.size - len(head))
    head += rest
    if len(head) < _PREFIX.size:
        return Replay(source, head), None, True
    _magic, _version, kind, length = _PREFIX.unpack(head)
    if kind != b"F" or length > MAX_HEADER_BYTES:
        return Replay(source, head), (0 if kind == b"E" else None), True
    raw = source.read(length)
    head += raw
    try:
        total = json.loads(raw.decode("utf-8")).get("total")
    except (UnicodeDecodeError, ValueError, AttributeError):
        total = None
    return Replay(source, head), (total if type(total) is int and total >= 0 else None), True


@dataclass
class Work:
    """What is left to do after skipping finished outputs, and what is known of the total."""

    items: list[Item]
    skipped: int
    total: int | None
    stdin: BinaryIO | None


def count_frames(items: list[Item]) -> tuple[BinaryIO | None, Count]:
    """How many frames will come, peeking at stdin's stream header when stdin is an input."""
    stdin: BinaryIO | None = None
    frames: int | None = sum(frames_in(item) for item in items if item.path is not None)
    if any(item.path is None for item in items):
        stdin, announced, _ = peek_total(sys.stdin.buffer)
        frames = None if announced is None or frames is None else frames + announced
    return stdin, Count(several=len(items) > 1, frames=frames)


def frames_in(item: Item) -> int:
    """1 for an image file; what a saved stream (``.oldphoto``) announces, when it does."""
    if item.path is None or item.problem is not None or format_of(item.name) != "stream":
        return 1
    try:
        with item.path.open("rb") as handle:
            announced = peek_total(handle)[1]
    except OSError:
        return 1
    return 1 if announced is None else announced


def not_done(items: list[Item], sink: Any) -> tuple[list[Item], int]:
    """The items whose output is still missing; the others are skipped before decoding."""
    if not isinstance(sink, PathSink):
        return items, 0
    todo = [item for item in items
            if item.path is None or item.problem is not None
            or format_of(item.name) == "stream" or sink.existing(item.name) is None
            or is_stream_file(item.path)]
    return todo, len(items) - len(todo)
