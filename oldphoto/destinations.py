"""Choosing where a run's frames go, before any work: the ``-o`` rules, stdout's kind.

A run that would write binary to a terminal, one image where several will
come, or into its own input tree, stops before it starts.
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oldphoto.codecs import format_of, normalise_format
from oldphoto.errors import OldphotoError
from oldphoto.outputs import (
    TERMINAL_HINT,
    NullSink,
    PathSink,
    Sink,
    StdoutFileSink,
    StreamFileSink,
    StreamSink,
)
from oldphoto.pages import check_writable

#: How ``-o`` is read, for --help and the refusals below.
OUTPUT_RULES = (
    "-o FILE.ext (one input): that file, in the format its extension names. "
    "-o NAME or -o NAME/ (any input): a folder, created if needed, mirroring the input tree. "
    "-o -.png: one image on stdout."
)


@dataclass(frozen=True)
class Count:
    """What is known before any work about how many frames will come."""

    several: bool  # several inputs, or a folder
    frames: int | None  # frames announced (files counted, stdin's stream header), None: unknown

    @property
    def many(self) -> bool:
        return self.several or (self.frames or 0) > 1


def choose_sink(output: str | None, to: str | None, overwrite: bool, count: Count,
                input_files: list[Path], input_roots: list[Path],
                stdout: BinaryIO | None = None, pass_through: bool = False) -> Sink:
    """Pick the destination by where the output goes; refuse what cannot work before any work.

    ``pass_through``: the filter's result is its report (``score``), so at a
    terminal nothing is written rather than refused.
    """
    fmt = normalise_format(to) if to else None
    if output is not None and output != "-" and not output.startswith("-."):
        return _path_sink(output, fmt, overwrite, count, input_files, input_roots)
    if output is not None and output.startswith("-."):
        named = format_of(output)
        if named is None:
            raise OldphotoError(f"-o {output}: unknown image extension (png, jpg, tif, bmp, "
                                "webp, pnm)")
        _refuse_conflict(fmt, named, output)
        fmt = named
    out = stdout if stdout is not None else sys.stdout.buffer
    fileno = _fileno(out)
    if fileno is not None and os.isatty(fileno):
        if pass_through:
            return NullSink()
        raise OldphotoError(TERMINAL_HINT)
    mode = os.fstat(fileno).st_mode if fileno is not None else 0
    regular = fileno is not None and stat.S_ISREG(mode)
    if regular:
        _refuse_appending(fileno)
        fmt = fmt or _stdout_format(fileno)
    if fmt is None or fmt == "stream":
        return StreamSink(out, count.frames)
    if count.many:
        raise OldphotoError(f"stdout takes one {fmt} image but the input has "
                            f"{count.frames if count.frames and count.frames > 1 else 'several'}"
                            "; use -o FOLDER/ (or --to stream to pipe them on)")
    return StdoutFileSink(out, fmt)


def _path_sink(output: str, fmt: str | None, overwrite: bool, count: Count,
               input_files: list[Path], input_roots: list[Path]) -> Sink:
    target = Path(output)
    inputs = {p.resolve() for p in input_files}
    named = format_of(target.name)
    if fmt == "stream" or named == "stream":
        return StreamFileSink(target, overwrite, inputs, count.frames)
    as_folder = target.is_dir() or output.endswith(("/", os.sep)) or named is None
    if as_folder and target.exists() and not target.is_dir():
        raise OldphotoError(f"-o {target}: is a file, not a folder; give a folder for the "
                            "outputs (-o NAME/)")
    if not as_folder:
        if count.many:
            raise OldphotoError(f"-o {target}: one file, but the input has several images; "
                                f"give a folder (-o {target.with_suffix('')}/)")
        _refuse_conflict(fmt, named, f"-o {target}")
    resolved = target.resolve()
    for root in input_roots:
        root = root.resolve()
        if resolved == root or root in resolved.parents:
            raise OldphotoError(f"-o {target}: output folder is inside the input folder {root}")
    check_writable(target if as_folder else target.parent, f"-o {target}")
    return PathSink(target, as_folder, fmt, overwrite, inputs)


def _refuse_conflict(to: str | None, named: str | None, where: str) -> None:
    if to is not None and named is not None and to != named:
        raise OldphotoError(f"--to {to} conflicts with {where} ({named}); drop one of them")


def _refuse_appending(fileno: int) -> None:
    """``>> existing.png`` would glue a second image onto the first: refuse it."""
    if os.fstat(fileno).st_size == 0:
        return
    appending = bool(fcntl.fcntl(fileno, fcntl.F_GETFL) & os.O_APPEND)
    how = "opened for appending (>>)" if appending else "not empty"
    raise OldphotoError(f"stdout is a file that is {how}; an image would be glued onto "
                            "what it holds: use > (or -o PATH)")


def _fileno(out: BinaryIO) -> int | None:
    try:
        return out.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _stdout_format(fileno: int) -> str:
    """The format stdout's file name asks for (``> out.jpg``), PNG when unknown."""
    try:
        name = os.readlink(f"/proc/self/fd/{fileno}")
    except OSError:
        return "png"
    return format_of(name) or "png"
