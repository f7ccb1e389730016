"""`oldphoto bench paper`: same data for every row, known arithmetic, missing rows reported."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import invoke

from oldphoto.bench.paper import (
    ROWS,
    BenchData,
    RowSpec,
    load_truth,
    make_data,
    run_rows,
    score_row,
)
from oldphoto.bench.paper_table import markdown_table
from oldphoto.bench.plots import Panel, panels_from_json, plot_panels


def small_data(count: int = 3) -> BenchData:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.2, 0.8, (count, 16, 16, 3)).astype(np.float32)
    grey = truth.mean(axis=3)
    return BenchData(truth, grey, grey.copy(), "test")


def test_score_row_on_a_known_offset() -> None:
    data = small_data()
    spec = RowSpec("x", "offset", "baseline", "rgb")
    result = score_row(spec, list(data.truth + 0.1), data)
    assert result.mse_pct == pytest.approx(1.0, rel=1e-4)
    assert result.psnr == pytest.approx(20.0, abs=1e-3)
    assert result.colourfulness_ratio == pytest.approx(1.0, abs=1e-4)  # same chroma spread


def test_grey_rows_are_scored_against_the_grey_truth() -> None:
    data = small_data()
    spec = RowSpec("g", "grey", "baseline", "grey")
    result = score_row(spec, list(data.grey), data)
    assert result.mse_pct == 0.0 and result.psnr == 100.0
    assert result.colourfulness is None


def test_a_row_that_cannot_run_is_reported_not_fatal(monkeypatch, tmp_path) -> None:
    from oldphoto.colour.models import checkpoint

    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)  # no weights anywhere
    monkeypatch.setattr(checkpoint, "PAPER_WEIGHTS_DIR", tmp_path / "paper")
    data = small_data()
    results = run_rows(data, rows=(RowSpec("noisy", "noisy", "baseline", "grey"),
                                   RowSpec("mlp", "MLP", "paper", "rgb", 3.41)))
    assert results[0].missing is None and results[0].mse_pct == 0.0
    assert results[1].missing == "missing: oldphoto/weights/paper/colorize-mlp-paper.pt"
    assert results[1].mse_pct is None
    table = markdown_table(results, "header", "oldphoto bench paper")
    assert "missing: oldphoto/weights/paper/colorize-mlp-paper.pt" in table
    assert table.count("\n| ") == 3  # header row + two rows


@pytest.mark.parametrize("key", ["mlp", "mlp-l2", "cnn-mse", "cnn-ce", "cnn-resnet"])
def test_the_paper_checkpoints_ship_in_their_own_folder(key) -> None:
    from oldphoto.bench.paper import PAPER_CHECKPOINTS, find_checkpoint
    from oldphoto.colour.models.checkpoint import PAPER_WEIGHTS_DIR, resolve_weights

    path = find_checkpoint(key)
    assert path == PAPER_WEIGHTS_DIR / PAPER_CHECKPOINTS[key][0][0]
    assert resolve_weights(path.stem) == path  # --weights finds them by name


def test_paper_rows_carry_the_paper_figures() -> None:
    paper = {spec.label: spec.paper for spec in ROWS if spec.paper is not None}
    assert paper == {"LR de-noising (paper variant, 5x5)": 0.12, "MLP": 3.41, "MLP + L2": 3.30,
                     "CNN (MSE)": 0.69, "CNN (MSE + CE)": 0.61, "CNN + ResNet": 0.72}


def write_classes(folder: Path, classes: int, per_class: int) -> None:
    for label in range(classes):
        for index in range(per_class):
            path = folder / f"c{label}" / f"{index:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            iio.imwrite(path, np.full((32, 32, 3), label * 20 + index, np.uint8))


def test_limit_takes_classes_in_turn(tmp_path: Path) -> None:
    write_classes(tmp_path, classes=3, per_class=4)
    truth = load_truth(tmp_path, limit=5)
    first_pixel = np.rint(truth[:, 0, 0, 0] * 255).astype(int).tolist()
    assert first_pixel == [0, 20, 40, 1, 21]  # class 0, 1, 2, then the second of each


def test_cifar_python_batches_are_read(tmp_path: Path) -> None:
    data = np.arange(4 * 3072, dtype=np.int64).reshape(4, 3072) % 256
    with (tmp_path / "test_batch").open("wb") as handle:
        pickle.dump({b"data": data.astype(np.uint8), b"labels": [0, 1, 2, 3]}, handle)
    truth = load_truth(tmp_path, limit=3)
    assert truth.shape == (3, 32, 32, 3)
    assert truth[0, 0, 0, 0] == pytest.approx(data[0, 0] / 255)  # channel-first rows


@pytest.mark.parametrize("key", ["mlp", "cnn-default", "resnet-default"])
def test_colour_rows_colour_the_truths_lightness_not_keep_its_colour(key: str) -> None:
    """The colour check keeps a colour photo as it is; fed the RGB truth, a colour row
    must still colour its L* (the paper's protocol), or it scores about 90 dB."""
    from oldphoto.bench.paper import estimates_for
    from oldphoto.metrics import psnr

    data = small_data(2)
    spec = next(row for row in ROWS if row.key == key)
    estimates, _ = estimates_for(spec, data)
    for estimate, truth in zip(estimates, data.truth, strict=True):
        assert estimate.shape == truth.shape
        assert psnr(estimate, truth) < 60.0


def test_every_row_sees_the_same_noise(tmp_path: Path) -> None:
    write_classes(tmp_path, classes=2, per_class=2)
    first = make_data(tmp_path, 0, 0.15, seed=3)
    again = make_data(tmp_path, 0, 0.15, seed=3)
    np.testing.assert_array_equal(first.noisy, again.noisy)
    assert 0.05 < np.mean(first.noisy != first.grey) < 0.3


def test_denoise_json_becomes_the_papers_figures(tmp_path: Path) -> None:
    bench = {"noise": "sp", "methods": {"damf": {"label": "DAMF", "densities": {
        "0.1": {"psnr": 37.3, "ssim": 0.9}, "0.5": {"psnr": 28.5, "ssim": 0.8}}}}}
    study = {"training_images": {"1": {"paper lstsq": 1.0}, "100": {"paper lstsq": 0.1}},
             "window": {"3": {"paper": 1.0}, "5": {"paper": 0.5}}}
    density = panels_from_json(bench)
    assert density[0].series["DAMF"] == {0.1: 37.3, 0.5: 28.5}
    titles = [p.title for p in panels_from_json(study)]
    assert titles == ["PSNR vs training-set size", "PSNR vs window size"]
    assert panels_from_json(study)[0].series["LR paper lstsq"] == {1.0: 20.0, 100.0: 30.0}
    pytest.importorskip("matplotlib")
    out = plot_panels([Panel("t", "x", series={"a": {1.0: 2.0, 2.0: 3.0}})], tmp_path / "p.png")
    assert out is not None and iio.imread(out).ndim == 3


@pytest.mark.shared
@pytest.mark.slow
def test_bench_paper_runs_on_cifar(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "paper.json"
    result = invoke("bench", "paper", "--data", str(shared_dir / "data/cifar10/test"),
                     "--limit", "20", "--json", str(out), "--markdown", str(tmp_path / "p.md"))
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(out.read_text())
    rows = {row["key"]: row for row in report["rows"]}
    assert report["images"] == 20 and set(rows) == {spec.key for spec in ROWS}
    assert 20 < rows["gray"]["psnr"] < 35  # doing nothing: about 25-27 dB on CIFAR-10
    assert rows["noisy"]["mse_pct"] > rows["gray"]["mse_pct"]
    assert "Table 1" in result.stdout.decode()


def test_paper_checkpoints_are_told_from_the_defaults_by_their_record() -> None:
    from oldphoto.bench.paper import PAPER_CHECKPOINTS

    def payload(kind: str, model: str, **config: object) -> dict:
        return {"kind": kind, "arch": {"model": model}, "record": {"config": config}}

    default_mlp = payload("colorize-mlp", "mlp", loss="psnr", l2=0.0)
    paper_mlp = payload("colorize-mlp", "mlp", loss="rgb-direct", l2=0.0)
    paper_mlp_l2 = payload("colorize-mlp", "mlp", loss="rgb-direct", l2=1e-3)
    default_cnn = payload("colorize-cnn", "unet", loss="psnr", alpha=0.01)
    paper_ce = payload("colorize-cnn", "paper-cnn", loss="ab", alpha=0.01)
    match = {key: rule for key, (_, rule) in PAPER_CHECKPOINTS.items()}
    assert not match["mlp"](default_mlp) and match["mlp"](paper_mlp)
    assert match["mlp-l2"](paper_mlp_l2) and not match["mlp-l2"](paper_mlp)
    assert not match["cnn-ce"](default_cnn) and match["cnn-ce"](paper_ce)
    assert not match["cnn-mse"](paper_ce)
