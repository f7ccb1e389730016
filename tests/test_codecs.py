"""Image files in and out: bit depth, alpha and EXIF orientation are kept."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from oldphoto.codecs import decode_image, encode_image, read_image
from oldphoto.errors import InputError

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("shape", [(12, 10), (12, 10, 3)])
@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_sixteen_bit_roundtrip_is_lossless(tmp_path: Path, shape: tuple[int, ...],
                                           fmt: str) -> None:
    array = RNG.integers(0, 65536, shape, dtype=np.uint16)
    path = tmp_path / f"scan.{fmt}"
    if fmt == "png":
        import imagecodecs

        path.write_bytes(imagecodecs.png_encode(array))
    else:
        tifffile.imwrite(path, array)
    frame = read_image(path)
    assert frame.meta["bit_depth"] == 16
    again = decode_image(encode_image(frame, fmt), "again", "x")
    back = np.rint(again.pixels * 65535).astype(np.uint16)
    np.testing.assert_array_equal(back, array)


def test_eight_bit_stays_eight_bit(photo: Path) -> None:
    frame = read_image(photo)
    assert frame.meta["bit_depth"] == 8
    data = encode_image(frame, "png")
    np.testing.assert_array_equal(iio.imread(data), iio.imread(photo))


def test_alpha_is_kept_as_a_plane_and_written_back(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    path = tmp_path / "logo.png"
    iio.imwrite(path, rgba)
    frame = read_image(path)
    assert frame.pixels.shape == (9, 11, 3)
    assert "alpha" in frame.planes
    np.testing.assert_array_equal(iio.imread(encode_image(frame, "png")), rgba)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    from PIL import Image

    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20] = 255  # left half white
    image = Image.fromarray(wide)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif, quality=95)
    frame = read_image(path)
    assert frame.shape == (40, 20)  # displayed upright: tall
    assert frame.pixels[:10].mean() > 0.9  # the white half is now on top


def test_formats_chosen_by_name_roundtrip(photo: Path) -> None:
    frame = read_image(photo)
    for fmt in ["jpeg", "bmp", "webp", "pnm", "tiff"]:
        back = decode_image(encode_image(frame, fmt), fmt, "x")
        assert back.shape == frame.shape
        assert abs(float(back.pixels.mean()) - float(frame.pixels.mean())) < 0.02


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (bytes(RNG.integers(0, 256, 4000, dtype=np.uint8)), "not an image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x00\x00\x00\x00\x00\x08\x02\x00\x00"
         b"\x00\x00\x00\x00\x00", "no pixels"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x02\x00\x00"
         b"\x00\x00\x00\x00\x00", "too large"),
    ],
)
def test_bad_bytes_get_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        decode_image(data, "in.png", "in.png")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("in.png: ")


def test_truncated_png_is_named(photo: Path) -> None:
    data = photo.read_bytes()
    with pytest.raises(InputError, match=r"in\.png: not a readable image"):
        decode_image(data[: len(data) // 2], "in.png", "in.png")
