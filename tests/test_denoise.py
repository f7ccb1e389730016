"""denoise-lr and the classical baselines: layout, masks, training, quality vs baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _synthetic import synthetic_photo

from oldphoto.aging import salt_and_pepper
from oldphoto.denoise.classical import adaptive_median, damf, fill_from_clean, median3
from oldphoto.denoise.detect import detect_grey
from oldphoto.denoise.features import feature_count, window_features
from oldphoto.denoise.regression import LinearDenoiser, load_denoiser, shipped_weights
from oldphoto.denoise.training import TrainingPlan, train
from oldphoto.errors import OldphotoError
from oldphoto.filters.denoise import DAMFFilter, DenoiseLRFilter, MedianFilter
from oldphoto.frame import NOISE_MASK, Frame
from oldphoto.metrics import psnr


def test_feature_counts_match_the_paper() -> None:
    assert [feature_count(w) for w in (3, 5, 7)] == [22, 66, 134]


def test_66_feature_layout() -> None:
    patch = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    features = window_features(patch)[0]
    assert features.shape == (66,)
    assert features[0] == 1.0  # intercept
    np.testing.assert_array_equal(features[1:26], np.arange(25))  # pixels, row by row
    np.testing.assert_array_equal(features[26:46], np.full(20, 5.0))  # row i+1 minus row i
    np.testing.assert_array_equal(features[46:66], np.full(20, 1.0))  # col j+1 minus col j


def random_model(variant: str = "default") -> LinearDenoiser:
    weights = np.random.default_rng(0).normal(0, 0.05, (2, 1, 66))
    return LinearDenoiser(5, variant, weights, np.array([0.0, 1.0]))


@pytest.mark.parametrize("variant", ["paper", "default"])
def test_only_flagged_pixels_change(variant: str) -> None:
    noisy, truth = salt_and_pepper(synthetic_photo(0), 0.3, np.random.default_rng(0))
    out = random_model(variant).denoise(noisy, truth)
    np.testing.assert_array_equal(out[~truth], noisy[~truth])
    assert np.any(out[truth] != noisy[truth])


def test_filter_keeps_unflagged_pixels_in_colour_with_either_mask_shape() -> None:
    grey = synthetic_photo(1)
    colour = np.stack([grey, grey * 0.8, 1 - grey], axis=2)
    noisy, truth = salt_and_pepper(colour, 0.2, np.random.default_rng(1))
    filt = DenoiseLRFilter()
    filt.setup()
    for mask in (truth, np.repeat(truth[..., None], 3, axis=2)):
        out = filt.process_frame(Frame(noisy, planes={NOISE_MASK: mask})).pixels
        assert out.shape == colour.shape
        np.testing.assert_array_equal(out[~truth], noisy[~truth])
        assert psnr(out, colour) > psnr(noisy, colour) + 10


def test_filter_runs_the_detector_when_no_mask_came_along() -> None:
    clean = synthetic_photo(2)
    noisy, _ = salt_and_pepper(clean, 0.2, np.random.default_rng(2))
    filt = DenoiseLRFilter(variant="paper")
    filt.setup()
    out = filt.process_frame(Frame(noisy))
    assert NOISE_MASK in out.planes
    assert psnr(out.pixels, clean) > psnr(noisy, clean) + 10


def held_out_error(model: LinearDenoiser, images: list[np.ndarray], density: float) -> float:
    errors = []
    for seed, clean in enumerate(images):
        noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(100 + seed))
        errors.append(np.mean((model.denoise(noisy, detect_grey(noisy)) - clean) ** 2))
    return float(np.mean(errors))


@pytest.mark.parametrize("solver", ["lstsq", "sgd"])
def test_training_reduces_held_out_error(solver: str) -> None:
    training = [synthetic_photo(seed) for seed in range(4)]
    held_out = [synthetic_photo(seed) for seed in range(10, 13)]
    plan = TrainingPlan(densities=(0.3,), variant="paper", solver=solver, sgd_epochs=3)
    untrained = LinearDenoiser(5, "paper", np.zeros(66), np.array([0.0, 1.0]))
    trained = train(training, plan)
    assert held_out_error(trained, held_out, 0.3) < 0.5 * held_out_error(untrained, held_out, 0.3)
    # ... and the default variant's regression improves on its own pre-fill.
    default = train(training, TrainingPlan(densities=(0.3,), stages=1))
    fill_errors = []
    for seed, clean in enumerate(held_out):
        noisy, _ = salt_and_pepper(clean, 0.3, np.random.default_rng(100 + seed))
        fill_errors.append(np.mean((fill_from_clean(noisy, detect_grey(noisy)) - clean) ** 2))
    assert held_out_error(default, held_out, 0.3) < float(np.mean(fill_errors))


def test_shipped_default_beats_median_and_damf_on_synthetic_photos() -> None:
    images = [synthetic_photo(seed, size=128) for seed in range(20, 24)]
    filt = DenoiseLRFilter()
    filt.setup()
    for density in (0.1, 0.5):
        ours, median, damf_scores = [], [], []
        for seed, clean in enumerate(images):
            noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(seed))
            ours.append(psnr(filt.process_frame(Frame(noisy)).pixels, clean))
            median.append(psnr(median3(noisy), clean))
            damf_scores.append(psnr(damf(noisy), clean))
        assert np.mean(ours) > np.mean(median) + 3.0, density
        assert np.mean(ours) > np.mean(damf_scores) + 0.5, density


def test_weights_round_trip_and_record(tmp_path) -> None:
    model = random_model()
    model.record = {"command": "test"}
    path = tmp_path / "w.npz"
    model.save(path)
    loaded = load_denoiser(path)
    np.testing.assert_allclose(loaded.weights, model.weights.astype(np.float32))
    assert loaded.record["command"] == "test" and loaded.window == 5
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["record"]))["variant"] == "default"


def test_bad_weights_file_is_a_one_line_error(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(OldphotoError):
        load_denoiser(bad)
    with pytest.raises(OldphotoError):
        load_denoiser(tmp_path / "missing.npz")


def test_shipped_weights_say_how_they_were_made() -> None:
    for variant in ("default", "paper"):
        record = load_denoiser(shipped_weights(variant, 5)).record
        assert record["command"].startswith("oldphoto train denoise-lr")
        assert {"data", "seed", "densities", "solver", "date", "metrics"} <= set(record)


def test_median_removes_a_lone_impulse() -> None:
    image = np.full((9, 9), 0.4, np.float32)
    image[4, 4] = 1.0
    np.testing.assert_allclose(median3(image), 0.4)


def test_adaptive_median_keeps_clean_pixels_and_fixes_impulses() -> None:
    clean = synthetic_photo(5)
    noisy, truth = salt_and_pepper(clean, 0.3, np.random.default_rng(5))
    out = adaptive_median(noisy)
    assert psnr(out, clean) > psnr(median3(noisy), clean)
    assert np.mean(out[~truth] == noisy[~truth]) > 0.95


def test_damf_changes_only_extremes_and_beats_amf_at_high_density() -> None:
    clean = synthetic_photo(6)
    noisy, truth = salt_and_pepper(clean, 0.7, np.random.default_rng(6))
    out = damf(noisy)
    np.testing.assert_array_equal(out[~truth], noisy[~truth])
    assert psnr(out, clean) > psnr(adaptive_median(noisy), clean) + 3


def test_fill_from_clean_grows_its_window() -> None:
    image = np.full((30, 30), 0.3, np.float32)
    noisy = np.zeros_like(image, bool)
    noisy[5:20, 5:20] = True  # the centre is 7 pixels from any clean one
    image[noisy] = 1.0
    np.testing.assert_allclose(fill_from_clean(image, noisy), 0.3)


def test_classical_filters_work_on_colour() -> None:
    grey = synthetic_photo(7)
    colour = np.stack([grey, grey, grey * 0.5], axis=2)
    noisy, _ = salt_and_pepper(colour, 0.2, np.random.default_rng(7))
    for filt in (MedianFilter(), DAMFFilter()):
        out = filt.process_frame(Frame(noisy)).pixels
        assert out.shape == colour.shape and psnr(out, colour) > psnr(noisy, colour) + 10


@pytest.mark.shared
def test_default_beats_damf_on_set12(shared_dir) -> None:
    from oldphoto.denoise.images import list_images, read_grey

    paths = list_images(shared_dir / "data" / "denoise" / "Set12")[:3]
    model = load_denoiser(shipped_weights("default", 5))
    for density in (0.3, 0.7):
        ours, baseline = [], []
        for seed, path in enumerate(paths):
            clean = read_grey(path)
            noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(seed))
            ours.append(psnr(model.denoise(noisy, detect_grey(noisy)), clean))
            baseline.append(psnr(damf(noisy), clean))
        assert np.mean(ours) > np.mean(baseline) + 0.5, density


@pytest.mark.parametrize("window", [3, 5, 7])
def test_folded_weights_predict_exactly_what_the_66_features_do(window: int) -> None:
    from oldphoto.denoise.features import fold_weights

    rng = np.random.default_rng(window)
    patches = rng.random((50, window, window)).astype(np.float32)
    weights = rng.normal(size=feature_count(window))
    folded = fold_weights(weights, window)
    direct = window_features(patches).astype(np.float64) @ weights
    via_fold = patches.reshape(50, -1).astype(np.float64) @ folded[1:] + folded[0]
    np.testing.assert_allclose(via_fold, direct, rtol=1e-5, atol=1e-5)


def test_windowed_dot_equals_gather_then_product() -> None:
    from oldphoto.denoise.windows import gather, padded, windowed_dot

    rng = np.random.default_rng(3)
    image = rng.random((20, 30)).astype(np.float32)
    rows, cols = np.nonzero(rng.random((20, 30)) < 0.3)
    weights = rng.normal(size=25).astype(np.float32)
    source = padded(image, 2)
    expected = gather(source, rows, cols, 5, 2) @ weights + 0.5
    np.testing.assert_allclose(windowed_dot(source, rows, cols, 5, 2, weights, 0.5), expected,
                               rtol=1e-5, atol=1e-5)


def test_flat_nonzero_matches_numpy_at_any_density() -> None:
    from oldphoto.denoise.windows import flat_nonzero

    rng = np.random.default_rng(4)
    for size in (0, 1, 7, 63, 64, 1001, 100_003):
        for density in (0.0, 0.001, 0.05, 0.099, 0.3, 1.0):
            mask = rng.random(size) < density
            np.testing.assert_array_equal(flat_nonzero(mask), np.flatnonzero(mask))
    square = rng.random((123, 77)) < 0.05
    np.testing.assert_array_equal(flat_nonzero(square), np.flatnonzero(square))


def test_sorting_network_orders_the_five_smallest_of_eight() -> None:
    """By the 0-1 principle, checking every 0/1 input proves it for all inputs."""
    from itertools import product

    from oldphoto.denoise.classical import LOWER_FIVE_OF_EIGHT

    for bits in product((0, 1), repeat=8):
        values = list(bits)
        for i, j in LOWER_FIVE_OF_EIGHT:
            values[i], values[j] = min(values[i], values[j]), max(values[i], values[j])
        assert values[:5] == sorted(bits)[:5], bits


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (3, 4), (40, 57)])
def test_refresh_mirror_redoes_the_padding(shape: tuple[int, int]) -> None:
    from oldphoto.denoise.windows import padded, refresh_mirror

    rng = np.random.default_rng(shape[0])
    for radius in (1, 2, 3):
        image = rng.random(shape).astype(np.float32)
        source = padded(image, radius)
        changed = rng.random(shape).astype(np.float32)
        source[radius : radius + shape[0], radius : radius + shape[1]] = changed
        refresh_mirror(source, radius)
        np.testing.assert_array_equal(source, padded(changed, radius))


@pytest.mark.parametrize("density", [0.05, 0.3, 0.6, 0.9, 0.97])
def test_prefill_gives_exactly_fill_from_clean(density: float) -> None:
    """The fast pre-fill (sorting network, then growing windows for the rest) is DAMF's fill."""
    from oldphoto.denoise.regression import prefill
    from oldphoto.denoise.windows import padded, padded_index

    clean = synthetic_photo(11, size=70)
    clean[10:30, 0:25] = 0.0  # a black region at the border
    noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(11))
    block = np.zeros(noisy.shape, bool)
    block[5:68, 3:66] = True  # its middle is beyond 21x21 windows: the clean-median fallback
    masks = (detect_grey(noisy), np.random.default_rng(1).random(noisy.shape) < density, block,
             np.ones(noisy.shape, bool))
    for mask in masks:
        for radius in (1, 2, 3):
            source = padded(noisy, radius)
            centres = padded_index(np.flatnonzero(mask), noisy.shape[1], radius)
            prefill(source, noisy, mask, centres, radius)
            np.testing.assert_array_equal(source, padded(fill_from_clean(noisy, mask), radius))


@pytest.mark.parametrize("window", [3, 5, 7])
def test_denoise_matches_the_plain_formulation(window: int) -> None:
    """Pre-fill, then each round as (design matrix @ weights) on a fresh copy, as first written."""
    from oldphoto.denoise.regression import stage_features

    model = load_denoiser(shipped_weights("default", window))
    clean = synthetic_photo(12, size=64)
    for density in (0.1, 0.5):
        noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(12))
        mask = detect_grey(noisy)
        rows, cols = np.nonzero(mask)
        source = fill_from_clean(noisy, mask)
        for stage in range(model.stages):
            weights = model.weights[stage, model.band(float(mask.mean()))]
            design = stage_features(source, rows, cols, window, model.extras, mask)
            source = source.copy()
            source[rows, cols] = np.clip(design @ weights, 0.0, 1.0)
        np.testing.assert_allclose(model.denoise(noisy, mask), source, rtol=0, atol=1e-5)


def test_extras_match_a_per_pixel_reference() -> None:
    """Edge-directed means, clean means and the sorted 3x3 window, pixel by pixel."""
    from oldphoto.denoise.extras import EXTRAS, extra_features
    from oldphoto.denoise.windows import padded

    rng = np.random.default_rng(4)
    image = rng.random((23, 31)).astype(np.float32)
    image[rng.random(image.shape) < 0.2] = 0.5  # ties between directions
    mask = rng.random(image.shape) < 0.6
    mask[:6, :6] = True  # some windows without a clean pixel
    source, clean = padded(image, 2), padded(~mask, 2)
    rows, cols = np.nonzero(mask)
    got = extra_features(source, clean, (rows + 2) * source.shape[1] + cols + 2, EXTRAS)
    for k, (r, c) in enumerate(zip(rows + 2, cols + 2, strict=True)):
        pairs1 = [(source[r, c - 1], source[r, c + 1]), (source[r - 1, c], source[r + 1, c]),
                  (source[r - 1, c - 1], source[r + 1, c + 1]), (source[r - 1, c + 1], source[r + 1, c - 1])]
        pairs2 = [(source[r, c - 2], source[r, c + 2]), (source[r - 2, c], source[r + 2, c]),
                  (source[r - 2, c - 2], source[r + 2, c + 2]), (source[r - 2, c + 2], source[r + 2, c - 2])]
        means = [(a + b) / 2 for a, b in pairs1]
        gaps1 = [abs(a - b) for a, b in pairs1]
        gaps2 = [g + abs(a - b) for g, (a, b) in zip(gaps1, pairs2, strict=True)]
        expected = [means[int(np.argmin(gaps1))], means[int(np.argmin(gaps2))], float(np.median(means))]
        for radius in (1, 2):
            window = source[r - radius : r + radius + 1, c - radius : c + radius + 1]
            keep = clean[r - radius : r + radius + 1, c - radius : c + radius + 1]
            expected.append(window[keep].mean() if keep.any() else source[r, c])
        expected += sorted(source[r - 1 : r + 2, c - 1 : c + 2].ravel())
        np.testing.assert_allclose(got[k], expected, rtol=0, atol=2e-6)


def test_nine_value_sorting_network_sorts_every_zero_one_input() -> None:
    import itertools

    from oldphoto.denoise.extras import SORT9

    for bits in itertools.product((0, 1), repeat=9):
        values = list(bits)
        for i, j in SORT9:
            if values[i] > values[j]:
                values[i], values[j] = values[j], values[i]
        assert values == sorted(values)


def test_plain_bands_skip_extras_and_later_rounds() -> None:
    """Bands below plain_below: no extras, copy rounds after plain_stages; the fast path
    skips those and still equals the design-matrix path."""
    from oldphoto.denoise.training import advance, corrupt

    training = [synthetic_photo(seed, size=64) for seed in range(3)]
    plan = TrainingPlan(densities=(0.1, 0.5), stages=3, extras=("edge1", "sorted3"),
                        plain_below=0.15, plain_stages=2)
    model = train(training, plan)
    assert model.copies.tolist() == [[False, False], [False, False], [True, False]]
    assert not model.extra_weights[:, 0].any() and model.extra_weights[:, 1].any()
    clean = synthetic_photo(30, size=64)
    for density in (0.1, 0.5):
        sample = corrupt(clean, density, np.random.default_rng(2), "default", model.band_edges)
        noisy, _ = salt_and_pepper(clean, density, np.random.default_rng(2))
        fast = model.denoise(noisy, sample.mask)
        for stage in range(model.stages):
            advance(sample, model, stage)
        np.testing.assert_allclose(fast, sample.source, rtol=0, atol=1e-5)


def test_train_and_bench_commands_end_to_end(tmp_path) -> None:
    import imageio.v3 as iio

    from oldphoto.bench.denoise import run_bench
    from oldphoto.denoise.training import run_training

    data = tmp_path / "photos"
    data.mkdir()
    for seed in range(3):
        iio.imwrite(data / f"p{seed}.png", np.rint(synthetic_photo(seed, 64) * 255).astype(np.uint8))
    weights = tmp_path / "w" / "denoise-lr-default.npz"
    run_training(data, (0.2, 0.6), 5, "default", "lstsq", 0, None, 1, weights)
    model = load_denoiser(weights)
    extras = 3 + 9  # edge1, edge2, median4 and the sorted 3x3 window: the default's extras
    assert model.stages == 3 and model.weights.shape == (3, 2, 66 + extras)
    assert "--densities 0.2,0.6" in model.record["command"] and model.record["seed"] == 1
    assert "--extras edge1,edge2,median4,sorted3" in model.record["command"]
    run_training(data, (0.2,), 5, "paper", "sgd", 0, 2, 1, weights.with_name("denoise-lr-paper.npz"))
    record = run_bench(data, (0.3,), "sp", 0, 2, True, weights.parent, tmp_path / "b.json",
                       tmp_path / "b.md", 1)
    scores = {key: m["densities"]["0.3"]["psnr"] for key, m in record["methods"].items()}
    assert scores["lr_default"] > scores["median"] > scores["noisy"]
    assert "| denoise-lr default |" in (tmp_path / "b.md").read_text()
    assert json.loads((tmp_path / "b.json").read_text())["command"].startswith("oldphoto bench")


def test_extras_option_names_only_known_features() -> None:
    from oldphoto.denoise.extras import DEFAULT_EXTRAS
    from oldphoto.denoise.training import parse_extras

    assert parse_extras("auto", "default") == DEFAULT_EXTRAS
    assert parse_extras("auto", "paper") == () == parse_extras("none", "default")
    assert parse_extras("edge1, sorted3", "default") == ("edge1", "sorted3")
    with pytest.raises(OldphotoError, match="--extras"):
        parse_extras("edge1,wavelets", "default")
    with pytest.raises(OldphotoError, match="extra features"):
        LinearDenoiser(5, "default", np.zeros((1, 1, 67)), np.array([0.0, 1.0]), extras=("nope",))
