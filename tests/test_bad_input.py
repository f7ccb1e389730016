"""Every kind of bad input ends in one line naming the input, a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli


def check_one_line_error(result, *needles: str) -> None:
    assert result.returncode != 0
    text = result.stderr.decode()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "an error message is printed"
    for needle in needles:
        assert needle in lines[0], (needle, lines)


def stream_of(photo: Path) -> bytes:
    result = run_cli("age", str(photo), "--seed", "1")
    assert result.returncode == 0
    return result.stdout


def test_empty_stdin() -> None:
    check_one_line_error(run_cli("gray", stdin=b""), "<stdin>", "empty")


def test_random_bytes() -> None:
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    check_one_line_error(run_cli("gray", stdin=noise), "<stdin>", "not an image")


def test_truncated_png(photo: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:700])
    check_one_line_error(run_cli("gray", str(cut)), "cut.png")


def test_truncated_stream(photo: Path) -> None:
    data = stream_of(photo)
    check_one_line_error(run_cli("gray", stdin=data[: len(data) // 2]), "<stdin>", "truncated")


def test_stream_with_corrupted_header(photo: Path) -> None:
    data = bytearray(stream_of(photo))
    start = data.index(b'{"meta"')
    data[start:start + 7] = b"\x00\x01garb"
    check_one_line_error(run_cli("gray", stdin=bytes(data)), "<stdin>", "corrupted stream header")


def test_directory_without_r(tmp_path: Path) -> None:
    check_one_line_error(run_cli("gray", str(tmp_path)), str(tmp_path), "-r")


def test_missing_file(tmp_path: Path) -> None:
    check_one_line_error(run_cli("gray", str(tmp_path / "nope.png")), "nope.png", "no such")


def test_unsupported_format(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("just some words, not pixels\n" * 20)
    check_one_line_error(run_cli("gray", str(text)), "notes.png", "not an image")


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
    check_one_line_error(run_cli("gray", str(path)), "evil.png", needle)


def test_bad_option_value_is_refused(photo: Path) -> None:
    result = run_cli("age", str(photo), "--density", "1.5")
    assert result.returncode == 2
    assert b"density" in result.stderr
    assert b"Traceback" not in result.stderr
