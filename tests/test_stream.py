"""The frame stream: round trips of every kind of frame, flat reading, and corruption."""

from __future__ import annotations

import io

import numpy as np
import pytest

from oldphoto.errors import InputError
from oldphoto.frame import Frame
from oldphoto.stream import MAGIC, StreamWriter, is_stream, read_stream


def roundtrip(frames: list[Frame]) -> list[Frame]:
    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    for frame in frames:
        writer.write(frame)
    writer.close()
    buffer.seek(0)
    return list(read_stream(buffer, "test"))


def random_frame(shape: tuple[int, ...], seed: int = 0, **planes: np.ndarray) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(rng.random(shape, dtype=np.float32), dict(planes),
                 {"name": f"dir/img{seed}.png", "history": [{"filter": "x", "options": {}}]})


@pytest.mark.parametrize("shape", [(7, 5), (6, 9, 3)])
def test_roundtrip_is_exact_for_grey_and_rgb(shape: tuple[int, ...]) -> None:
    frame = random_frame(shape)
    (back,) = roundtrip([frame])
    assert back.pixels.dtype == np.float32
    np.testing.assert_array_equal(back.pixels, frame.pixels)
    assert back.meta == frame.meta


def test_roundtrip_keeps_planes_with_their_dtypes() -> None:
    mask = np.zeros((4, 6), bool)
    mask[1, 2] = True
    alpha = np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6)
    (back,) = roundtrip([random_frame((4, 6, 3), noise_mask=mask, alpha=alpha)])
    assert back.planes["noise_mask"].dtype == np.bool_
    np.testing.assert_array_equal(back.planes["noise_mask"], mask)
    np.testing.assert_array_equal(back.planes["alpha"], alpha)


def test_sixteen_bit_precision_survives_float32() -> None:
    levels = np.arange(65536, dtype=np.float32).reshape(256, 256) / 65535.0
    (back,) = roundtrip([Frame(levels, {}, {"name": "a", "bit_depth": 16})])
    assert np.array_equal(np.rint(back.pixels * 65535).astype(np.uint16),
                          np.arange(65536, dtype=np.uint16).reshape(256, 256))
    assert back.meta["bit_depth"] == 16


def test_many_frames_keep_their_order_and_names() -> None:
    frames = [random_frame((3 + i, 4), seed=i) for i in range(20)]
    back = roundtrip(frames)
    assert [f.name for f in back] == [f.name for f in frames]
    for a, b in zip(back, frames, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)


def test_reader_is_lazy_one_frame_at_a_time() -> None:
    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    writer.write(random_frame((4, 4)))
    # no second frame and no end record yet: the first frame must still come out
    buffer.seek(0)
    frames = read_stream(buffer, "lazy")
    assert next(frames).shape == (4, 4)
    with pytest.raises(InputError, match="without its end record"):
        next(frames)


def test_sniffing_tells_streams_from_images(photo) -> None:
    assert is_stream(MAGIC + b"\x01F")
    assert not is_stream(photo.read_bytes()[:8])


def encoded(frames: list[Frame]) -> bytes:
    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    for frame in frames:
        writer.write(frame)
    writer.close()
    return buffer.getvalue()


@pytest.mark.parametrize("cut", [5, 30, 100, -20])
def test_truncated_stream_is_one_clear_error(cut: int) -> None:
    data = encoded([random_frame((10, 10))])[:cut]
    with pytest.raises(InputError, match=r"truncated|end record"):
        list(read_stream(io.BytesIO(data), "<stdin>"))


def test_corrupted_header_is_one_clear_error() -> None:
    data = bytearray(encoded([random_frame((10, 10))]))
    start = data.index(b"{")
    data[start:start + 8] = b"#garbage"
    with pytest.raises(InputError, match="<stdin>: corrupted stream header"):
        list(read_stream(io.BytesIO(bytes(data)), "<stdin>"))


def test_unknown_version_is_refused() -> None:
    data = bytearray(encoded([random_frame((3, 3))]))
    data[8] = 99
    with pytest.raises(InputError, match="version 99"):
        list(read_stream(io.BytesIO(bytes(data)), "<stdin>"))


def test_absurd_array_shape_is_refused_before_allocating() -> None:
    frame = random_frame((3, 3))
    data = encoded([frame]).replace(b"[3, 3]", b"[9999999, 9999999]", 1)
    with pytest.raises(InputError, match=r"absurdly large|corrupted|truncated"):
        list(read_stream(io.BytesIO(data), "<stdin>"))
