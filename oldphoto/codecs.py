"""Decoding and encoding ordinary image files, keeping bit depth, alpha and orientation.

PNG goes through imagecodecs (Pillow cannot hold 16-bit colour), TIFF through
tifffile, everything else through imageio's Pillow plugin, which also applies
EXIF orientation.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from oldphoto.errors import InputError, OldphotoError
from oldphoto.frame import ALPHA, Frame

#: Largest image accepted, in pixels (a 20k x 20k scan). Guards against absurd headers.
MAX_PIXELS = 400_000_000

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
    """Read one image file as a frame named ``name`` (default: the file name)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory (use -r to read folders)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    return decode_image(data, source=str(path), name=name or path.name)


def decode_image(data: bytes, source: str, name: str) -> Frame:
    """Decode bytes of any supported format into a frame; errors name ``source``."""
    if not data:
        raise InputError(f"{source}: empty input")
    try:
        if data.startswith(PNG_SIGNATURE):
            _check_png_header(data, source)
            import imagecodecs

            array = imagecodecs.png_decode(data)
            fmt = "png"
        elif data.startswith(TIFF_SIGNATURES):
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages[0]
                _check_size(page.shape[0], page.shape[1], source)
                array = page.asarray()
            fmt = "tiff"
        else:
            array, fmt = _decode_with_pillow(data, source)
    except InputError:
        raise
    except Exception as err:  # decoders raise many types; the user needs one line
        raise InputError(f"{source}: not a readable image ({_reason(err)})") from None
    pixels, alpha, depth = _to_float(array, source)
    planes = {ALPHA: alpha} if alpha is not None else {}
    return Frame(pixels, planes, {"name": name, "history": [], "bit_depth": depth,
                                  "format": fmt})


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _check_size(height: int, width: int, source: str) -> None:
    if height <= 0 or width <= 0:
        raise InputError(f"{source}: image has no pixels ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise InputError(f"{source}: image is absurdly large ({width}x{height} pixels)")


def _check_png_header(data: bytes, source: str) -> None:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise InputError(f"{source}: truncated or corrupt PNG header")
    width, height = struct.unpack(">II", data[16:24])
    _check_size(height, width, source)


def _decode_with_pillow(data: bytes, source: str) -> tuple[np.ndarray, str]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            fmt = (probe.format or "").lower()
    except Image.DecompressionBombError:
        raise InputError(f"{source}: image is absurdly large") from None
    except Exception:
        raise InputError(f"{source}: not an image in any supported format") from None
    _check_size(height, width, source)
    import imageio.v3 as iio

    array = iio.imread(data, plugin="pillow", rotate=True)
    fmt = {"jpeg": "jpeg", "mpo": "jpeg", "png": "png", "tiff": "tiff", "bmp": "bmp",
           "webp": "webp", "ppm": "pnm"}.get(fmt, "png")
    return array, fmt


def _to_float(array: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Split alpha off and scale to float32 [0, 1]; returns pixels, alpha, source bit depth."""
    array = np.asarray(array)
    if array.ndim == 4:  # animations and multi-page: first frame
        array = array[0]
    if array.dtype == np.bool_:
        scaled, depth = array.astype(np.float32), 8
    elif array.dtype == np.uint8:
        scaled, depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype == np.uint16:
        scaled, depth = array.astype(np.float32) / 65535.0, 16
    elif array.dtype.kind in "iu":  # Pillow's 32-bit 'I' mode holds 16-bit grey
        scaled, depth = np.clip(array.astype(np.float32) / 65535.0, 0, 1), 16
    elif array.dtype.kind == "f":
        scaled, depth = np.clip(array.astype(np.float32), 0, 1), 16
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
    return np.ascontiguousarray(scaled), alpha, depth


def encode_image(frame: Frame, fmt: str) -> bytes:
    """Encode a frame in ``fmt``, 16-bit where the source was and the format allows."""
    sixteen = frame.meta.get("bit_depth") == 16 and fmt in SIXTEEN_BIT_FORMATS
    pixels = frame.pixels
    alpha = frame.planes.get(ALPHA)
    if alpha is not None and fmt in ALPHA_FORMATS and alpha.shape == pixels.shape[:2]:
        stacked = pixels[..., None] if pixels.ndim == 2 else pixels
        pixels = np.concatenate([stacked, alpha[..., None]], axis=2)
    scale, dtype = (65535.0, np.uint16) if sixteen else (255.0, np.uint8)
    array = np.ascontiguousarray(np.rint(np.clip(pixels, 0.0, 1.0) * scale).astype(dtype))
    if fmt == "png":
        import imagecodecs

        return bytes(imagecodecs.png_encode(array))
    if fmt == "tiff":
        import tifffile

        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array, photometric="minisblack" if array.ndim == 2 else None)
        return buffer.getvalue()
    import imageio.v3 as iio

    extension = FORMAT_SUFFIX[fmt] if fmt != "pnm" else (".pgm" if array.ndim == 2 else ".ppm")
    kwargs = {"quality": 95} if fmt == "jpeg" else {}
    return bytes(iio.imwrite("<bytes>", array, extension=extension, **kwargs))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
