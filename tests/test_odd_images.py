"""Odd but valid images decode as the reference decoders (Pillow) decode them, and what a
scan carries (EXIF, ICC, DPI, tags, pages) survives every filter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from oldphoto.codecs import encode_image, iter_pages, read_image

RNG = np.random.default_rng(11)
RGB = RNG.integers(0, 256, (24, 36, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (24, 36), dtype=np.uint8)


def _pillow(path: Path, fmt: str, image: Image.Image, **kwargs) -> None:
    image.save(path, format=fmt, **kwargs)


def _tiff(path: Path, array: np.ndarray, **kwargs) -> None:
    tifffile.imwrite(path, array, **kwargs)


def make_odd(folder: Path) -> dict[str, Path]:
    """One file per odd mode the audit met, generated here."""
    made: dict[str, Path] = {}

    def add(name: str) -> Path:
        made[name] = folder / name
        return made[name]

    bilevel = RNG.integers(0, 2, (24, 36)).astype(bool)
    _tiff(add("bilevel-whiteiszero.tif"), bilevel, photometric="miniswhite")
    _pillow(add("bilevel-g4.tif"), "TIFF", Image.fromarray(bilevel), compression="group4")
    _tiff(add("oriented.tif"), GREY, photometric="minisblack", extratags=[(274, "H", 1, 6, True)],
          compression="zlib")
    _tiff(add("planar.tif"), np.moveaxis(RGB, -1, 0), photometric="rgb", planarconfig="separate")
    _tiff(add("planar16.tif"), np.moveaxis(RGB.astype(np.uint16) * 257, -1, 0), photometric="rgb",
          planarconfig="separate")
    _pillow(add("palette.tif"), "TIFF", Image.fromarray(RGB).quantize(32))
    _tiff(add("grey2.tif"), (GREY >> 6).astype(np.uint8), bitspersample=2, photometric="minisblack")
    _tiff(add("grey4.tif"), (GREY >> 4).astype(np.uint8), bitspersample=4, photometric="minisblack")
    lab = np.asarray(Image.fromarray(RGB).convert("LAB")) if hasattr(Image, "MODES") else RGB
    _tiff(add("cielab.tif"), lab, photometric="cielab")
    alpha = RNG.integers(0, 256, (24, 36, 1), dtype=np.uint16)
    premultiplied = np.concatenate([(RGB * alpha // 255), alpha], axis=2).astype(np.uint8)
    _tiff(add("rgba-premultiplied.tif"), premultiplied, photometric="rgb", extrasamples=["assocalpha"])
    _pillow(add("cmyk.jpg"), "JPEG", Image.fromarray(RGB).convert("CMYK"), quality=95)
    _pillow(add("cmyk.tif"), "TIFF", Image.fromarray(RGB).convert("CMYK"))
    exif = Image.Exif()
    exif[274] = 8
    _pillow(add("oriented.png"), "PNG", Image.fromarray(RGB), exif=exif)
    _pillow(add("oriented.jpg"), "JPEG", Image.fromarray(RGB), exif=exif, quality=95)
    _pillow(add("grey-palette.png"), "PNG", Image.fromarray(GREY).convert("P"))
    return made


def reference(path: Path, grey: bool) -> np.ndarray:
    """What Pillow makes of the file, oriented, as L or RGB (plus A when it has alpha)."""
    image = ImageOps.exif_transpose(Image.open(path))
    if image.mode == "LAB":
        srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
        image = ImageCms.applyTransform(image, ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
    if image.mode in ("RGBa", "RGBA"):
        return np.asarray(image.convert("RGBA"))[..., :3]
    return np.asarray(image.convert("L" if grey else "RGB"))


def test_odd_modes_decode_as_pillow_does(tmp_path: Path) -> None:
    for name, path in make_odd(tmp_path).items():
        frame = read_image(path)
        if name == "planar16.tif":  # Pillow cuts 16-bit colour; tifffile is the reference
            assert np.array_equal(np.rint(frame.pixels * 255).astype(np.uint8), RGB)
            continue
        ours = np.rint(frame.pixels * 255).astype(int)
        theirs = reference(path, frame.is_grey).astype(int)
        assert ours.shape == theirs.shape, name
        assert np.abs(ours - theirs).max() <= 1, name
        assert not frame.notes, (name, frame.notes)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_uncompressed_tiff_orientation_follows_the_spec(tmp_path: Path, orientation: int) -> None:
    """Pillow's own reader turns these wrongly, so the spec is the reference here."""
    _tiff(tmp_path / "o.tif", GREY, photometric="minisblack",
          extratags=[(274, "H", 1, orientation, True)])
    expected = {1: GREY, 2: GREY[:, ::-1], 3: GREY[::-1, ::-1], 4: GREY[::-1], 5: GREY.T,
                6: np.rot90(GREY, -1), 7: np.rot90(GREY, -1)[::-1], 8: np.rot90(GREY, 1)}[orientation]
    ours = np.rint(read_image(tmp_path / "o.tif").pixels * 255).astype(np.uint8)
    assert np.array_equal(ours, expected)


def test_cmyk_jpeg_is_not_a_negative(tmp_path: Path) -> None:
    path = make_odd(tmp_path)["cmyk.jpg"]
    ours = read_image(path).pixels * 255
    assert np.corrcoef(ours.ravel(), RGB.astype(float).ravel())[0, 1] > 0.9


def test_nan_and_inf_are_sanitised_with_one_note(tmp_path: Path) -> None:
    values = RNG.random((10, 12), dtype=np.float32)
    values[1, 1], values[2, 2], values[3, 3] = np.nan, np.inf, -np.inf
    tifffile.imwrite(tmp_path / "float.tif", values)
    frame = read_image(tmp_path / "float.tif")
    assert np.isfinite(frame.pixels).all()
    assert frame.pixels[1, 1] == 0 and frame.pixels[2, 2] == 1 and frame.pixels[3, 3] == 0
    assert len(frame.notes) == 1 and "3 pixel value(s)" in frame.notes[0]


def _corrupt_tiff(path: Path, pages: int = 3) -> None:
    """Every page's descriptive tags get an invalid type: tifffile complains about each."""
    import struct

    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for _ in range(pages):
            writer.write(GREY, photometric="minisblack", metadata=None, resolution=(300, 300))
    data = bytearray(buffer.getvalue())
    offset = struct.unpack("<I", data[4:8])[0]
    while offset:
        count = struct.unpack("<H", data[offset:offset + 2])[0]
        for entry in range(offset + 2, offset + 2 + 12 * count, 12):
            if struct.unpack("<H", data[entry:entry + 2])[0] in (282, 283, 296, 305):
                data[entry + 2:entry + 4] = struct.pack("<H", 99)
        offset = struct.unpack("<I", data[offset + 2 + 12 * count:offset + 6 + 12 * count])[0]
    path.write_bytes(bytes(data))


def test_corrupt_tiff_warnings_are_one_line_per_file(tmp_path: Path) -> None:
    from test_bad_input import invoke

    _corrupt_tiff(tmp_path / "bad.tif")
    result = invoke("convert", str(tmp_path / "bad.tif"), "-o", f"{tmp_path}/out/")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and "decoder warning" in lines[0] and "bad.tif" in lines[0]
    assert "3 done" in lines[1]
    assert len(tifffile.TiffFile(tmp_path / "out" / "bad.tif").pages) == 3


def _metadata_source(path: Path) -> None:
    exif = Image.Exif()
    exif[274] = 6
    exif[270] = "Grandma at the lake, 1931"
    exif[271] = "Epson"
    exif.get_ifd(0x8769)[0x9003] = "1931:05:01 10:00:00"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(RGB).save(path, exif=exif, icc_profile=icc, dpi=(600, 600), quality=95)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "tiff", "webp"])
def test_metadata_is_written_back(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "scan.jpg"
    _metadata_source(source)
    frame = read_image(source)
    assert frame.shape == (36, 24)  # orientation 6 applied
    written = Image.open(io.BytesIO(encode_image(frame, fmt)))
    assert written.size == (24, 36)
    assert written.info.get("icc_profile") == Image.open(source).info["icc_profile"]
    exif = written.getexif()
    assert exif.get(270) == "Grandma at the lake, 1931"
    assert exif.get(274, 1) == 1  # applied, then reset
    if fmt != "tiff":  # tifffile writes no EXIF sub-IFD: the dates stay in PNG/JPEG/WebP
        assert exif.get_ifd(0x8769).get(0x9003) == "1931:05:01 10:00:00"
    if fmt != "webp":
        assert tuple(round(v) for v in written.info["dpi"]) == (600, 600)


def test_tiff_tags_survive_a_filter_and_convert(tmp_path: Path) -> None:
    from test_bad_input import invoke

    source = tmp_path / "scan.tif"
    tifffile.imwrite(source, GREY, photometric="minisblack", description="Box 3, print 12",
                     software="ScanSoft 2", resolution=(1200, 1200), resolutionunit="INCH",
                     extratags=[(315, "s", 0, "A. Archivist", True), (33432, "s", 0, "(c) Family", True)],
                     metadata=None)
    for command in ("convert", "detect", "gray"):
        out = tmp_path / f"{command}.tif"
        assert invoke(command, str(source), "-o", str(out)).exit_code == 0
        page = tifffile.TiffFile(out).pages[0]
        tags = {tag.code: tag.value for tag in page.tags.values()}
        assert tags[270] == "Box 3, print 12" and tags[305] == "ScanSoft 2", command
        assert tags[315] == "A. Archivist" and tags[33432] == "(c) Family", command
        assert tags[282] == (1200, 1) and tags[296] == 2, command


def test_metadata_survives_a_pipe(tmp_path: Path) -> None:
    from test_bad_input import invoke

    source = tmp_path / "scan.jpg"
    _metadata_source(source)
    stream = tmp_path / "run.oldphoto"
    assert invoke("denoise-median", str(source), "-o", str(stream)).exit_code == 0
    assert invoke("convert", str(stream), "-o", str(tmp_path / "out.png")).exit_code == 0
    written = Image.open(tmp_path / "out.png")
    assert written.getexif().get_ifd(0x8769).get(0x9003) == "1931:05:01 10:00:00"
    assert written.info.get("icc_profile")


def _multipage(path: Path, pages: int, dtype: type = np.uint16) -> list[np.ndarray]:
    arrays = [RNG.integers(0, np.iinfo(dtype).max, (10, 14), dtype=dtype) for _ in range(pages)]
    with tifffile.TiffWriter(path) as writer:
        for array in arrays:
            writer.write(array, photometric="minisblack")
    return arrays


def test_multipage_tiff_is_one_frame_per_page_and_written_back(tmp_path: Path) -> None:
    from test_bad_input import invoke

    arrays = _multipage(tmp_path / "scan.tif", 3)
    frames = list(iter_pages(tmp_path / "scan.tif"))
    assert [f.name for f in frames] == ["scan.tif#1", "scan.tif#2", "scan.tif#3"]
    result = invoke("convert", str(tmp_path / "scan.tif"), "-o", f"{tmp_path}/tif/")
    assert result.exit_code == 0, result.stderr
    with tifffile.TiffFile(tmp_path / "tif" / "scan.tif") as tif:
        assert [page.asarray().tolist() for page in tif.pages] == [a.tolist() for a in arrays]
    result = invoke("gray", str(tmp_path / "scan.tif"), "--to", "png", "-o", f"{tmp_path}/png/")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "scan-1.png", "scan-2.png", "scan-3.png"]


def test_animated_gif_keeps_the_first_frame_with_one_line(tmp_path: Path) -> None:
    from test_bad_input import invoke

    frames = [Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    result = invoke("convert", "-o", str(tmp_path / "out.png"),
                    stdin=(tmp_path / "anim.gif").read_bytes())
    assert result.exit_code == 0
    assert result.stderr.count("\n") == 1 and "3 frames" in result.stderr
    assert (tmp_path / "out.png").is_file()


def test_webp_with_alpha_is_lossless() -> None:
    from oldphoto.frame import ALPHA, Frame

    alpha = RNG.random((16, 16), dtype=np.float32)
    frame = Frame(RGB[:16, :16] / 255.0, {ALPHA: np.round(alpha * 255) / 255}, {"name": "a"})
    back = np.asarray(Image.open(io.BytesIO(encode_image(frame, "webp"))))
    assert back.shape == (16, 16, 4)
    assert np.array_equal(back[..., :3], RGB[:16, :16])


@pytest.mark.parametrize("fmt", ["tiff", "png", "jpeg", "webp"])
def test_odd_metadata_never_costs_the_picture(fmt: str) -> None:
    """Non-ASCII tags and a free-text date: written (the date where the format allows it)."""
    from oldphoto.codecs import decode_image
    from oldphoto.frame import Frame

    tags = {"description": "Oma in Köln ✓", "artist": "Zoë", "datetime": "summer 1931"}
    frame = Frame(GREY / 255.0, {}, {"name": "x", "carried": {"tags": tags, "dpi": [300, 300]}})
    back = decode_image(encode_image(frame, fmt), "x", "x").meta["carried"]["tags"]
    assert back["description"] == "Oma in Köln ✓" and back["artist"] == "Zoë"
