"""``oldphoto bench denoise-study``: the paper's Fig. 6 and 7, and 'detection is crucial'.

The paper variant is trained on growing subsets of the training folder and
tested on held-out images, reporting the paper's 'test error': mean squared
error on [0, 1] in percent (0.12% is about 29.2 dB). The default variant is
shown beside it for scale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oldphoto.denoise.regression import LinearDenoiser
from oldphoto.denoise.training import TrainingPlan, train

TRAINING_COUNTS = (1, 3, 10, 30, 100, 300)
NOISE_PORTIONS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)
STUDY_DENSITY = 0.15  # the paper's CIFAR-10 setting


def test_error(
    model: LinearDenoiser | None,
    images: Sequence[np.ndarray],
    density: float,
    seed: int,
    detect: bool = True,
) -> float:
    """Mean squared error (in %) over test images; ``detect=False`` replaces every pixel."""
    from oldphoto.aging import salt_and_pepper
    from oldphoto.denoise.detect import detect_grey

    errors = []
    for index, clean in enumerate(images):
        rng = np.random.default_rng([seed, 1000 + index])
        noisy, _ = salt_and_pepper(clean, density, rng)
        if model is None:
            restored = noisy
        else:
            mask = detect_grey(noisy) if detect else np.ones(noisy.shape, bool)
            restored = model.denoise(noisy, mask)
        errors.append(float(np.mean((restored.astype(np.float64) - clean) ** 2)))
    return 100.0 * float(np.mean(errors))


def train_all_pixels(images: Sequence[np.ndarray], density: float, seed: int) -> LinearDenoiser:
    """The paper's Fig. 4: a regression fitted on every pixel, i.e. with no detector."""
    from oldphoto.aging import salt_and_pepper
    from oldphoto.denoise.features import feature_count
    from oldphoto.denoise.regression import stage_features

    count = feature_count(5)
    gram, moment = np.zeros((count, count)), np.zeros(count)
    for index, clean in enumerate(images):
        noisy, _ = salt_and_pepper(clean, density, np.random.default_rng([seed, index]))
        rows, cols = np.indices(noisy.shape).reshape(2, -1)
        design = stage_features(noisy, rows, cols, 5).astype(np.float64)
        gram += design.T @ design
        moment += design.T @ clean.ravel()
    weights = np.linalg.solve(gram + 1e-6 * np.eye(count) * np.trace(gram) / count, moment)
    return LinearDenoiser(5, "paper", weights, np.array([0.0, 1.0]))


def run_study(
    train_data: Path,
    test_data: Path,
    seed: int,
    test_limit: int,
    json_path: Path | None,
    markdown: Path | None,
) -> dict:
    """Every curve of the study, printed on stderr and optionally saved."""
    from oldphoto.console import rich_console
    from oldphoto.denoise.images import read_folder

    console = rich_console()
    training = read_folder(train_data)
    testing = read_folder(test_data, test_limit)

    def fit(
        images: Sequence[np.ndarray],
        densities: Sequence[float],
        variant: str = "paper",
        window: int = 5,
        solver: str = "lstsq",
    ) -> LinearDenoiser:
        plan = TrainingPlan(
            densities=tuple(densities),
            window=window,
            variant=variant,
            solver=solver,
            seed=seed,
            stages=1 if variant == "paper" else 2,
        )
        return train(images, plan)

    out: dict = {
        "train_data": str(train_data),
        "test_data": str(test_data),
        "test_images": len(testing),
        "seed": seed,
        "density": STUDY_DENSITY,
    }
    with console.status("study: detection"):
        paper = fit(training[:100], [STUDY_DENSITY])
        out["detection"] = {
            "noisy input": test_error(None, testing, STUDY_DENSITY, seed),
            "paper LR, no detection (every pixel)": test_error(
                train_all_pixels(training[:100], STUDY_DENSITY, seed),
                testing,
                STUDY_DENSITY,
                seed,
                detect=False,
            ),
            "paper LR, with detection": test_error(paper, testing, STUDY_DENSITY, seed),
        }
    curve = {}
    for count in TRAINING_COUNTS:
        with console.status(f"study: {count} training images"):
            curve[count] = {
                "paper lstsq": test_error(
                    fit(training[:count], [STUDY_DENSITY]), testing, STUDY_DENSITY, seed
                ),
                "paper sgd": test_error(
                    fit(training[:count], [STUDY_DENSITY], solver="sgd"), testing, STUDY_DENSITY, seed
                ),
            }
    out["training_images"] = curve
    portions = {}
    for density in NOISE_PORTIONS:
        with console.status(f"study: noise portion {density:g}"):
            portions[density] = {
                "paper": test_error(fit(training[:100], [density]), testing, density, seed),
                "default": test_error(fit(training[:100], [density], "default"), testing, density, seed),
            }
    out["noise_portion"] = portions
    windows = {}
    for window in (3, 5, 7):
        with console.status(f"study: window {window}"):
            windows[window] = {
                "paper": test_error(
                    fit(training[:100], [STUDY_DENSITY], window=window), testing, STUDY_DENSITY, seed
                ),
                "default": test_error(
                    fit(training[:100], [STUDY_DENSITY], "default", window), testing, STUDY_DENSITY, seed
                ),
            }
    out["window"] = windows
    text = study_markdown(out)
    console.print(text)
    if json_path:
        json_path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    if markdown:
        markdown.write_text(text)
    return out


def study_markdown(out: dict) -> str:
    """The study as markdown tables: test error in % (and the PSNR it means)."""

    from oldphoto.metrics import psnr_from_mse

    def cell(value: float) -> str:
        return f"{value:.3f}% ({psnr_from_mse(value / 100.0):.1f} dB)"

    lines = [
        f"Test: {out['test_images']} images of {out['test_data']}; train: "
        f"{out['train_data']}; seed {out['seed']}.",
        "",
        f"**Detection is crucial** (density {out['density']:g}):",
        "",
        "| model | test error |",
        "|---|---|",
    ]
    lines += [f"| {k} | {cell(v)} |" for k, v in out["detection"].items()]
    lines += [
        "",
        f"**Fig. 6 left: training images** (density {out['density']:g}, window 5):",
        "",
        "| images | paper, lstsq | paper, sgd |",
        "|---|---|---|",
    ]
    lines += [
        f"| {n} | {cell(v['paper lstsq'])} | {cell(v['paper sgd'])} |"
        for n, v in out["training_images"].items()
    ]
    lines += [
        "",
        "**Fig. 6 right: noise portion** (100 training images, window 5, "
        "trained and tested at each portion):",
        "",
        "| portion | paper | default |",
        "|---|---|---|",
    ]
    lines += [
        f"| {d:g} | {cell(v['paper'])} | {cell(v['default'])} |" for d, v in out["noise_portion"].items()
    ]
    lines += [
        "",
        f"**Fig. 7: window size** (density {out['density']:g}, 100 training images):",
        "",
        "| window | paper | default |",
        "|---|---|---|",
    ]
    lines += [f"| {w} | {cell(v['paper'])} | {cell(v['default'])} |" for w, v in out["window"].items()]
    return "\n".join(lines) + "\n"
