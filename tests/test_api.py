"""The Python API: oldphoto.load/save/run/filters and the domain functions."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import numpy as np
import pytest

import oldphoto
from oldphoto.errors import OldphotoError


def test_import_oldphoto_and_the_domains_stays_free_of_torch() -> None:
    code = ("import sys, oldphoto, oldphoto.denoise, oldphoto.colour; "
            "oldphoto.filters(); sys.exit(int('torch' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_filters_lists_every_registered_filter_with_its_summary() -> None:
    listed = oldphoto.filters()
    assert {"age", "detect", "denoise-lr", "colorize-cnn", "score"} <= set(listed)
    assert listed["detect"].startswith("Find noisy pixels")


def test_run_scales_integer_arrays_and_matches_a_float_run() -> None:
    rng = np.random.default_rng(0)
    grey8 = rng.integers(0, 256, (24, 24), dtype=np.uint8)
    from_uint8 = oldphoto.run("age", grey8, density=0.3, seed=4)
    from_float = oldphoto.run("age", grey8.astype(np.float32) / 255, density=0.3, seed=4)
    from_uint16 = oldphoto.run("age", grey8.astype(np.uint16) * 257, density=0.3, seed=4)
    assert from_uint8.pixels.dtype == np.float32
    np.testing.assert_allclose(from_uint8.pixels, from_float.pixels, atol=1e-6)
    np.testing.assert_allclose(from_uint16.pixels, from_float.pixels, atol=1e-6)
    assert 0.2 < (~np.isclose(from_uint8.pixels, grey8 / 255, atol=1e-6)).mean() < 0.4
    assert from_uint8.meta["history"][-1]["filter"] == "age"


def test_run_chains_like_a_pipe_and_keeps_alpha() -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 128, 200
    rgba[5, 5, :3] = 255
    detected = oldphoto.run("detect", rgba)
    assert detected.planes["noise_mask"][5, 5] and detected.planes["noise_mask"].sum() == 1
    cleaned = oldphoto.run("denoise-lr", detected)
    assert abs(float(cleaned.pixels[5, 5, 0]) - 128 / 255) < 0.02
    np.testing.assert_allclose(cleaned.planes["alpha"], 200 / 255, atol=1e-6)
    assert [h["filter"] for h in cleaned.meta["history"]] == ["detect", "denoise-lr"]


@pytest.mark.parametrize(("name", "options", "message"), [
    ("nope", {}, "no filter 'nope'"),
    ("age", {"density": 2}, "--density: 2.0 is above the maximum 1.0"),
    ("age", {"colour": 1}, "unknown option"),
    ("detect", {"channels": "rgb"}, "is not one of luma, each"),
    ("age", {"device": "tpu"}, "device 'tpu'"),
])
def test_run_validates_like_the_command_line(name, options, message) -> None:
    with pytest.raises(OldphotoError, match=message):
        oldphoto.run(name, np.zeros((4, 4), np.float32), **options)


def test_run_refuses_arrays_it_cannot_read() -> None:
    with pytest.raises(OldphotoError, match="pixel type int64"):
        oldphoto.run("gray", np.zeros((4, 4), np.int64))
    with pytest.raises(OldphotoError, match="shape"):
        oldphoto.run("gray", np.zeros((4, 4, 5), np.float32))


def test_run_sets_up_a_filter_once_per_set_of_options(monkeypatch) -> None:
    from oldphoto.filters.denoise import DenoiseLRFilter

    calls = []
    original = DenoiseLRFilter.setup
    monkeypatch.setattr(DenoiseLRFilter, "setup", lambda self: calls.append(1) or original(self))
    image = np.full((8, 8), 0.5, np.float32)
    for _ in range(3):
        oldphoto.run("denoise-lr", image, window=3)
    oldphoto.run("denoise-lr", image, window=7)
    assert len(calls) == 2


def test_save_then_load_round_trips_and_writes_atomically(tmp_path) -> None:
    image = np.linspace(0, 1, 12 * 10 * 3, dtype=np.float32).reshape(12, 10, 3)
    target = tmp_path / "sub" / "out.png"
    oldphoto.save(image, target)
    loaded = oldphoto.load(target)
    np.testing.assert_allclose(loaded.pixels, image, atol=0.5 / 255 + 1e-6)
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]
    with pytest.raises(OldphotoError, match="unknown image format"):
        oldphoto.save(image, tmp_path / "out.xyz")


def test_detect_noise_none_threshold_is_the_automatic_one() -> None:
    from oldphoto.denoise import detect_noise
    from oldphoto.denoise.detect import DetectorSettings
    from oldphoto.denoise.detect import detect_noise as detect

    rng = np.random.default_rng(1)
    image = rng.random((32, 32)).astype(np.float32)
    auto = detect_noise(image, threshold=None)
    np.testing.assert_array_equal(auto, detect(image, DetectorSettings(auto_threshold=True)))
    assert not np.array_equal(auto, detect_noise(image, threshold=0.05))


def test_denoise_lr_refuses_a_mask_of_another_size() -> None:
    from oldphoto.denoise import denoise_lr

    with pytest.raises(OldphotoError, match="mask is"):
        denoise_lr(np.zeros((8, 8)), np.zeros((4, 4), bool))


@pytest.mark.parametrize("module", ["oldphoto.denoise.functions", "oldphoto.colour.functions"])
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
