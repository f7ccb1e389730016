"""The detector: the paper's 4-neighbour test, the extreme rule, regions, colour, the filter."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import synthetic_photo

from oldphoto.aging import salt_and_pepper
from oldphoto.detection import (
    AUTO_MAX,
    AUTO_MIN,
    DetectorSettings,
    auto_threshold,
    detect_grey,
    detect_noise,
    min_neighbour_difference,
    precision_recall,
)
from oldphoto.filters.detect import DetectFilter
from oldphoto.frame import NOISE_MASK, Frame

#: Floors the default detector must clear on salt-and-pepper (measured: >= 0.995 both).
PRECISION_FLOOR = 0.97
RECALL_FLOOR = 0.97


def test_min_neighbour_difference_flags_an_isolated_impulse_and_ignores_borders() -> None:
    image = np.full((5, 5), 0.5, np.float32)
    image[2, 2] = 1.0
    image[0, 0] = 0.0
    diff = min_neighbour_difference(image)
    assert diff[2, 2] == pytest.approx(0.5)
    assert diff[0, 0] == pytest.approx(0.5)  # corner: only its 2 real neighbours count
    assert diff[1, 1] == pytest.approx(0.0)


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.7, 0.9])
def test_precision_and_recall_above_floor_on_salt_and_pepper(density: float) -> None:
    precisions, recalls = [], []
    for seed in range(3):
        clean = synthetic_photo(seed)
        noisy, truth = salt_and_pepper(clean, density, np.random.default_rng(seed))
        precision, recall = precision_recall(detect_grey(noisy), truth)
        precisions.append(precision)
        recalls.append(recall)
    assert np.mean(precisions) >= PRECISION_FLOOR
    assert np.mean(recalls) >= RECALL_FLOOR


def test_extreme_rule_finds_twin_impulses_the_paper_test_misses() -> None:
    clean = synthetic_photo(4)
    noisy, truth = salt_and_pepper(clean, 0.5, np.random.default_rng(4))
    paper_only = detect_grey(noisy, DetectorSettings(extreme_rule=False))
    _, recall_paper = precision_recall(paper_only, truth)
    _, recall_full = precision_recall(detect_grey(noisy), truth)
    assert recall_paper < 0.6 < 0.97 < recall_full


def regions_photo() -> np.ndarray:
    """A photo with genuine pure black and pure white regions (and a 6-pixel white bar)."""
    image = synthetic_photo(7, size=128)
    image[10:60, 10:60] = 0.0
    image[70:120, 60:120] = 1.0
    image[20:50, 80:86] = 1.0
    return image


def test_pure_black_and_white_regions_are_not_flagged() -> None:
    image = regions_photo()
    mask = detect_grey(image)
    regions = (image == 0.0) | (image == 1.0)
    assert mask[regions].mean() < 0.01
    assert mask.mean() < 0.005


@pytest.mark.parametrize("density", [0.1, 0.3, 0.5])
def test_regions_survive_noise_and_noise_inside_them_is_found(density: float) -> None:
    clean = regions_photo()
    noisy, truth = salt_and_pepper(clean, density, np.random.default_rng(1))
    mask = detect_grey(noisy)
    harmful = truth & (np.abs(noisy - clean) > 0.05)  # impulses that changed the picture
    wrong = mask & ~truth
    assert mask[harmful].mean() > 0.98  # e.g. salt inside the black region
    assert wrong.sum() <= 0.01 * truth.sum()  # the regions' own pixels are left alone
    interior = np.zeros_like(clean, bool)
    interior[14:56, 14:56] = True
    untouched = interior & ~truth
    assert mask[untouched].mean() < 0.01


def test_auto_threshold_stays_within_bounds() -> None:
    for seed in range(3):
        noisy, _ = salt_and_pepper(synthetic_photo(seed), 0.2, np.random.default_rng(seed))
        assert AUTO_MIN <= auto_threshold(noisy) <= AUTO_MAX
    noisy, truth = salt_and_pepper(synthetic_photo(0), 0.2, np.random.default_rng(0))
    precision, recall = precision_recall(
        detect_grey(noisy, DetectorSettings(auto_threshold=True)), truth
    )
    assert precision >= PRECISION_FLOOR and recall >= RECALL_FLOOR


def test_colour_uses_luminance_or_each_channel() -> None:
    grey = synthetic_photo(2)
    colour = np.stack([grey, grey * 0.9, grey * 0.8], axis=2)
    noisy, truth = salt_and_pepper(colour, 0.2, np.random.default_rng(2))
    luma = detect_noise(noisy)
    each = detect_noise(noisy, per_channel=True)
    assert luma.shape == grey.shape and each.shape == colour.shape
    assert precision_recall(luma, truth)[1] >= RECALL_FLOOR


def test_saturated_colours_are_not_noise_on_luminance() -> None:
    image = np.zeros((40, 40, 3), np.float32)
    image[..., 0] = 1.0  # pure red: every channel is extreme, the pixel is not
    image[:, 20:, 1] = 0.5
    assert not detect_noise(image).any()


def test_filter_adds_the_plane_and_shows_the_mask() -> None:
    noisy, _ = salt_and_pepper(synthetic_photo(3), 0.2, np.random.default_rng(3))
    frame = Frame(noisy)
    plain = DetectFilter()
    plain.setup()
    out = plain.process_frame(frame)
    assert out.planes[NOISE_MASK].dtype == bool
    np.testing.assert_array_equal(out.pixels, noisy)
    shown = DetectFilter(show=True)
    shown.setup()
    picture = shown.process_frame(frame).pixels
    assert picture.shape == noisy.shape and set(np.unique(picture)) <= {0.0, 1.0}
    overlay = DetectFilter(show=True, show_as="overlay")
    overlay.setup()
    painted = overlay.process_frame(frame).pixels
    assert painted.shape == (*noisy.shape, 3)
    assert np.all(painted[out.planes[NOISE_MASK]] == [1.0, 0.0, 0.0])


@pytest.mark.shared
def test_precision_recall_floor_on_bsd68(shared_dir) -> None:
    from oldphoto.denoise.images import list_images, read_grey

    paths = list_images(shared_dir / "data" / "denoise" / "BSD68")[:4]
    for density in (0.1, 0.5, 0.9):
        for index, path in enumerate(paths):
            clean = read_grey(path)
            noisy, truth = salt_and_pepper(clean, density, np.random.default_rng(index))
            changed = np.abs(noisy - clean) > 0.5 / 255  # salt on a white sky changes nothing
            precision, recall = precision_recall(detect_grey(noisy), truth, changed)
            # Real photos have ragged pure-white skies whose rims count as false alarms.
            assert precision >= 0.95 and recall >= RECALL_FLOOR, (path, density)


def test_speck_rule_finds_dust_and_scratches_the_other_rules_miss() -> None:
    from oldphoto.aging import Damage, apply_damage

    clean = synthetic_photo(8, size=128)
    damaged, truth = apply_damage(clean, Damage(dust=0.01, scratches=3), np.random.default_rng(8))
    _, recall_plain = precision_recall(detect_grey(damaged), truth)
    precision, recall = precision_recall(detect_grey(damaged, DetectorSettings(specks=True)), truth)
    assert recall > recall_plain + 0.3
    assert precision > 0.7
