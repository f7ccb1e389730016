"""``age``: the paper's noise at the asked density, reproducible, with the truth kept."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

from oldphoto.aging import REALISTIC, Damage, apply_damage, salt_and_pepper
from oldphoto.stream import read_stream


def frames_of(data: bytes):
    return list(read_stream(io.BytesIO(data), "test"))


@pytest.mark.parametrize("density", [0.05, 0.3, 0.7])
def test_density_and_salt_share_are_what_was_asked(density: float) -> None:
    image = np.full((200, 200), 0.5, np.float32)
    noisy, mask = salt_and_pepper(image, density, np.random.default_rng(0), salt_vs_pepper=0.25)
    assert abs(mask.mean() - density) < 0.01
    assert set(np.unique(noisy[mask])) <= {0.0, 1.0}
    assert abs((noisy[mask] == 1.0).mean() - 0.25) < 0.03
    np.testing.assert_array_equal(noisy[~mask], 0.5)


def test_same_seed_same_result_and_other_seed_differs(photo: Path) -> None:
    first = invoke("age", str(photo), "--seed", "7", "--realistic")
    second = invoke("age", str(photo), "--seed", "7", "--realistic")
    third = invoke("age", str(photo), "--seed", "8", "--realistic")
    a, b, c = (frames_of(r.stdout)[0].pixels for r in (first, second, third))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_keep_original_carries_clean_input_and_true_mask(photo: Path) -> None:
    result = invoke("age", str(photo), "--seed", "1", "--density", "0.2", "--keep-original")
    (frame,) = frames_of(result.stdout)
    assert frame.is_grey
    assert frame.planes["original"].shape == (128, 96, 3)
    mask = frame.planes["true_mask"]
    assert abs(mask.mean() - 0.2) < 0.03
    assert np.isin(frame.pixels[mask], [0.0, 1.0]).all()


def test_realistic_damage_is_impulsive_where_the_mask_says() -> None:
    rng = np.random.default_rng(2)
    image = np.random.default_rng(1).random((120, 160, 3), dtype=np.float32) * 0.5 + 0.25
    aged, mask = apply_damage(image, REALISTIC, rng)
    assert aged.shape == (120, 160)
    assert 0.0 < mask.mean() < 0.05
    dust_values = aged[mask]
    assert ((dust_values < 0.25) | (dust_values > 0.75)).mean() > 0.9
    assert (np.isin(dust_values, [0.0, 1.0])).mean() < 0.5  # dust is not only pure black/white


def test_sepia_makes_a_warm_colour_image() -> None:
    aged, _ = apply_damage(np.full((10, 10), 0.6, np.float32), Damage(sepia=1.0),
                           np.random.default_rng(0))
    assert aged.shape == (10, 10, 3)
    red, green, blue = aged[0, 0]
    assert red > green > blue
