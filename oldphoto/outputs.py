"""Where frames go: a stream on a pipe, an image file, or a mirrored folder tree.

The rule is decided once, before any work, so a run that would write binary to
a terminal, or into its own input tree, stops before it starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oldphoto.codecs import (
    FORMAT_SUFFIX,
    encode_image,
    format_of,
    remove_stale_temps,
    temp_file,
    write_atomically,
)
from oldphoto.errors import OldphotoError
from oldphoto.frame import Frame
from oldphoto.pages import PageFile, check_writable, page_of
from oldphoto.stream import StreamWriter

TERMINAL_HINT = (
    "refusing to write image data to a terminal: pipe into another oldphoto command, "
    "redirect to a file (> out.png), or use -o PATH"
)
#: Errors of the disk itself: every later write would fail the same way, so the run stops.
DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EIO}


class OutputError(OldphotoError):
    """The destination as a whole failed (a full disk, stdout gone): the run stops here."""


@dataclass
class WriteResult:
    written: Path | None = None
    skipped: str | None = None  # a reason, when nothing was written


class Sink:
    """Base of all destinations."""

    def write(self, frame: Frame) -> WriteResult:
        raise NotImplementedError

    def close(self) -> list[str]:
        """Finish the destination (end a stream); returns warnings worth a line each."""
        return []

    def abort(self) -> None:
        """The run failed: leave no half-written output behind."""


def _cannot_write(what: str, err: OSError) -> OutputError:
    return OutputError(f"{what}: cannot write ({err.strerror or err})")


class StreamSink(Sink):
    """Frames as an oldphoto stream, for the next command in a pipe."""

    def __init__(self, out: BinaryIO, total: int | None = None) -> None:
        self.writer = StreamWriter(out, total)

    def write(self, frame: Frame) -> WriteResult:
        try:
            self.writer.write(frame)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _cannot_write("stdout", err) from None
        return WriteResult()

    def close(self) -> list[str]:
        try:
            self.writer.close()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _cannot_write("stdout", err) from None
        return []


class StreamFileSink(Sink):
    """``-o saved.oldphoto`` or ``--to stream``: keep a stream in a file, to pipe on later.

    It is written under a temporary name unique to this process and renamed
    at the end, so a failed, killed or concurrent run never leaves a partial
    stream under the final name.
    """

    def __init__(self, path: Path, overwrite: bool, inputs: set[Path],
                 total: int | None = None) -> None:
        if path.resolve() in inputs:
            raise OldphotoError(f"{path}: refusing to overwrite an input")
        if path.exists() and not overwrite:
            raise OldphotoError(f"{path}: exists (use --overwrite)")
        check_writable(path.parent, f"-o {path}")
        self.path = path
        self.total = total
        self.place = str(path)
        self.temp: Path | None = None
        self.handle: BinaryIO | None = None
        self.writer: StreamWriter | None = None

    def _open(self) -> StreamWriter:
        if self.writer is None:
            remove_stale_temps(self.path.parent if str(self.path.parent) else Path("."))
            handle, self.temp = temp_file(self.path)
            self.handle = os.fdopen(handle, "wb")
            self.writer = StreamWriter(self.handle, self.total)
        return self.writer

    def write(self, frame: Frame) -> WriteResult:
        try:
            self._open().write(frame)
        except OSError as err:
            self.abort()
            raise _cannot_write(str(self.path), err) from None
        return WriteResult(written=self.path)

    def close(self) -> list[str]:
        try:
            self._open().close()
            assert self.handle is not None and self.temp is not None
            self.handle.close()
            os.replace(self.temp, self.path)
        except OSError as err:
            self.abort()
            raise _cannot_write(str(self.path), err) from None
        self.handle = None
        return []

    def abort(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None
        if self.temp is not None:
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
        data = encode_image(frame, self.fmt)
        try:
            self.out.write(data)
            self.out.flush()
        except OSError as err:
            raise _cannot_write("stdout", err) from None
        self.count += 1
        return WriteResult()


class PathSink(Sink):
    """``-o PATH``: one file, or a folder that mirrors the input tree.

    Pages of a multi-page file go into one multi-page TIFF when the output is
    TIFF, and into numbered files (``scan-2.png``) otherwise. Two frames of one
    run never land on the same path: that is refused (before any work, when
    the inputs show it; at write time otherwise).
    """

    def __init__(self, target: Path, as_folder: bool, to: str | None, overwrite: bool,
                 inputs: set[Path]) -> None:
        self.target = target
        self.as_folder = as_folder
        self.to = to
        self.overwrite = overwrite
        self.inputs = inputs
        self.source: str | None = None  # the one input of a single-file target
        self.claimed: dict[Path, str] = {}
        self.open_pages: dict[Path, PageFile] = {}
        self.skipping: set[Path] = set()
        self.cleaned: set[Path] = set()

    def destination(self, frame: Frame) -> tuple[Path, str]:
        page = page_of(frame)
        name = page[0] if page else frame.name
        path, fmt = self.destination_of(name, frame.meta.get("format"))
        if page and fmt != "tiff":
            path = path.with_name(f"{path.stem}-{page[1]}{path.suffix}")
        return path, fmt

    @property
    def place(self) -> str:
        """Where outputs go, for the end summary."""
        return f"{self.target}/" if self.as_folder else str(self.target)

    def existing(self, name: str) -> Path | None:
        """The output of input ``name`` when it exists and will be skipped: known before decoding."""
        if self.overwrite:
            return None
        try:
            path, _ = self.destination_of(name)
        except OldphotoError:
            return None
        if not path.is_file() or path.resolve() in self.inputs:
            return None
        return path

    def destination_of(self, name: str, source_format: str | None = None) -> tuple[Path, str]:
        """Where a frame named ``name`` (its path relative to the input root) is written."""
        if self.as_folder:
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise OldphotoError(f"{name}: unsafe output name")
            fmt = self.to or format_of(name) or source_format or "png"
            if fmt == "stream":
                fmt = "png"
            return self.target / relative.with_suffix(_suffix(relative, fmt)), fmt
        return self.target, self.to or format_of(self.target.name) or "png"

    def plan(self, names: list[tuple[str, str]], rename: bool = False) -> list[str]:
        """Check, before any work, that no two inputs (label, name) land on one path.

        Refused in one line; with ``rename``, the later ones get distinct names
        (``a-2.png``) instead. Returns the names to use, in order.
        """
        seen: dict[Path, str] = {}
        renamed: list[str] = []
        for label, name in names:
            renamed.append(name)
            try:
                path, _ = self.destination_of(name)
            except OldphotoError:
                continue  # reported when its turn comes
            key = Path(os.path.normcase(path.resolve()))
            if key in seen and rename:
                stem, suffix = os.path.splitext(name)
                for number in range(2, len(names) + 2):
                    name = f"{stem}-{number}{suffix}"
                    path, _ = self.destination_of(name)
                    key = Path(os.path.normcase(path.resolve()))
                    if key not in seen and not path.exists():
                        break
                renamed[-1] = name
            elif key in seen:
                raise OldphotoError(f"{seen[key]} and {label} would both be written to {path}; "
                                    "rename one, use --flatten-rename, or separate -o folders")
            seen[key] = label
        return renamed

    def write(self, frame: Frame) -> WriteResult:
        page = page_of(frame)
        source = page[0] if page else frame.name
        if not self.as_folder and self.source not in (None, source):
            raise OldphotoError(f"{frame.name}: -o {self.target} is one file but the input "
                                "has several images; give a folder (-o DIR/)")
        self.source = source
        path, fmt = self.destination(frame)
        if path.resolve() in self.inputs:
            raise OldphotoError(f"{path}: refusing to overwrite an input")
        if path in self.skipping:
            return WriteResult(skipped=f"{path} exists (use --overwrite)")
        multipage = page is not None and fmt == "tiff"
        owner = self.claimed.get(path)
        if owner is not None and not (multipage and owner == source):
            raise OldphotoError(f"{frame.name}: would overwrite {path}, written from {owner} "
                                "earlier in this run; not written")
        if owner is None and path.exists() and not self.overwrite:
            self.skipping.add(path)
            return WriteResult(skipped=f"{path} exists (use --overwrite)")
        self.claimed[path] = source
        self._clean(path.parent)
        try:
            if multipage:
                assert page is not None
                pages = self.open_pages.get(path) or PageFile(path, page[2])
                self.open_pages[path] = pages
                if pages.add(frame):
                    del self.open_pages[path]
            else:
                write_atomically(path, encode_image(frame, fmt))
        except OSError as err:
            if err.errno in DISK_ERRORS:
                raise _cannot_write(str(path), err) from None
            raise
        return WriteResult(written=path)

    def _clean(self, folder: Path) -> None:
        if folder not in self.cleaned:
            self.cleaned.add(folder)
            remove_stale_temps(folder)

    def close(self) -> list[str]:
        notes = []
        for path, pages in list(self.open_pages.items()):
            try:
                pages.finish()
            except OSError as err:
                pages.discard()
                raise _cannot_write(str(path), err) from None
            notes.append(f"{path}: only {pages.received} of {pages.pages} pages reached the "
                         "output (see the errors above); written with those")
        self.open_pages.clear()
        return notes

    def abort(self) -> None:
        for pages in self.open_pages.values():
            pages.discard()
        self.open_pages.clear()


def _suffix(relative: Path, fmt: str) -> str:
    current = relative.suffix
    if current and format_of(relative.name) == fmt:
        return current  # keep .jpeg vs .jpg, .TIF case as the user had it
    return FORMAT_SUFFIX[fmt]


class NullSink(Sink):
    """Nothing is written: a report filter (score) at a terminal, whose table is the result."""

    def write(self, frame: Frame) -> WriteResult:
        return WriteResult()
