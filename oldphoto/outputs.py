"""Where frames go: a stream on a pipe, an image file, or a mirrored folder tree.

The rule is decided once, before any work, so a run that would write binary to
a terminal, or into its own input tree, stops before it starts.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oldphoto.codecs import (
    FORMAT_SUFFIX,
    encode_image,
    format_of,
    normalise_format,
    write_atomically,
)
from oldphoto.errors import OldphotoError
from oldphoto.frame import Frame
from oldphoto.stream import StreamWriter

TERMINAL_HINT = (
    "refusing to write image data to a terminal: pipe into another oldphoto command, "
    "redirect to a file (> out.png), or use -o PATH"
)


@dataclass
class WriteResult:
    written: Path | None = None
    skipped: str | None = None  # a reason, when nothing was written


class Sink:
    """Base of all destinations."""

    def write(self, frame: Frame) -> WriteResult:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the destination (end a stream)."""

    def abort(self) -> None:
        """The run failed: leave no half-written output behind."""


class StreamSink(Sink):
    """Frames as an oldphoto stream, for the next command in a pipe."""

    def __init__(self, out: BinaryIO) -> None:
        self.writer = StreamWriter(out)

    def write(self, frame: Frame) -> WriteResult:
        self.writer.write(frame)
        return WriteResult()

    def close(self) -> None:
        self.writer.close()


class StreamFileSink(Sink):
    """``-o saved.oldphoto`` or ``--to stream``: keep a stream in a file, to pipe on later."""

    def __init__(self, path: Path, overwrite: bool, inputs: set[Path]) -> None:
        if path.resolve() in inputs:
            raise OldphotoError(f"{path}: refusing to overwrite an input")
        if path.exists() and not overwrite:
            raise OldphotoError(f"{path}: exists (use --overwrite)")
        self.path = path
        self.temp = path.with_name(f".{path.name}.tmp")
        self.handle: BinaryIO | None = None
        self.writer: StreamWriter | None = None

    def _open(self) -> StreamWriter:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.temp.open("wb")
            self.writer = StreamWriter(self.handle)
        return self.writer

    def write(self, frame: Frame) -> WriteResult:
        self._open().write(frame)
        return WriteResult(written=self.path)

    def close(self) -> None:
        self._open().close()
        assert self.handle is not None
        self.handle.close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.temp.unlink(missing_ok=True)


class StdoutFileSink(Sink):
    """Stdout redirected to a regular file: one encoded image, format from its name."""

    def __init__(self, out: BinaryIO, fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.count = 0

    def write(self, frame: Frame) -> WriteResult:
        if self.count:
            raise OldphotoError(
                f"{frame.name}: stdout is one image file but the input has several; use -o FOLDER"
            )
        self.out.write(encode_image(frame, self.fmt))
        self.out.flush()
        self.count += 1
        return WriteResult()


class PathSink(Sink):
    """``-o PATH``: one file, or a folder that mirrors the input tree."""

    def __init__(self, target: Path, as_folder: bool, to: str | None, overwrite: bool,
                 inputs: set[Path]) -> None:
        self.target = target
        self.as_folder = as_folder
        self.to = to
        self.overwrite = overwrite
        self.inputs = inputs
        self.count = 0

    def destination(self, frame: Frame) -> tuple[Path, str]:
        if self.as_folder:
            relative = Path(frame.name)
            if relative.is_absolute() or ".." in relative.parts:
                raise OldphotoError(f"{frame.name}: unsafe output name")
            fmt = self.to or format_of(frame.name) or frame.meta.get("format") or "png"
            path = self.target / relative.with_suffix(_suffix(relative, fmt))
            return path, fmt
        fmt = self.to or format_of(self.target.name) or "png"
        return self.target, fmt

    def write(self, frame: Frame) -> WriteResult:
        if not self.as_folder and self.count:
            raise OldphotoError(f"{frame.name}: -o {self.target} is one file but the input "
                                "has several images; give a folder (-o DIR/)")
        path, fmt = self.destination(frame)
        if path.resolve() in self.inputs:
            raise OldphotoError(f"{path}: refusing to overwrite an input")
        if path.exists() and not self.overwrite:
            self.count += 1
            return WriteResult(skipped=f"{path} exists (use --overwrite)")
        write_atomically(path, encode_image(frame, fmt))
        self.count += 1
        return WriteResult(written=path)


def _suffix(relative: Path, fmt: str) -> str:
    current = relative.suffix
    if current and format_of(relative.name) == fmt:
        return current  # keep .jpeg vs .jpg, .TIF case as the user had it
    return FORMAT_SUFFIX[fmt]


def choose_sink(output: str | None, to: str | None, overwrite: bool, many: bool,
                input_files: list[Path], input_roots: list[Path],
                stdout: BinaryIO | None = None) -> Sink:
    """Pick the destination by where the output goes (see the module docstring)."""
    fmt = normalise_format(to) if to else None
    if output is not None and output != "-":
        target = Path(output)
        inputs = {p.resolve() for p in input_files}
        if fmt == "stream" or format_of(target.name) == "stream":
            return StreamFileSink(target, overwrite, inputs)
        as_folder = target.is_dir() or output.endswith(("/", os.sep)) or many or bool(input_roots)
        if as_folder and target.exists() and not target.is_dir():
            raise OldphotoError(f"-o {target}: is a file, but the input has several images")
        if not as_folder and format_of(target.name) is None and fmt is None:
            raise OldphotoError(f"-o {target}: unknown image extension (use --to FORMAT or "
                                "end the path with / for a folder)")
        resolved = target.resolve()
        for root in input_roots:
            root = root.resolve()
            if resolved == root or root in resolved.parents:
                raise OldphotoError(f"-o {target}: output folder is inside the input folder {root}")
        return PathSink(target, as_folder, fmt, overwrite, inputs)
    out = stdout if stdout is not None else sys.stdout.buffer
    fileno = _fileno(out)
    if fileno is not None and os.isatty(fileno):
        raise OldphotoError(TERMINAL_HINT)
    mode = os.fstat(fileno).st_mode if fileno is not None else 0
    if fileno is not None and stat.S_ISREG(mode):
        fmt = fmt or _stdout_format(fileno)
        return StreamSink(out) if fmt == "stream" else StdoutFileSink(out, fmt)
    return StreamSink(out)


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
