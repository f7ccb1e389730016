"""`oldphoto score`: its arithmetic on known inputs, and that frames pass on unchanged."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

from oldphoto.aging import to_grey
from oldphoto.filters.score import (
    GREY_OF_ORIGINAL,
    GREY_ORIGINAL_AS_RGB,
    SAME,
    ScoreFilter,
    ScoreSummary,
    mask_counts,
    score_frame,
)
from oldphoto.frame import NOISE_MASK, ORIGINAL, TRUE_MASK, Frame
from oldphoto.stream import StreamWriter, read_stream


def ramp(shape: tuple[int, ...]) -> np.ndarray:
    """A smooth image in [0.2, 0.7], so adding 0.1 never clips."""
    values = np.linspace(0.2, 0.7, int(np.prod(shape)), dtype=np.float32)
    return values.reshape(shape)


def test_constant_offset_gives_known_psnr_and_mse() -> None:
    original = ramp((16, 16, 3))
    frame = Frame(original + 0.1, {ORIGINAL: original}, {"name": "a.png"})
    score = score_frame(frame)
    assert score.mse_pct == pytest.approx(1.0, rel=1e-4)  # 0.1^2 = 0.01 = 1%
    assert score.psnr == pytest.approx(20.0, abs=1e-3)  # 10 log10(1 / 0.01)
    assert score.compared == SAME
    assert score.masks is None


def test_identical_frame_scores_perfectly() -> None:
    original = ramp((16, 16))
    score = score_frame(Frame(original.copy(), {ORIGINAL: original}))
    assert score.mse_pct == 0.0
    assert score.psnr == 100.0
    assert score.ssim == pytest.approx(1.0)


def test_grey_pixels_are_compared_with_the_grey_of_a_colour_original() -> None:
    rng = np.random.default_rng(0)
    original = rng.uniform(0.2, 0.8, (16, 16, 3)).astype(np.float32)
    grey = to_grey(original)
    score = score_frame(Frame(grey + 0.05, {ORIGINAL: original}))
    assert score.compared == GREY_OF_ORIGINAL
    assert score.mse_pct == pytest.approx(100 * 0.05**2, rel=1e-3)


def test_colour_pixels_against_a_grey_original_count_colour_as_error() -> None:
    original = np.full((16, 16), 0.5, np.float32)
    pixels = np.stack([original + 0.3, original, original], axis=2)  # red cast
    score = score_frame(Frame(pixels, {ORIGINAL: original}))
    assert score.compared == GREY_ORIGINAL_AS_RGB
    assert score.mse_pct == pytest.approx(100 * 0.09 / 3, rel=1e-4)


def test_precision_and_recall_on_known_masks() -> None:
    truth = np.zeros((8, 8), bool)
    truth[0, :4] = True  # 4 corrupted pixels
    found = np.zeros((8, 8), bool)
    found[0, 1:4] = True  # 3 of them found
    found[5, 5:7] = True  # 2 false alarms
    counts = mask_counts(found, truth)
    assert (counts.hits, counts.flagged, counts.real) == (3, 5, 4)
    assert counts.precision == pytest.approx(0.6)
    assert counts.recall == pytest.approx(0.75)


def test_per_channel_mask_counts_a_pixel_once() -> None:
    truth = np.zeros((4, 4), bool)
    truth[1, 1] = True
    found = np.zeros((4, 4, 3), bool)
    found[1, 1, :] = True
    assert mask_counts(found, truth).precision == 1.0


def test_mean_pools_detection_over_pixels_not_images() -> None:
    original = ramp((16, 16))
    summary = ScoreSummary()
    for found_count in (1, 3):  # image 1: 1 of 1 right; image 2: 1 of 3 right
        truth = np.zeros((16, 16), bool)
        truth[0, 0] = True
        found = np.zeros((16, 16), bool)
        found[0, :found_count] = True
        frame = Frame(original, {ORIGINAL: original, TRUE_MASK: truth, NOISE_MASK: found})
        summary.images.append(score_frame(frame))
    mean = summary.mean()
    assert mean["precision"] == pytest.approx(2 / 4)  # not (1 + 1/3) / 2
    assert mean["recall"] == pytest.approx(1.0)
    assert mean["images"] == 2


def test_filter_passes_frames_on_and_writes_json(tmp_path: Path, capsys) -> None:
    original = ramp((16, 16, 3))
    out_json = tmp_path / "scores.json"
    filt = ScoreFilter(json=str(out_json))
    filt.setup()
    frames = [Frame(original + 0.1, {ORIGINAL: original}, {"name": "a.png"}),
              Frame(original, {}, {"name": "bare.png"})]
    passed = [filt.process_frame(f) for f in frames]
    filt.finish()
    assert passed[0] is frames[0] and passed[1] is frames[1]
    report = json.loads(out_json.read_text())
    assert report["mean"]["images"] == 1
    assert report["mean"]["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert report["unscored"][0].startswith("bare.png")
    err = capsys.readouterr().err
    assert "mean of 1" in err and "20.00" in err


def test_score_in_a_pipe_reports_and_passes_the_stream(tmp_path: Path) -> None:
    original = ramp((16, 16, 3))
    truth = np.zeros((16, 16), bool)
    truth[2, 2] = True
    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    writer.write(Frame(original + 0.1, {ORIGINAL: original, TRUE_MASK: truth,
                                        NOISE_MASK: truth.copy()}, {"name": "x.png"}))
    writer.close()
    out_json = tmp_path / "s.json"
    result = invoke("score", "--json", str(out_json), stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr.decode()
    frames = list(read_stream(io.BytesIO(result.stdout), "out"))
    np.testing.assert_array_equal(frames[0].pixels, original + 0.1)
    assert frames[0].meta["history"][-1]["filter"] == "score"
    report = json.loads(out_json.read_text())
    assert report["images"][0]["precision"] == 1.0
    assert report["images"][0]["recall"] == 1.0
    assert "precision" in result.stderr.decode().lower() or "prec" in result.stderr.decode()


def test_age_keep_original_then_score_is_an_evaluation(photo: Path, tmp_path: Path) -> None:
    aged = invoke("age", str(photo), "--keep-original", "--seed", "1", "--density", "0.2")
    assert aged.returncode == 0, aged.stderr.decode()
    out_json = tmp_path / "s.json"
    scored = invoke("score", "--json", str(out_json), stdin=aged.stdout)
    assert scored.returncode == 0, scored.stderr.decode()
    frame = next(iter(read_stream(io.BytesIO(aged.stdout), "aged")))
    expected = 100 * float(np.mean((frame.pixels.astype(np.float64)
                                    - to_grey(frame.planes[ORIGINAL])) ** 2))
    report = json.loads(out_json.read_text())
    assert report["images"][0]["compared"] == GREY_OF_ORIGINAL
    assert report["images"][0]["mse_pct"] == pytest.approx(expected, rel=1e-4)
    assert "grey of original" in scored.stderr.decode()
