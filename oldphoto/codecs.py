"""Decoding and encoding ordinary image files, keeping bit depth, alpha, pages and metadata.

Decoding is in :mod:`oldphoto.decoders` (Pillow as the reference, tifffile and
imagecodecs where Pillow would cut 16-bit colour); what a scan carries (EXIF,
ICC, DPI, descriptive tags) is in :mod:`oldphoto.imagemeta`. Encoding writes
it all back: PNG through imagecodecs, TIFF through tifffile, the rest Pillow.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto import decoders
from oldphoto.decoders import sniff
from oldphoto.errors import InputError, OldphotoError
from oldphoto.frame import ALPHA, Frame
from oldphoto.imagemeta import CARRIED

#: Largest image accepted, in pixels, unless --max-pixels says otherwise. Peak memory
#: measured on a 12 MP grey scan: colourisers ~120 bytes a pixel, denoise-lr ~20, convert
#: ~13; so 100 MP (a 1200 dpi 8x10" print) needs at most ~12 GB, and absurd headers stop early.
MAX_PIXELS = 100_000_000
#: Lossy quality for JPEG and WebP, and TIFF compression (none, deflate, lzw, zstd): set by
#: the runner from --quality and --compress, as MAX_PIXELS is from --max-pixels.
QUALITY = 95
TIFF_COMPRESSION = "deflate"
TIFF_CODECS = ("none", "deflate", "lzw", "zstd")

IMAGE_EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".webp": "webp",
    ".pnm": "pnm",
    ".ppm": "pnm",
    ".pgm": "pnm",
    ".pbm": "pnm",
}
#: The one list of image file suffixes (lower case) that every folder walk uses.
IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)
FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "webp": ".webp",
                 "pnm": ".pnm", "stream": ".oldphoto"}
#: Files with this suffix hold an oldphoto stream (``--to stream``), not an image.
STREAM_SUFFIX = ".oldphoto"
SIXTEEN_BIT_FORMATS = {"png", "tiff", "pnm"}
ALPHA_FORMATS = {"png", "tiff", "webp"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every image file under ``folder`` (recursively, by suffix), sorted so runs repeat."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OldphotoError(f"{folder}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise OldphotoError(f"{folder}: no images found")
    return files


def format_of(name: str) -> str | None:
    """The format a file name asks for, by extension (case-insensitive), or None."""
    suffix = Path(name).suffix.lower()
    return "stream" if suffix == STREAM_SUFFIX else IMAGE_EXTENSIONS.get(suffix)


def normalise_format(fmt: str) -> str:
    """Accept 'jpg', '.PNG', 'tif' and friends; raise a one-line error otherwise."""
    key = fmt.lower()
    key = key if key.startswith(".") else "." + key
    if key in IMAGE_EXTENSIONS:
        return IMAGE_EXTENSIONS[key]
    if key[1:] in FORMAT_SUFFIX:
        return key[1:]
    raise OldphotoError(
        f"--to {fmt}: unsupported format (use one of png, jpg, tif, bmp, webp, pnm, stream)"
    )


def read_image(path: str | os.PathLike[str], name: str | None = None) -> Frame:
    """Read one image file (its first page) as a frame named ``name`` (default: the file name)."""
    return next(iter_pages(path, name))


def iter_pages(path: str | os.PathLike[str], name: str | None = None) -> Iterator[Frame]:
    """Every page of an image file, one frame each; a multi-page TIFF names them ``scan.tif#2``."""
    path = Path(path)
    data = read_bounded(path)
    return decode_pages(data, source=str(path), name=name or path.name)


def read_bounded(path: Path) -> bytes:
    """The bytes of an image file, refusing early what cannot be one (never reads /dev/zero whole)."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            head = handle.read(64)
            if not head:
                raise InputError(f"{path}: empty input")
            if sniff(head) is None:
                raise InputError(f"{path}: not an image in any supported format")
            if stat.S_ISREG(info.st_mode) and info.st_size > max_file_bytes():
                raise InputError(f"{path}: file too large for an image of at most "
                                 f"{MAX_PIXELS} pixels (see --max-pixels)")
            rest = handle.read(max_file_bytes() + 1 - len(head))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory (use -r to read folders)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    if len(head) + len(rest) > max_file_bytes():
        raise InputError(f"{path}: too large for an image of at most {MAX_PIXELS} pixels")
    return head + rest


def max_file_bytes() -> int:
    """No image of MAX_PIXELS pixels needs more than this many bytes, even uncompressed."""
    return MAX_PIXELS * 4 * 4 + (1 << 24)


def decode_image(data: bytes, source: str, name: str) -> Frame:
    """Decode the first page of bytes of any supported format; errors name ``source``."""
    return next(decode_pages(data, source, name))


def decode_pages(data: bytes, source: str, name: str) -> Iterator[Frame]:
    """Decode bytes of any supported format into frames, one per page."""
    if not data:
        raise InputError(f"{source}: empty input")
    fmt = sniff(data[:64])
    if fmt is None:
        raise InputError(f"{source}: not an image in any supported format")
    if fmt == "png":
        _check_png_header(data, source)
    check = partial(_check_size, source=source)
    pages = _guarded(decoders.decode_pages(data, fmt, source, check), source)
    said: set[str] = set()
    for page in pages:
        pixels, alpha, depth, notes = _to_float(page.array, source)
        planes = {ALPHA: alpha} if alpha is not None else {}
        label = name if page.count == 1 else f"{name}#{page.index}"
        meta: dict[str, Any] = {"name": label, "history": [], "bit_depth": depth,
                                "format": "png" if page.fmt == "gif" else page.fmt}
        if page.count > 1:
            meta["page"] = [page.index, page.count]
        if page.carried:
            meta[CARRIED] = page.carried
        frame = Frame(pixels, planes, meta)
        for note in page.notes + notes:
            key = "decoder" if ": decoder warning: " in note else note  # one per file, not page
            if key not in said:
                said.add(key)
                frame.notes.append(note)
        yield frame


def _guarded(pages: Iterator[decoders.Page], source: str) -> Iterator[decoders.Page]:
    """Any decoder surprise becomes one line naming the file; memory runs out the same way."""
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except InputError:
            raise
        except MemoryError:
            raise InputError(f"{source}: out of memory decoding it (lower --max-pixels, or free "
                             "memory)") from None
        except Exception as err:  # decoders raise many types; the user needs one line
            raise InputError(f"{source}: not a readable image ({_reason(err)})") from None
        yield page


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _check_size(height: int, width: int, source: str) -> None:
    if height <= 0 or width <= 0:
        raise InputError(f"{source}: image has no pixels ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise InputError(f"{source}: image is too large ({width}x{height} pixels; the limit is "
                         f"{MAX_PIXELS}, see --max-pixels)")


def _check_png_header(data: bytes, source: str) -> None:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise InputError(f"{source}: truncated or corrupt PNG header")
    width, height = struct.unpack(">II", data[16:24])
    _check_size(height, width, source)


def _to_float(array: np.ndarray,
              source: str) -> tuple[np.ndarray, np.ndarray | None, int, list[str]]:
    """Split alpha off and scale to float32 [0, 1]; also the source bit depth and any note.

    Pixels that are not numbers (NaN, inf in float files) would turn a whole
    colourised photo black; they are replaced (NaN and -inf by 0, +inf by 1),
    with one note.
    """
    array = np.asarray(array)
    notes: list[str] = []
    if array.dtype == np.bool_:
        scaled, depth = array.astype(np.float32), 8
    elif array.dtype == np.uint8:
        scaled, depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype == np.uint16:
        scaled, depth = array.astype(np.float32) / 65535.0, 16
    elif array.dtype.kind in "iu":  # Pillow's 32-bit 'I' mode holds 16-bit grey
        scaled, depth = np.clip(array.astype(np.float32) / 65535.0, 0, 1), 16
    elif array.dtype.kind == "f":
        scaled, depth = array.astype(np.float32), 16
        bad = ~np.isfinite(scaled)
        if bad.any():
            notes.append(f"{source}: warning: {int(bad.sum())} pixel value(s) were not numbers "
                         "(NaN or infinity); set to 0 (1 for +infinity)")
            scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
        scaled = np.clip(scaled, 0, 1)
    else:
        raise InputError(f"{source}: unsupported pixel type {array.dtype}")
    alpha = None
    if scaled.ndim == 3:
        channels = scaled.shape[2]
        if channels in (2, 4):
            alpha = np.ascontiguousarray(scaled[..., -1])
            scaled = scaled[..., :-1]
        if scaled.shape[2] == 1:
            scaled = scaled[..., 0]
        elif scaled.shape[2] != 3:
            raise InputError(f"{source}: unsupported channel count {channels}")
    elif scaled.ndim != 2:
        raise InputError(f"{source}: unsupported image shape {array.shape}")
    return np.ascontiguousarray(scaled), alpha, depth, notes


def _samples(frame: Frame, fmt: str) -> np.ndarray:
    """The frame as integer samples for ``fmt``: 16-bit where the source was and ``fmt`` allows."""
    sixteen = frame.meta.get("bit_depth") == 16 and fmt in SIXTEEN_BIT_FORMATS
    pixels = frame.pixels
    alpha = frame.planes.get(ALPHA)
    if alpha is not None and fmt in ALPHA_FORMATS and alpha.shape == pixels.shape[:2]:
        stacked = pixels[..., None] if pixels.ndim == 2 else pixels
        pixels = np.concatenate([stacked, alpha[..., None]], axis=2)
    scale, dtype = (65535.0, np.uint16) if sixteen else (255.0, np.uint8)
    return np.ascontiguousarray(np.rint(np.clip(pixels, 0.0, 1.0) * scale).astype(dtype))


def carried(frame: Frame) -> dict[str, Any]:
    """What the frame's source carried (EXIF, ICC, DPI, tags), or nothing."""
    value = frame.meta.get(CARRIED)
    return value if isinstance(value, dict) else {}


def encode_image(frame: Frame, fmt: str) -> bytes:
    """Encode a frame in ``fmt`` with the metadata it carries; WebP with alpha is lossless."""
    from oldphoto import imagemeta

    array = _samples(frame, fmt)
    grey = frame.is_grey
    extra = carried(frame)
    if fmt == "png":
        import imagecodecs

        return imagemeta.png_with_metadata(bytes(imagecodecs.png_encode(array)), extra, grey)
    if fmt == "tiff":
        buffer = io.BytesIO()
        with tiff_writer(buffer) as writer:
            write_tiff_page(writer, frame, array)
        return buffer.getvalue()
    if fmt == "pnm":
        return _pnm(array)
    from PIL import Image

    image = Image.fromarray(array)
    kwargs: dict[str, Any] = imagemeta.pillow_save_args(extra, fmt, grey)
    if fmt == "jpeg":
        kwargs["quality"] = QUALITY
    if fmt == "webp":
        kwargs.update({"lossless": True} if array.ndim == 3 and array.shape[2] in (2, 4)
                      else {"quality": QUALITY})
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.upper(), **kwargs)
    return buffer.getvalue()


def _pnm(array: np.ndarray) -> bytes:
    """Binary PGM or PPM, 16-bit big-endian when the samples are (Pillow cannot write 16-bit RGB)."""
    height, width = array.shape[:2]
    magic = b"P5" if array.ndim == 2 else b"P6"
    top = 65535 if array.dtype == np.uint16 else 255
    body = array.astype(">u2").tobytes() if top == 65535 else array.tobytes()
    return magic + f"\n{width} {height}\n{top}\n".encode() + body


def tiff_writer(target: Any) -> Any:
    """A TIFF writer for one or many pages (BigTIFF is not needed below 4 GB)."""
    import tifffile

    return tifffile.TiffWriter(target)


def write_tiff_page(writer: Any, frame: Frame, array: np.ndarray | None = None) -> None:
    """Append one frame as a page, with its metadata."""
    from oldphoto import imagemeta

    array = _samples(frame, "tiff") if array is None else array
    args = imagemeta.tiff_write_args(carried(frame), frame.is_grey)
    extras = "unassalpha" if array.ndim == 3 and array.shape[2] in (2, 4) else None
    compression = None if TIFF_COMPRESSION == "none" else TIFF_COMPRESSION
    writer.write(array, photometric="minisblack" if frame.is_grey else "rgb",
                 extrasamples=[extras] if extras else None, compression=compression, **args)


#: Temporary files are named ``.NAME.oldphoto-PID-RANDOM.tmp``, so each process has its own
#: and a later run can tell the ones a killed run left behind.
TEMP_PATTERN = re.compile(r"^\..+\.oldphoto-(\d+)-[^./]+\.tmp$")


def temp_file(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path``, unique to this process: (fd, its path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.oldphoto-{os.getpid()}-", suffix=".tmp",
                                    dir=path.parent)
    os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    return handle, Path(temp)


def remove_stale_temps(folder: Path) -> int:
    """Remove temporary files that a run killed outright (kill -9) left; returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = TEMP_PATTERN.match(entry.name)
        if not match or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    handle, temp = temp_file(path)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
