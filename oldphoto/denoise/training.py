"""Fitting the window regression on clean images corrupted on the fly.

Samples are the pixels the detector flags (the paper updates only there), so
the model learns on exactly the pixels it will replace, false alarms included.
``lstsq`` accumulates the normal equations image by image and solves them
exactly; ``sgd`` is the paper's stochastic gradient descent over the same samples.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oldphoto.aging import salt_and_pepper
from oldphoto.denoise.classical import fill_from_clean
from oldphoto.denoise.detect import detect_grey
from oldphoto.denoise.features import feature_count
from oldphoto.denoise.regression import LinearDenoiser, stage_features

SOLVERS = ("lstsq", "sgd")
RIDGE = 1e-6  # tiny: only keeps the (collinear) 66-feature system solvable


@dataclass(frozen=True)
class TrainingPlan:
    """Everything that decides a fit, recorded in the weights file."""

    densities: tuple[float, ...]
    window: int = 5
    variant: str = "default"
    solver: str = "lstsq"
    seed: int = 0
    stages: int = 1
    per_band: bool = True
    sgd_epochs: int = 2
    sgd_rate: float = 0.05
    sgd_batch: int = 256


def band_edges(densities: Sequence[float], per_band: bool) -> np.ndarray:
    """Edges halfway between sorted training densities (one band each), or one band."""
    if not per_band or len(densities) < 2:
        return np.array([0.0, 1.0])
    ordered = sorted(densities)
    middles = [(a + b) / 2 for a, b in itertools.pairwise(ordered)]
    return np.array([0.0, *middles, 1.0])


@dataclass
class Sample:
    """One corrupted training image: its stage input, flagged pixels and targets."""

    source: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    target: np.ndarray
    band: int


def corrupt(
    clean: np.ndarray, density: float, rng: np.random.Generator, variant: str, edges: np.ndarray
) -> Sample:
    """Salt-and-pepper an image, detect, and (default variant) pre-fill the flagged pixels."""
    noisy, _ = salt_and_pepper(clean, density, rng)
    mask = detect_grey(noisy)
    source = fill_from_clean(noisy, mask) if variant == "default" else noisy
    rows, cols = (index.astype(np.int32) for index in np.nonzero(mask))
    band = int(np.searchsorted(edges[1:-1], float(mask.mean()), side="right"))
    return Sample(source, rows, cols, clean[rows, cols].astype(np.float32), band)


def advance(sample: Sample, model: LinearDenoiser, stage: int) -> None:
    """Run one fitted stage on a sample, so the next stage sees its output."""
    design = stage_features(sample.source, sample.rows, sample.cols, model.window)
    estimate = np.clip(design @ model.weights[stage, sample.band], 0.0, 1.0)
    sample.source = sample.source.copy()
    sample.source[sample.rows, sample.cols] = estimate


def build_samples(images: Sequence[np.ndarray], plan: TrainingPlan, edges: np.ndarray) -> list[Sample]:
    """Every (image, density) sample; each one's noise is fixed by (seed, image, density)."""
    samples = []
    for index, clean in enumerate(images):
        for d_index, density in enumerate(plan.densities):
            rng = np.random.default_rng([plan.seed, index, d_index])
            samples.append(corrupt(clean, density, rng, plan.variant, edges))
    return samples


def solve_lstsq(samples: Sequence[Sample], window: int, bands: int) -> np.ndarray:
    """Exact least squares per band from accumulated normal equations."""
    count = feature_count(window)
    gram = np.zeros((bands, count, count))
    moment = np.zeros((bands, count))
    for sample in samples:
        if sample.rows.size == 0:
            continue
        design = stage_features(sample.source, sample.rows, sample.cols, window).astype(np.float64)
        gram[sample.band] += design.T @ design
        moment[sample.band] += design.T @ sample.target
    weights = np.zeros((bands, count))
    for band in range(bands):
        scale = max(float(np.trace(gram[band])) / count, 1.0)
        weights[band] = np.linalg.solve(gram[band] + RIDGE * scale * np.eye(count), moment[band])
    return weights


def solve_sgd(
    samples: Sequence[Sample], plan: TrainingPlan, bands: int, rng: np.random.Generator
) -> np.ndarray:
    """The paper's SGD: minibatch updates at flagged pixels, image after image."""
    count = feature_count(plan.window)
    weights = np.zeros((bands, count))
    steps = 0
    for _ in range(plan.sgd_epochs):
        for index in rng.permutation(len(samples)):
            sample = samples[index]
            if sample.rows.size == 0:
                continue
            design = stage_features(sample.source, sample.rows, sample.cols, plan.window)
            design = design.astype(np.float64)
            order = rng.permutation(sample.rows.size)
            for start in range(0, order.size, plan.sgd_batch):
                batch = order[start : start + plan.sgd_batch]
                rate = plan.sgd_rate / (1.0 + steps / 20000.0)
                residual = design[batch] @ weights[sample.band] - sample.target[batch]
                weights[sample.band] -= rate * (design[batch].T @ residual) / batch.size
                steps += 1
    return weights


def flagged_mse(samples: Sequence[Sample], model: LinearDenoiser, stage: int) -> float:
    """Mean squared error of a stage's estimates at the flagged pixels."""
    total, count = 0.0, 0
    for sample in samples:
        if sample.rows.size == 0:
            continue
        design = stage_features(sample.source, sample.rows, sample.cols, model.window)
        estimate = np.clip(design @ model.weights[stage, sample.band], 0.0, 1.0)
        total += float(np.sum((estimate - sample.target) ** 2))
        count += sample.rows.size
    return total / max(count, 1)


def train(images: Sequence[np.ndarray], plan: TrainingPlan, record: dict | None = None) -> LinearDenoiser:
    """Fit every stage in turn and return the model with a record of how it was made."""
    per_band = plan.per_band and plan.variant == "default"
    edges = band_edges(plan.densities, per_band)
    bands = len(edges) - 1
    samples = build_samples(images, plan, edges)
    rng = np.random.default_rng(plan.seed)
    stages: list[np.ndarray] = []
    metrics: dict[str, float] = {}
    model = None
    for stage in range(plan.stages):
        if plan.solver == "lstsq":
            fitted = solve_lstsq(samples, plan.window, bands)
        else:
            fitted = solve_sgd(samples, plan, bands, rng)
        stages.append(fitted)
        model = LinearDenoiser(plan.window, plan.variant, np.stack(stages), edges)
        metrics[f"train_flagged_mse_stage{stage + 1}"] = flagged_mse(samples, model, stage)
        if stage + 1 < plan.stages:
            for sample in samples:
                advance(sample, model, stage)
    assert model is not None
    model.record = {
        **(record or {}),
        "densities": list(plan.densities),
        "solver": plan.solver,
        "seed": plan.seed,
        "stages": plan.stages,
        "per_band": per_band,
        "training_images": len(images),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "metrics": metrics,
    }
    return model


def training_command(
    data: Path,
    densities: Sequence[float],
    window: int,
    variant: str,
    solver: str,
    stages: int,
    limit: int | None,
    seed: int,
    output: Path,
) -> str:
    """The canonical command line that reproduces a training run (kept in the weights)."""
    parts = [
        "oldphoto train denoise-lr",
        f"--data {data}",
        f"--densities {','.join(f'{d:g}' for d in densities)}",
        f"--window {window}",
        f"--variant {variant}",
        f"--solver {solver}",
        f"--stages {stages}",
        f"--seed {seed}",
    ]
    if limit:
        parts.append(f"--limit {limit}")
    parts.append(f"-o {output}")
    return " ".join(parts)


def run_training(
    data: Path,
    densities: Sequence[float],
    window: int,
    variant: str,
    solver: str,
    stages: int,
    limit: int | None,
    seed: int,
    output: Path,
) -> LinearDenoiser:
    """The ``oldphoto train denoise-lr`` command: read, fit, save, report on stderr."""
    import time

    from oldphoto.console import rich_console
    from oldphoto.denoise.features import WINDOWS
    from oldphoto.denoise.images import read_folder
    from oldphoto.denoise.regression import VARIANTS
    from oldphoto.errors import OldphotoError

    if window not in WINDOWS:
        raise OldphotoError(f"--window {window}: expected one of 3, 5, 7")
    if variant not in VARIANTS:
        raise OldphotoError(f"--variant {variant}: expected paper or default")
    if solver not in SOLVERS:
        raise OldphotoError(f"--solver {solver}: expected lstsq or sgd")
    stages = stages or (2 if variant == "default" else 1)
    console = rich_console()
    started = time.perf_counter()
    with console.status(f"reading {data}"):
        images = read_folder(data, limit)
    plan = TrainingPlan(
        densities=tuple(densities),
        window=window,
        variant=variant,
        solver=solver,
        seed=seed,
        stages=stages,
    )
    with console.status(f"fitting {variant} window {window} on {len(images)} images ({solver})"):
        model = train(
            images,
            plan,
            record={
                "data": str(data),
                "command": training_command(
                    data, densities, window, variant, solver, stages, limit, seed, output
                ),
            },
        )
    model.record["seconds"] = round(time.perf_counter() - started, 1)
    model.save(output)
    console.print(
        f"wrote {output}: {variant}, window {window}, {stages} stage(s), "
        f"{len(images)} images, {model.record['seconds']} s, {model.record['metrics']}"
    )
    return model
