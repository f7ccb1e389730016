"""The guards that keep ``restore`` from filling a picture's own detail as damage."""

from __future__ import annotations

import numpy as np
import pytest

from oldphoto.restore.guards import not_in_a_row, part_shapes


def _line(mask: np.ndarray, start: tuple[float, float], angle_deg: float, length: int,
          width: int = 1) -> np.ndarray:
    """Draw a straight line of ``length`` px from ``start`` at ``angle_deg`` from the row axis."""
    steps = np.arange(length)
    angle = np.radians(angle_deg)
    rows = np.rint(start[0] + steps * np.cos(angle)).astype(int)
    cols = np.rint(start[1] + steps * np.sin(angle)).astype(int)
    for extra in range(width):
        mask[rows, cols + extra] = True
    return mask


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0])
def test_part_shapes_reads_a_lines_length_and_direction(angle: float) -> None:
    from scipy import ndimage

    mask = _line(np.zeros((200, 200), bool), (40, 40), angle, 100)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    shape = part_shapes(labels, count)
    assert count == 1
    assert shape["length"][1] == pytest.approx(100, rel=0.05)
    assert shape["width"][1] < 3
    expected = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    assert abs(shape["direction"][1] @ expected) > np.cos(np.radians(2))


@pytest.mark.parametrize("angle", [0.0, 25.0])
def test_a_row_of_fence_posts_is_left_alone_and_the_scratches_beside_it_are_not(angle: float) -> None:
    """Eight short parallel posts side by side (upright, or the whole fence turned) are a
    structure; two long scratches, a short curved hairline and dust specks in the same
    mask are damage."""
    height, width = 320, 480
    posts = np.zeros((height, width), bool)
    across = np.array([-np.sin(np.radians(angle)), np.cos(np.radians(angle))])
    for index in range(8):
        base = np.array([180.0 + (index % 3), 40.0]) + 30 * index * across
        _line(posts, tuple(base), angle, 40 + 5 * (index % 2), width=2)
    damage = np.zeros((height, width), bool)
    _line(damage, (10, 300), 1.0, 300)
    _line(damage, (20, 330), -2.0, 250)
    rows = 30 + np.arange(40)
    damage[rows, np.rint(420 + 8 * np.sin(rows / 9.0)).astype(int)] = True  # a curved hairline
    for y, x in [(50, 50), (290, 200), (300, 460)]:
        damage[y - 1:y + 2, x - 1:x + 2] = True
    assert not (posts & damage).any()
    kept = not_in_a_row(posts | damage)
    assert np.array_equal(kept, damage)


def test_a_few_parallel_scratches_are_still_damage() -> None:
    """Four short parallel lines are not yet a row (a scan may carry a few such scratches)."""
    mask = np.zeros((300, 300), bool)
    for index in range(4):
        _line(mask, (100, 40 + 40 * index), 0.0, 50)
    assert np.array_equal(not_in_a_row(mask), mask)


def test_rain_on_the_film_is_still_damage() -> None:
    """Many long near-vertical scratches side by side (rain on a film) are not posts."""
    mask = np.zeros((300, 400), bool)
    for index in range(10):
        _line(mask, (20 + index, 20 + 37 * index), 0.5 * (index % 3), 260)
    assert np.array_equal(not_in_a_row(mask), mask)


def test_the_true_damage_of_heavy_realistic_ageing_survives_the_guard() -> None:
    """On age --realistic x3 (12 scratches, 2/3 long and near-vertical, dust), the guard
    keeps at least 99% of the damaged pixels."""
    from oldphoto.aging import apply_damage, realistic_at

    kept = total = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        clean = np.full((321, 481), 0.5, np.float32)
        _, truth = apply_damage(clean, realistic_at(3.0), rng)
        kept += int(not_in_a_row(truth).sum())
        total += int(truth.sum())
    assert total > 0
    assert kept >= 0.99 * total
