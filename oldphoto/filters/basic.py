"""Small utility filters: ``gray`` and ``identity``."""

from __future__ import annotations

from collections.abc import Callable

from oldphoto.aging import to_grey
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.hookspecs import hookimpl


class GrayFilter(Filter):
    """Convert to grey (BT.601 luma); planes and meta pass through."""

    name = "gray"
    summary = "Convert photos to grey."

    def process_frame(self, frame: Frame) -> Frame:
        return frame.replace(pixels=to_grey(frame.pixels))


class ConvertFilter(Filter):
    """Pass frames through unchanged: read anything, write anything (with -o/--to)."""

    name = "convert"
    summary = "Pass photos through unchanged (re-encode with --to or -o)."

    def process_frame(self, frame: Frame) -> Frame:
        return frame


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(GrayFilter)
    register(ConvertFilter)
