"""Image bytes to pixel arrays, page by page, decoded the way the reference decoders do.

Pillow is the reference for everything it can hold (8-bit and below, palette,
bi-level WhiteIsZero, CMYK and YCCK through their ICC profile, CIELab, RGBa,
planar TIFFs, EXIF orientation); tifffile takes TIFF pages Pillow would
truncate (16-bit colour, float), and imagecodecs 16-bit colour PNG. Sizes are
checked from the header before any pixel is decoded, and whatever a decoder
mutters (Python warnings, tifffile's log, libtiff on stderr) becomes one line.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oldphoto import imagemeta
from oldphoto.errors import InputError

SizeCheck = Callable[[int, int], None]


@dataclass
class Page:
    """One decoded page: raw samples (alpha last, straight), and what the file carried."""

    array: np.ndarray
    fmt: str
    carried: dict[str, Any]
    index: int = 1
    count: int = 1
    notes: list[str] = field(default_factory=list)


def sniff(head: bytes) -> str | None:
    """The format of a file from its first bytes, or None when it is none we read."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"BM") and len(head) >= 14:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3].isspace():
        return "pnm"
    return None


def decode_pages(data: bytes, fmt: str, source: str, check: SizeCheck) -> Iterator[Page]:
    """Yield each page of ``data`` (one for most files; every page of a multi-page TIFF)."""
    if fmt == "tiff":
        yield from _tiff_pages(data, source, check)
        return
    if fmt == "png" and _png_is_wide(data):
        yield _wide_png(data, source, check)
        return
    notes: list[str] = []
    with _quiet(source, notes):
        image = _open(data, source)
        width, height = image.size
        check(height, width)
        if fmt == "jpeg":
            _check_jpeg_plausible(len(data), width, height, source)
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            notes.append(f"{source}: animated image with {frames} frames; only the first is kept")
        page = _pillow_page(image, fmt)
    page.notes = notes
    yield page


def _open(data: bytes, source: str) -> Any:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own check, from the header, comes first
    try:
        return Image.open(io.BytesIO(data))
    except Exception:
        raise InputError(f"{source}: not an image in any supported format") from None


def _check_jpeg_plausible(size: int, width: int, height: int, source: str) -> None:
    """Every 8x8 block costs at least a bit, so a tiny file cannot hold a huge image."""
    if size < width * height / 1024:
        raise InputError(f"{source}: header claims {width}x{height} pixels but the file holds "
                         f"only {size} bytes (corrupt or truncated JPEG)")


def _png_is_wide(data: bytes) -> bool:
    """16-bit colour or grey+alpha PNG: Pillow would cut it to 8 bits."""
    return len(data) > 26 and data[24] == 16 and data[25] in (2, 4, 6)


def _wide_png(data: bytes, source: str, check: SizeCheck) -> Page:
    import imagecodecs

    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    check(height, width)
    notes: list[str] = []
    with _quiet(source, notes):
        image = _open(data, source)
        carried = imagemeta.from_pillow(image, "png")
        orientation = imagemeta.orientation_of(image)
        array = imagecodecs.png_decode(data)
    return Page(orient(np.asarray(array), orientation), "png", carried, notes=notes)


def _pillow_page(image: Any, fmt: str) -> Page:
    carried = imagemeta.from_pillow(image, fmt)
    image.load()  # Pillow applies a TIFF's orientation itself while loading, and drops the tag
    orientation = imagemeta.orientation_of(image)
    array = pillow_array(image, carried)
    return Page(orient(array, orientation), fmt, carried)


def pillow_array(image: Any, carried: dict[str, Any]) -> np.ndarray:
    """Pixels of a loaded Pillow image in L, LA, RGB, RGBA, 1, I;16 or F, as Pillow sees them."""
    from PIL import ImageCms

    mode = image.mode
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in image.info
        palette = np.asarray(image.getpalette() or [0, 0, 0]).reshape(-1, 3)
        grey = bool((palette == palette[:, :1]).all())
        image = image.convert(("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB"))
    elif mode == "CMYK":
        image = _cmyk_to_rgb(image, carried)
    elif mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        image = ImageCms.applyTransform(image, ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
        carried.pop("icc_profile", None)
    elif mode in ("RGBa", "La"):
        image = image.convert(mode[0:-1] + "A")  # premultiplied: undo it, as Pillow does
    elif mode in ("YCbCr", "RGBX", "HSV"):
        image = image.convert("RGB")
    elif mode in ("L", "RGB") and "transparency" in image.info:
        image = image.convert(mode + "A" if mode == "RGB" else "LA")
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _cmyk_to_rgb(image: Any, carried: dict[str, Any]) -> Any:
    """CMYK (and YCCK) to RGB through the file's own profile when it has one."""
    from PIL import ImageCms

    icc = carried.pop("icc_profile", None)
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(imagemeta._unb64(icc) or b""))
            return ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"),
                                             outputMode="RGB")
        except Exception:
            pass  # a broken profile: fall back to the plain conversion
    return image.convert("RGB")


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF/TIFF orientation (1-8) so the picture stands as it was shot."""
    if orientation in (5, 6, 7, 8):
        array = np.swapaxes(array, 0, 1)
        flips = {5: (), 6: (1,), 7: (0, 1), 8: (0,)}[orientation]
    else:
        flips = {2: (1,), 3: (0, 1), 4: (0,)}.get(orientation, ())
    for axis in flips:
        array = np.flip(array, axis)
    return np.ascontiguousarray(array)


def _tiff_pages(data: bytes, source: str, check: SizeCheck) -> Iterator[Page]:
    import tifffile

    notes: list[str] = []
    with _quiet(source, notes):
        try:
            tif = tifffile.TiffFile(io.BytesIO(data))
            pages = [p for i, p in enumerate(tif.pages) if i == 0 or not _is_preview(p)]
        except Exception as err:
            raise InputError(f"{source}: not a readable image ({_reason(err)})") from None
    if not pages:
        raise InputError(f"{source}: not a readable image (a TIFF without any image in it)")
    with tif:
        for number, page in enumerate(pages, start=1):
            check(int(page.imagelength), int(page.imagewidth))
            with _quiet(source, notes):
                result = _tiff_page(data, page, source)
            result.index, result.count = number, len(pages)
            result.notes, notes = notes, []
            yield result


def _is_preview(page: Any) -> bool:
    """Reduced-resolution copies and masks sit in the page chain but are not pages."""
    return bool(int(getattr(page, "subfiletype", 0) or 0) & 5)


def _tiff_page(data: bytes, page: Any, source: str) -> Page:
    narrow = int(page.bitspersample) <= 8 and int(page.sampleformat) == 1
    orientation = int(page.tags[274].value) if 274 in page.tags else 1
    if orientation > 4 and int(page.compression) == 1 and int(page.photometric) in (0, 1, 2):
        narrow = False  # Pillow's own reader turns uncompressed pages 5-8 wrongly
    if narrow:
        try:
            image = _open(data, source)
            image.seek(page.index)
            return _pillow_page(image, "tiff")
        except Exception:
            pass  # what Pillow cannot open, tifffile may
    try:
        array = _tifffile_array(page, source)
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{source}: not a readable image ({_reason(err)})") from None
    return Page(orient(array, orientation), "tiff", imagemeta.from_tiff_tags(page))


def _tifffile_array(page: Any, source: str) -> np.ndarray:
    """Samples of a wide TIFF page, as (H, W[, S]) with straight alpha and black at 0."""
    array = page.asarray()
    samples = int(page.samplesperpixel)
    if samples > 1 and array.ndim == 3 and array.shape[0] == samples and int(page.planarconfig) == 2:
        array = np.moveaxis(array, 0, -1)
    photometric = int(page.photometric)
    if photometric not in (0, 1, 2):
        raise InputError(f"{source}: unsupported {page.bitspersample}-bit TIFF colour model "
                         f"(photometric {photometric})")
    bits = int(page.bitspersample)
    if array.dtype.kind in "ui" and bits not in (8, 16, 32):
        wide = np.uint16 if bits > 8 else np.uint8
        array = np.rint(array.astype(np.float64) * (np.iinfo(wide).max / (2**bits - 1))).astype(wide)
    if photometric == 0:
        array = (np.iinfo(array.dtype).max - array) if array.dtype.kind in "ui" else 1.0 - array
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    if extras and extras[0] == 1 and array.ndim == 3:
        array = _unpremultiply(array)
    return array


def _unpremultiply(array: np.ndarray) -> np.ndarray:
    scale = float(np.iinfo(array.dtype).max) if array.dtype.kind in "ui" else 1.0
    values = array.astype(np.float64)
    alpha = values[..., -1:]
    colour = np.where(alpha > 0, values[..., :-1] * scale / np.maximum(alpha, 1e-12), 0.0)
    values[..., :-1] = np.clip(colour, 0, scale)
    return values.astype(array.dtype) if array.dtype.kind == "f" else np.rint(values).astype(array.dtype)


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class _Collect(logging.Handler):
    """Decoder log lines, into the list of the ``_quiet`` call running in this thread.

    One instance serves the whole process, made at import: a handler made per
    file could be cut off by Ctrl-C inside ``logging.Handler.__init__``, half
    registered and without its lock, and logging's shutdown at exit then
    printed a traceback under the one-line interrupt message.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())


_COLLECT = _Collect()


@contextmanager
def _quiet(source: str, notes: list[str]) -> Iterator[None]:
    """Gather what decoders print (warnings, logs, C-level stderr) into at most one note."""
    lines: list[str] = []
    logger = logging.getLogger("tifffile")
    outer, propagate = getattr(_COLLECT.local, "lines", None), logger.propagate
    added = _COLLECT not in logger.handlers
    _COLLECT.local.lines = lines
    logger.addHandler(_COLLECT)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught, _c_stderr(lines):
            warnings.simplefilter("always")
            yield
    finally:
        if added:
            logger.removeHandler(_COLLECT)
        _COLLECT.local.lines = outer
        logger.propagate = propagate
        lines[:0] = [str(w.message) for w in caught] if "caught" in locals() else []
        lines = [line.strip() for line in lines if line.strip() and "\x1b" not in line]
        if lines:
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            notes.append(f"{source}: decoder warning: {lines[0].splitlines()[0][:200]}{more}")


@contextmanager
def _c_stderr(lines: list[str]) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file meanwhile (libtiff writes there itself)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read(65536).decode("utf-8", "replace").splitlines())
