"""What a scan carries besides its pixels: EXIF, ICC profile, resolution and descriptive tags.

Read with Pillow (or tifffile's tags), kept JSON-able in ``frame.meta["carried"]``
so that it travels through streams, and written back by every encoder in the
way each format allows. Orientation is applied on reading, so the EXIF that
travels says 1.
"""

from __future__ import annotations

import base64
import contextlib
import re
import struct
import zlib
from typing import Any

CARRIED = "carried"
ORIENTATION = 274
#: Descriptive TIFF/EXIF IFD0 tags, by Pillow tag id, under the names we carry them.
TAG_IDS = {"description": 270, "make": 271, "model": 272, "software": 305, "datetime": 306,
           "artist": 315, "copyright": 33432}
#: PNG text keywords (the PNG spec's names) for the same tags.
PNG_KEYWORDS = {"description": "Description", "artist": "Author", "copyright": "Copyright",
                "software": "Software", "datetime": "Creation Time"}
_SUB_IFDS = (0x8769, 0x8825)  # EXIF and GPS
_DATETIME = re.compile(r"^\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif isinstance(value, str) and not value.isascii():
        with contextlib.suppress(UnicodeError):  # UTF-8 that Pillow read as Latin-1
            value = value.encode("latin-1").decode("utf-8")
    if isinstance(value, tuple | list) and value and isinstance(value[0], str):
        value = value[0]
    if not isinstance(value, str):
        return None
    value = value.strip("\x00").strip()
    if value.startswith('{"shape":'):
        return None  # tifffile's own record of the array shape, not a description
    return value or None


def from_pillow(image: Any, fmt: str) -> dict[str, Any]:
    """What a Pillow image carries, before orientation is applied (that is the caller's)."""
    carried: dict[str, Any] = {}
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and icc:
        carried["icc_profile"] = _b64(icc)
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        with contextlib.suppress(TypeError, ValueError):
            carried["dpi"] = [round(float(dpi[0]), 4), round(float(dpi[1]), 4)]
    tags: dict[str, str] = {}
    try:
        exif = image.getexif()
    except Exception:  # a corrupt EXIF block must not cost the picture
        exif = None
    if exif is not None and len(exif):
        for name, tag in TAG_IDS.items():
            text = _text(exif.get(tag))
            if text:
                tags[name] = text
        clean = _clean_exif(exif)
        if clean is not None:
            carried["exif"] = clean
    if fmt == "png":
        for name, keyword in PNG_KEYWORDS.items():
            text = _text(image.info.get(keyword))
            if text and name not in tags:
                tags[name] = text
    if tags:
        carried["tags"] = tags
    return carried


def _clean_exif(exif: Any) -> str | None:
    """EXIF without TIFF structure tags (offsets, sizes) and with orientation reset to 1."""
    from PIL import Image

    clean = Image.Exif()
    for tag, value in exif.items():
        if tag in _SUB_IFDS or (tag < 0x010E and tag != ORIENTATION):
            continue  # 0x0100-0x010D describe a TIFF's own layout
        if tag in (273, 279, 282, 283, 296, 284, 277, 278, 322, 323, 324, 325, 338, 339, 34675):
            continue
        clean[tag] = value
    for ifd in _SUB_IFDS:
        try:
            values = exif.get_ifd(ifd)
        except Exception:
            continue
        if values:
            clean.get_ifd(ifd).update(values)
    if ORIENTATION in clean:
        clean[ORIENTATION] = 1
    try:
        data = clean.tobytes()
    except Exception:
        return None
    return _b64(data) if len(clean) or any(clean.get_ifd(i) for i in _SUB_IFDS) else None


def orientation_of(image: Any) -> int:
    """The EXIF orientation (1-8) a Pillow image declares; 1 when none or nonsense."""
    try:
        value = int(image.getexif().get(ORIENTATION, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def from_tiff_tags(page: Any) -> dict[str, Any]:
    """The same from tifffile's tags, for pages Pillow cannot open."""
    carried: dict[str, Any] = {}
    tags = {tag.code: tag.value for tag in page.tags.values()}
    icc = tags.get(34675)
    if isinstance(icc, bytes) and icc:
        carried["icc_profile"] = _b64(icc)
    x, y, unit = tags.get(282), tags.get(283), tags.get(296, 2)
    if x and y and int(unit) in (2, 3):
        per = 2.54 if int(unit) == 3 else 1.0
        with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
            carried["dpi"] = [round(_rational(x) * per, 4), round(_rational(y) * per, 4)]
    text = {name: _text(tags.get(tag)) for name, tag in TAG_IDS.items()}
    text = {k: v for k, v in text.items() if v}
    if text:
        carried["tags"] = text
    return carried


def _rational(value: Any) -> float:
    if isinstance(value, tuple):
        return float(value[0]) / float(value[1])
    return float(value)


def profile_fits(carried: dict[str, Any], grey: bool) -> bytes | None:
    """The ICC profile, when its colour space matches the pixels written (grey or RGB)."""
    icc = _unb64(carried.get("icc_profile"))
    if icc is None or len(icc) < 20:
        return None
    space = icc[16:20]
    return icc if space == (b"GRAY" if grey else b"RGB ") else None


def pillow_save_args(carried: dict[str, Any], fmt: str, grey: bool) -> dict[str, Any]:
    """Keyword arguments for ``Image.save`` that write what the frame carries."""
    args: dict[str, Any] = {}
    exif = _unb64(carried.get("exif")) or _exif_from_tags(carried)
    icc = profile_fits(carried, grey)
    if exif and fmt in ("jpeg", "webp"):
        args["exif"] = exif
    if icc and fmt in ("jpeg", "webp"):
        args["icc_profile"] = icc
    dpi = carried.get("dpi")
    if fmt in ("jpeg", "bmp") and _valid_dpi(dpi):
        args["dpi"] = (float(dpi[0]), float(dpi[1]))
    return args


def _exif_from_tags(carried: dict[str, Any]) -> bytes | None:
    """EXIF holding the descriptive tags, for a source that had them but no EXIF (PNG, TIFF)."""
    tags = carried.get("tags") if isinstance(carried.get("tags"), dict) else {}
    if not tags:
        return None
    from PIL import Image

    exif = Image.Exif()
    for name, value in tags.items():
        if name in TAG_IDS and isinstance(value, str):
            exif[TAG_IDS[name]] = value if value.isascii() else value.encode("utf-8")
    try:
        return exif.tobytes() if len(exif) else None
    except Exception:
        return None


def _valid_dpi(dpi: Any) -> bool:
    return (isinstance(dpi, list) and len(dpi) == 2
            and all(isinstance(v, int | float) and 0 < v < 1e6 for v in dpi))


def tiff_write_args(carried: dict[str, Any], grey: bool) -> dict[str, Any]:
    """Keyword arguments for ``tifffile.TiffWriter.write`` (EXIF sub-IFDs are not written)."""
    tags = carried.get("tags") if isinstance(carried.get("tags"), dict) else {}
    args: dict[str, Any] = {}
    extratags: list[tuple] = []
    for name, value in tags.items():
        if not isinstance(value, str) or name not in TAG_IDS:
            continue
        if name == "datetime":
            if _DATETIME.match(value):  # tifffile refuses any other spelling
                args["datetime"] = value
            continue
        raw = value.encode("utf-8")  # bytes: tifffile refuses str beyond 7-bit ASCII
        if name in ("description", "software"):
            args[name] = raw
        else:
            extratags.append((TAG_IDS[name], "s", 0, raw, True))
    icc = profile_fits(carried, grey)
    if icc:
        extratags.append((34675, "B", len(icc), icc, True))
    dpi = carried.get("dpi")
    if _valid_dpi(dpi):
        args["resolution"] = (float(dpi[0]), float(dpi[1]))
        args["resolutionunit"] = "INCH"
    args.setdefault("software", False)
    args["metadata"] = None  # no tifffile JSON in the description
    if extratags:
        args["extratags"] = extratags
    return args


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_metadata(png: bytes, carried: dict[str, Any], grey: bool) -> bytes:
    """Insert iCCP, pHYs, eXIf and text chunks right after the IHDR of an encoded PNG."""
    chunks = []
    icc = profile_fits(carried, grey)
    if icc:
        chunks.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    dpi = carried.get("dpi")
    if _valid_dpi(dpi):
        chunks.append(_chunk(b"pHYs", struct.pack(">IIB", round(dpi[0] / 0.0254),
                                                  round(dpi[1] / 0.0254), 1)))
    exif = _unb64(carried.get("exif"))
    if exif:
        chunks.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    tags = carried.get("tags") if isinstance(carried.get("tags"), dict) else {}
    for name, keyword in PNG_KEYWORDS.items():
        value = tags.get(name)
        if isinstance(value, str):
            text = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")
            chunks.append(_chunk(b"iTXt", text))
    if not chunks:
        return png
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + b"".join(chunks) + png[end_of_ihdr:]
