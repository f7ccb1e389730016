"""Every kind of bad input ends in one line naming the input, a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli


def check_one_line_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines)


def stream_of(photo: Path) -> bytes:
    import io

    from oldphoto.codecs import read_image
    from oldphoto.stream import StreamWriter

    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    writer.write(read_image(photo))
    writer.close()
    return buffer.getvalue()


def test_empty_stdin() -> None:
    check_one_line_error(invoke("gray", "-o", "never.png", stdin=b""), "<stdin>", "empty")


def test_random_bytes() -> None:
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    check_one_line_error(invoke("gray", "-o", "never.png", stdin=noise), "<stdin>", "not an image")


def test_truncated_png(photo: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:700])
    check_one_line_error(invoke("gray", str(cut), "-o", str(tmp_path / "o.png")), "cut.png")


def test_truncated_stream(photo: Path, tmp_path: Path) -> None:
    data = stream_of(photo)
    check_one_line_error(invoke("gray", "-o", str(tmp_path / "o.png"), stdin=data[: len(data) // 2]),
                         "<stdin>", "truncated")


def test_stream_with_corrupted_header(photo: Path, tmp_path: Path) -> None:
    data = bytearray(stream_of(photo))
    start = data.index(b'{"meta"')
    data[start:start + 7] = b"\x00\x01garb"
    check_one_line_error(invoke("gray", "-o", str(tmp_path / "o.png"), stdin=bytes(data)),
                         "<stdin>", "corrupted stream header")


def test_directory_without_r(tmp_path: Path) -> None:
    check_one_line_error(invoke("gray", str(tmp_path), "-o", str(tmp_path / "o.png")),
                         str(tmp_path), "-r")


def test_missing_file(tmp_path: Path) -> None:
    check_one_line_error(invoke("gray", str(tmp_path / "nope.png"), "-o", str(tmp_path / "o.png")),
                         "nope.png", "no such")


def test_unsupported_format(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("just some words, not pixels\n" * 20)
    check_one_line_error(invoke("gray", str(text), "-o", str(tmp_path / "o.png")), "notes.png",
                         "not an image")


@pytest.mark.parametrize(("size", "needle"), [((0, 0), "no pixels"),
                                              ((200000, 300000), "too large")])
def test_zero_or_absurd_png_header(tmp_path: Path, size: tuple[int, int], needle: str) -> None:
    import struct
    import zlib

    width, height = size
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
           + struct.pack(">I", zlib.crc32(chunk)))
    path = tmp_path / "evil.png"
    path.write_bytes(png)
    check_one_line_error(invoke("gray", str(path), "-o", str(tmp_path / "o.png")), "evil.png", needle)


def test_bad_option_value_is_refused(photo: Path) -> None:
    result = run_cli("age", str(photo), "--density", "1.5")
    assert result.returncode == 2
    assert b"density" in result.stderr
    assert b"Traceback" not in result.stderr


# --- A corpus built at test time: every kind of bad, odd and tiny input, run in-process ---

def invoke(*args: str, stdin: bytes = b""):
    """The CLI in this process (fast); a traceback would surface as ``result.exception``."""
    from typer.testing import CliRunner

    from oldphoto.cli.main import build_app

    result = CliRunner().invoke(build_app(), list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result


def _png_bytes(array: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.png_encode(array))


def _encoded(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _huge_jpeg_header() -> bytes:
    """A JPEG whose SOF claims 19000 x 19000 pixels, and nothing much after it."""
    good = _encoded(np.full((16, 16), 128, np.uint8), "JPEG")
    at = good.index(b"\xff\xc0")
    return good[:at + 5] + (19000).to_bytes(2, "big") + (19000).to_bytes(2, "big") + good[at + 9:][:600]


def bad_corpus() -> dict[str, bytes]:
    """Files that must each cost one line and nothing else."""
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    encoded = {"png": _png_bytes(photo), "jpg": _encoded(photo, "JPEG"),
               "tif": _encoded(photo, "TIFF"), "webp": _encoded(photo, "WEBP"),
               "bmp": _encoded(photo, "BMP")}
    corpus: dict[str, bytes] = {}
    for ext, data in encoded.items():
        corpus[f"empty.{ext}"] = b""
        corpus[f"truncated.{ext}"] = data[: len(data) // 3]
        corpus[f"garbage.{ext}"] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
        corpus[f"header-only.{ext}"] = data[:40]
    corpus["zero.png"] = _png_bytes(photo)[:16] + b"\x00" * 8 + _png_bytes(photo)[24:]
    corpus["huge-header.jpg"] = _huge_jpeg_header()
    corpus["text.tif"] = b"II*\x00" + b"not really a tiff" * 10
    return corpus


def good_corpus() -> dict[str, bytes]:
    """Tiny and unusual but valid images that must be written."""
    import io

    import tifffile

    rng = np.random.default_rng(4)
    grey_alpha = rng.integers(0, 256, (9, 7, 2), dtype=np.uint8)
    wide = rng.integers(0, 65536, (9, 7, 3), dtype=np.uint16)
    tiff16 = io.BytesIO()
    tifffile.imwrite(tiff16, wide)
    from PIL import Image

    palette = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).quantize(16)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    corpus = {"one.png": _png_bytes(np.zeros((1, 1), np.uint8)),
              "one.jpg": _encoded(np.zeros((1, 1, 3), np.uint8), "JPEG"),
              "one.webp": _encoded(np.zeros((1, 1, 3), np.uint8), "WEBP"),
              "one.bmp": _encoded(np.zeros((1, 1, 3), np.uint8), "BMP"),
              "one.tif": _encoded(np.zeros((1, 1), np.uint8), "TIFF"),
              "grey-alpha.png": _png_bytes(grey_alpha), "palette.png": buffer.getvalue(),
              "wide.png": _png_bytes(wide), "wide.tif": tiff16.getvalue()}
    return corpus


def test_corpus_one_line_per_bad_file_and_the_rest_written(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    bad, good = bad_corpus(), good_corpus()
    for name, data in {**bad, **good}.items():
        (src / name).write_bytes(data)
    result = invoke("convert", str(src), "-r", "-o", str(out))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for name in bad:
        mentions = [line for line in lines if f"/{name}:" in line]
        assert len(mentions) == 1, (name, mentions)
        assert not (out / name).exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(good)
    assert len(lines) == len(bad) + 1  # and the summary
    assert f"{len(good)} done, 0 skipped, {len(bad)} failed" in lines[-1]
    import imagecodecs
    import imageio.v3 as iio

    assert imagecodecs.png_decode((out / "wide.png").read_bytes()).dtype == np.uint16  # stays 16-bit
    assert iio.imread(out / "wide.tif").dtype == np.uint16
    assert iio.imread(out / "grey-alpha.png").shape == (9, 7, 2)


@pytest.mark.parametrize("name", sorted(bad_corpus()))
def test_each_bad_file_alone_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bad_corpus()[name])
    result = invoke("convert", str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and name in result.stderr
    assert not (tmp_path / "out.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp left either


def test_huge_declared_jpeg_is_refused_not_rendered(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(_huge_jpeg_header())
    result = invoke("convert", str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1 and "19000x19000" in result.stderr


def test_a_device_that_never_ends_is_not_read_whole(tmp_path: Path) -> None:
    result = invoke("convert", "/dev/zero", "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1 and "/dev/zero" in result.stderr


def test_max_pixels_refuses_from_the_header(tmp_path: Path, photo: Path) -> None:
    result = invoke("convert", str(photo), "--max-pixels", "100", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 1 and "too large" in result.stderr and "--max-pixels" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_one_missing_input_among_many_costs_one_line(tmp_path: Path, photo: Path) -> None:
    out = tmp_path / "out"
    result = invoke("convert", str(photo), str(tmp_path / "nope.png"), str(tmp_path), "-o", str(out))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert sum("nope.png" in line for line in lines) == 1
    assert sum("is a directory" in line for line in lines) == 1
    assert (out / "photo.png").is_file()


def test_negative_seed_is_refused_by_option_validation(photo: Path, tmp_path: Path) -> None:
    result = invoke("age", str(photo), str(photo), "--seed", "-1", "-o", str(tmp_path / "o/"))
    assert result.exit_code == 2 and "--seed" in result.stderr
    assert not (tmp_path / "o").exists()


def test_memory_error_is_one_line_per_file_with_a_hint(tmp_path: Path, photo: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from oldphoto.filters.basic import GrayFilter

    def exhausted(self, frame):
        raise MemoryError

    monkeypatch.setattr(GrayFilter, "process_frame", exhausted)
    other = tmp_path / "other.png"
    other.write_bytes(photo.read_bytes())
    result = invoke("gray", str(photo), str(other), "-o", f"{tmp_path}/out/")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "out of memory" in line]
    assert len(errors) == 2 and all("--max-pixels" in line for line in errors)
    assert "photo.png" in errors[0] and "other.png" in errors[1]


def test_large_frames_are_batched_alone() -> None:
    from oldphoto.frame import Frame
    from oldphoto.runner import BATCH_PIXELS, _batches

    side = int(BATCH_PIXELS**0.5) + 1
    seen: list[int] = []

    def frames():
        for _ in range(3):
            seen.append(1)
            yield Frame(np.zeros((side, side), np.float32))

    for batch in _batches(frames(), 16):
        assert len(batch) == 1 and len(seen) == 1  # the next frame is not read yet
        seen.clear()
    small = [Frame(np.zeros((32, 32), np.float32)) for _ in range(40)]
    sizes = [len(b) for b in _batches(iter(small), 16)]  # batches grow from one while quick
    assert sum(sizes) == 40 and max(sizes) == 16


def test_endless_stdin_that_is_not_an_image_is_refused_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": ""}
    with open("/dev/zero", "rb") as zero:
        result = subprocess.run([sys.executable, "-m", "oldphoto", "convert", "-o",
                                 str(tmp_path / "o.png")], stdin=zero, capture_output=True,
                                timeout=120, env=env, check=False)
    assert result.returncode == 1 and b"not an image" in result.stderr
    assert len(result.stderr.splitlines()) == 1
