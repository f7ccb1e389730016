"""The oldphoto frame stream: how frames travel through a Unix pipe.

Each record is ``MAGIC | version | kind | header length | JSON header | raw arrays``.
A frame record's header holds the meta and the dtype and shape of each array,
so the stream describes itself; an end record closes the stream, so a reader
can tell an upstream crash from a finished run. Frames are written and read
one at a time, so memory stays flat however many photos flow through.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from oldphoto.errors import InputError
from oldphoto.frame import Frame

MAGIC = b"OLDPHOTO"
VERSION = 1
FRAME, END = b"F", b"E"
_PREFIX = struct.Struct("<8sB1sI")  # magic, version, kind, header length
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 16 * 1024**3
ALLOWED_DTYPES = {"float32", "float64", "uint8", "uint16", "bool", "int32", "int64"}


def is_stream(first_bytes: bytes) -> bool:
    """Sniff: does this input start like an oldphoto stream?"""
    return first_bytes.startswith(MAGIC)


class StreamWriter:
    """Writes frames to a binary file object; call :meth:`close` to end the stream."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.count = 0

    def write(self, frame: Frame) -> None:
        arrays = {"pixels": frame.pixels, **{f"plane:{k}": v for k, v in frame.planes.items()}}
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        header = {
            "meta": frame.meta,
            "arrays": [
                {"name": k, "dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()
            ],
        }
        self._record(FRAME, json.dumps(header).encode("utf-8"))
        for array in arrays.values():
            self.out.write(array.data if array.size else b"")
        self.out.flush()
        self.count += 1

    def close(self) -> None:
        self._record(END, json.dumps({"frames": self.count}).encode("utf-8"))
        self.out.flush()

    def _record(self, kind: bytes, header: bytes) -> None:
        self.out.write(_PREFIX.pack(MAGIC, VERSION, kind, len(header)))
        self.out.write(header)


def read_stream(source: BinaryIO, label: str, first: bytes = b"") -> Iterator[Frame]:
    """Yield frames one at a time from ``source``; ``first`` holds bytes already sniffed.

    Raises :class:`InputError` naming ``label`` on a corrupt or truncated stream.
    """
    reader = _Reader(source, first, label)
    index = 0
    while True:
        prefix = reader.read(_PREFIX.size, f"record {index + 1}", allow_eof=True)
        if prefix is None:
            raise InputError(f"{label}: stream ended without its end record (upstream stopped early?)")
        magic, version, kind, length = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise InputError(f"{label}: corrupted stream header at frame {index + 1}")
        if version != VERSION:
            raise InputError(f"{label}: stream version {version} is not supported (expected {VERSION})")
        if length > MAX_HEADER_BYTES:
            raise InputError(f"{label}: corrupted stream header at frame {index + 1} (size {length})")
        header = _parse_header(reader.read(length, f"frame {index + 1} header"), label, index)
        if kind == END:
            return
        if kind != FRAME:
            raise InputError(f"{label}: corrupted stream header at frame {index + 1} (kind {kind!r})")
        index += 1
        yield _read_frame(reader, header, label, index)


def _parse_header(raw: bytes, label: str, index: int) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{label}: corrupted stream header at frame {index + 1}") from None
    if not isinstance(header, dict):
        raise InputError(f"{label}: corrupted stream header at frame {index + 1}")
    return header


def _read_frame(reader: _Reader, header: dict, label: str, index: int) -> Frame:
    try:
        specs = [(a["name"], np.dtype(a["dtype"]), tuple(int(n) for n in a["shape"]))
                 for a in header["arrays"]]
        meta = dict(header["meta"])
        if any(str(dt) not in ALLOWED_DTYPES or any(n < 0 for n in shape)
               for _, dt, shape in specs):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{label}: corrupted stream header at frame {index}") from None
    arrays = {}
    for name, dtype, shape in specs:
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes > MAX_ARRAY_BYTES:
            raise InputError(f"{label}: frame {index} declares an absurdly large array {shape}")
        buffer = reader.read(nbytes, f"frame {index} data")
        arrays[name] = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    if "pixels" not in arrays:
        raise InputError(f"{label}: corrupted stream header at frame {index} (no pixels)")
    planes = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("plane:")}
    try:
        return Frame(arrays["pixels"], planes, meta)
    except ValueError as err:
        raise InputError(f"{label}: frame {index}: {err}") from None


class _Reader:
    """Exact-size reads that turn a short read into a one-line truncation error."""

    def __init__(self, source: BinaryIO, first: bytes, label: str) -> None:
        self.source = source
        self.pending = first
        self.label = label

    def read(self, size: int, what: str, allow_eof: bool = False) -> bytes | None:
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = min(size, len(self.pending))
        view[:filled] = self.pending[:filled]
        self.pending = self.pending[filled:]
        while filled < size:
            got = self.source.readinto(view[filled:])
            if not got:
                break
            filled += got
        if filled == 0 and allow_eof and size:
            return None
        if filled < size:
            raise InputError(f"{self.label}: truncated stream ({what} is incomplete)")
        return buffer
