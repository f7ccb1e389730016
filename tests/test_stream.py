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


# --- The reader under attack: it allocates what arrived, and only ever raises InputError ---

def _header_stream(header: object, body: bytes = b"") -> bytes:
    import json
    import struct

    raw = json.dumps(header).encode()
    return struct.pack("<8sB1sI", MAGIC, 1, b"F", len(raw)) + raw + body


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _peak_bytes(data: bytes) -> tuple[int, BaseException | None]:
    import tracemalloc

    tracemalloc.start()
    error = None
    try:
        list(read_stream(io.BytesIO(data), "<fuzz>"))
    except InputError as err:
        error = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize("header", [
    {"meta": {"name": "a"}, "arrays": [{"name": "pixels", "dtype": "float64",
                                          "shape": [20000, 20000]}]},  # 3.2 GB declared
    {"meta": {}, "arrays": [{"name": "pixels", "dtype": "uint8", "shape": [2**62, 4]}]},
    {"meta": {}, "arrays": [{"name": "pixels", "dtype": "uint8", "shape": [2**31, 2**31, 4]}]},
    {"meta": {"history": "not a list"}, "arrays": []},
    {"meta": {"name": 7}, "arrays": []},
    {"meta": [], "arrays": []},
    {"meta": {}, "arrays": [{"name": "pixels", "dtype": "object", "shape": [1]}]},
    {"meta": {}, "arrays": [{"name": "pixels", "dtype": "uint8", "shape": [True, 2]}]},
    {"meta": {}, "arrays": [{"name": "pixels", "dtype": "uint8", "shape": [-1, 2]}]},
    {"meta": {"x": _nested(80)}, "arrays": []},
])
def test_hostile_headers_are_refused_without_allocating(header: dict) -> None:
    peak, error = _peak_bytes(_header_stream(header, b"\x00" * 223))
    assert error is not None
    assert peak < 8 * 1024 * 1024


def test_deep_json_nesting_is_refused() -> None:
    import struct

    raw = b"[" * 100_000 + b"]" * 100_000
    data = struct.pack("<8sB1sI", MAGIC, 1, b"F", len(raw)) + raw
    with pytest.raises(InputError, match="corrupted stream header"):
        list(read_stream(io.BytesIO(data), "<stdin>"))


def test_nan_pixels_in_a_stream_are_sanitised_with_one_note() -> None:
    pixels = np.full((4, 5), 0.5, np.float32)
    pixels[0, 0], pixels[1, 1] = np.nan, np.inf
    (back,) = roundtrip([Frame(pixels, {}, {"name": "n.png"})])
    assert np.isfinite(back.pixels).all() and back.pixels[1, 1] == 1
    assert len(back.notes) == 1 and "2 pixel value(s)" in back.notes[0]


def _fuzz_settings():
    from hypothesis import HealthCheck, settings

    return settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
VALID = encoded([random_frame((6, 5, 3), seed=1, noise_mask=np.zeros((6, 5), bool)),
                 random_frame((4, 4), seed=2)])


@_fuzz_settings()
@hypothesis.given(st.binary(max_size=600))
def test_random_streams_raise_only_our_error(tail: bytes) -> None:
    peak, _ = _peak_bytes(MAGIC + tail)
    assert peak < 8 * 1024 * 1024


@_fuzz_settings()
@hypothesis.given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                           min_size=1, max_size=8),
                  st.integers(0, len(VALID)))
def test_mutated_streams_raise_only_our_error(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(VALID)
    for at, value in flips:
        data[at] = value
    peak, _ = _peak_bytes(bytes(data[:cut]))
    assert peak < 8 * 1024 * 1024
