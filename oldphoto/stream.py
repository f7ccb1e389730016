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
RECORD_PREFIX = _PREFIX
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 16 * 1024**3
ALLOWED_DTYPES = {"float32", "float64", "uint8", "uint16", "bool", "int32", "int64"}
MAX_SIDE = 1 << 20  # no array dimension is longer than a million samples
MAX_DEPTH = 64  # JSON nesting in a header
CHUNK = 1 << 22  # arrays are read 4 MB at a time


def is_stream(first_bytes: bytes) -> bool:
    """Sniff: does this input start like an oldphoto stream?"""
    return first_bytes.startswith(MAGIC)


class StreamWriter:
    """Writes frames to a binary file object; call :meth:`close` to end the stream."""

    def __init__(self, out: BinaryIO, total: int | None = None) -> None:
        self.out = out
        self.count = 0
        self.total = total  # frames this stream will carry, when known: downstream's progress


    def write(self, frame: Frame) -> None:
        arrays = {"pixels": frame.pixels, **{f"plane:{k}": v for k, v in frame.planes.items()}}
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        header: dict = {
            **({"total": self.total} if self.total is not None else {}),
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError(f"{label}: corrupted stream header at frame {index + 1}") from None
    if not isinstance(header, dict) or _depth(header) > MAX_DEPTH:
        raise InputError(f"{label}: corrupted stream header at frame {index + 1}")
    return header


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _specs(header: dict) -> tuple[list[tuple[str, np.dtype, tuple[int, ...], int]], dict]:
    """Array specs (name, dtype, shape, bytes) and meta, every type and size checked."""
    arrays, meta = header.get("arrays"), header.get("meta")
    if not isinstance(arrays, list) or not isinstance(meta, dict) or len(arrays) > 64:
        raise ValueError
    if not isinstance(meta.get("name", ""), str) or not isinstance(meta.get("history", []), list):
        raise ValueError
    specs = []
    for spec in arrays:
        if not isinstance(spec, dict):
            raise ValueError
        name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
        if not isinstance(name, str) or dtype not in ALLOWED_DTYPES or not isinstance(shape, list):
            raise ValueError
        if len(shape) > 4 or not all(type(n) is int and 0 <= n <= MAX_SIDE for n in shape):
            raise ValueError
        nbytes = np.dtype(dtype).itemsize
        for n in shape:  # Python integers: no overflow, and bounded at every step
            nbytes *= n
            if nbytes > MAX_ARRAY_BYTES:
                raise OverflowError(tuple(shape))
        specs.append((name, np.dtype(dtype), tuple(shape), nbytes))
    return specs, meta


def _read_frame(reader: _Reader, header: dict, label: str, index: int) -> Frame:
    try:
        specs, meta = _specs(header)
    except OverflowError as err:
        raise InputError(f"{label}: frame {index} declares an absurdly large array "
                         f"{list(err.args[0])}") from None
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{label}: corrupted stream header at frame {index}") from None
    arrays = {}
    for name, dtype, shape, nbytes in specs:
        buffer = reader.read(nbytes, f"frame {index} data")
        arrays[name] = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    if "pixels" not in arrays:
        raise InputError(f"{label}: corrupted stream header at frame {index} (no pixels)")
    planes = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("plane:")}
    try:
        frame = Frame(arrays["pixels"], planes, dict(meta))
    except ValueError as err:
        raise InputError(f"{label}: frame {index}: {err}") from None
    bad = ~np.isfinite(frame.pixels)
    if bad.any():
        frame.pixels = np.clip(np.nan_to_num(frame.pixels, nan=0.0, posinf=1.0, neginf=0.0), 0, 1)
        frame.notes.append(f"{label}: frame {index} ({frame.name}): warning: {int(bad.sum())} "
                           "pixel value(s) were not numbers (NaN or infinity); set to 0 (1 for "
                           "+infinity)")
    return frame


class _Reader:
    """Exact-size reads that turn a short read into a one-line truncation error.

    Memory grows with what really arrives, never with what a header declares.
    """

    def __init__(self, source: BinaryIO, first: bytes, label: str) -> None:
        self.source = source
        self.pending = first
        self.label = label

    def read(self, size: int, what: str, allow_eof: bool = False) -> bytes | None:
        buffer = bytearray(self.pending[:size])
        self.pending = self.pending[len(buffer):]
        while len(buffer) < size:
            chunk = self.source.read(min(CHUNK, size - len(buffer)))
            if not chunk:
                break
            buffer += chunk
        if not buffer and allow_eof and size:
            return None
        if len(buffer) < size:
            raise InputError(f"{self.label}: truncated stream ({what} is incomplete)")
        return buffer
