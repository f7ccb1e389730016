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
from oldphoto.denoise.extras import extra_count
from oldphoto.denoise.features import feature_count
from oldphoto.denoise.regression import LinearDenoiser, stage_features

SOLVERS = ("lstsq", "sgd")
#: Rounds of the default variant when ``--stages`` is 0 (measured in docs/denoise.md).
DEFAULT_STAGES = 3
#: The default variant's bands below this density stay plain (see TrainingPlan.plain_below).
PLAIN_BELOW = 0.15
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
    extras: tuple[str, ...] = ()
    #: Bands trained on densities below this use neither the extras nor more than
    #: ``plain_stages`` rounds (their later rounds copy the estimate): at low density
    #: those add little and cost the most pixels per second.
    plain_below: float = 0.0
    plain_stages: int = 2


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
    mask: np.ndarray
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
    return Sample(source, mask, rows, cols, clean[rows, cols].astype(np.float32), band)


def design(sample: Sample, window: int, extras: tuple[str, ...]) -> np.ndarray:
    """A sample's design matrix at its flagged pixels."""
    return stage_features(sample.source, sample.rows, sample.cols, window, extras, sample.mask)


def advance(sample: Sample, model: LinearDenoiser, stage: int) -> float:
    """Run one fitted stage on a sample, so the next stage sees its output; returns the
    stage's summed squared error at the flagged pixels."""
    if sample.rows.size == 0:
        return 0.0
    matrix = design(sample, model.window, model.extras)
    estimate = np.clip(matrix @ model.weights[stage, sample.band], 0.0, 1.0)
    sample.source = sample.source.copy()
    sample.source[sample.rows, sample.cols] = estimate
    return float(np.sum((estimate - sample.target) ** 2))


def build_samples(images: Sequence[np.ndarray], plan: TrainingPlan, edges: np.ndarray) -> list[Sample]:
    """Every (image, density) sample; each one's noise is fixed by (seed, image, density)."""
    samples = []
    for index, clean in enumerate(images):
        for d_index, density in enumerate(plan.densities):
            rng = np.random.default_rng([plan.seed, index, d_index])
            samples.append(corrupt(clean, density, rng, plan.variant, edges))
    return samples


def solve_lstsq(
    samples: Sequence[Sample], window: int, bands: int, extras: tuple[str, ...] = (),
    plain: Sequence[bool] = (),
) -> np.ndarray:
    """Exact least squares per band from accumulated normal equations; the ``plain``
    bands are solved over the paper's features alone (their extras' weights are 0)."""
    count = feature_count(window) + extra_count(extras)
    gram = np.zeros((bands, count, count))
    moment = np.zeros((bands, count))
    for sample in samples:
        if sample.rows.size == 0:
            continue
        matrix = design(sample, window, extras).astype(np.float64)
        gram[sample.band] += matrix.T @ matrix
        moment[sample.band] += matrix.T @ sample.target
    weights = np.zeros((bands, count))
    for band in range(bands):
        used = feature_count(window) if band < len(plain) and plain[band] else count
        system = gram[band][:used, :used]
        scale = max(float(np.trace(system)) / used, 1.0)
        weights[band, :used] = np.linalg.solve(system + RIDGE * scale * np.eye(used), moment[band][:used])
    return weights


def identity_weights(window: int, count: int) -> np.ndarray:
    """Weights over the features that copy the window's centre: a round that changes nothing."""
    weights = np.zeros(count)
    weights[1 + (window * window) // 2] = 1.0
    return weights


def solve_sgd(
    samples: Sequence[Sample], plan: TrainingPlan, bands: int, rng: np.random.Generator
) -> np.ndarray:
    """The paper's SGD: minibatch updates at flagged pixels, image after image."""
    count = feature_count(plan.window) + extra_count(plan.extras)
    weights = np.zeros((bands, count))
    steps = 0
    for _ in range(plan.sgd_epochs):
        for index in rng.permutation(len(samples)):
            sample = samples[index]
            if sample.rows.size == 0:
                continue
            matrix = design(sample, plan.window, plan.extras).astype(np.float64)
            order = rng.permutation(sample.rows.size)
            for start in range(0, order.size, plan.sgd_batch):
                batch = order[start : start + plan.sgd_batch]
                rate = plan.sgd_rate / (1.0 + steps / 20000.0)
                residual = matrix[batch] @ weights[sample.band] - sample.target[batch]
                weights[sample.band] -= rate * (matrix[batch].T @ residual) / batch.size
                steps += 1
    return weights


def flagged_mse(samples: Sequence[Sample], model: LinearDenoiser, stage: int) -> float:
    """Mean squared error of a stage's estimates at the flagged pixels."""
    total, count = 0.0, 0
    for sample in samples:
        if sample.rows.size == 0:
            continue
        estimate = np.clip(design(sample, model.window, model.extras) @ model.weights[stage, sample.band],
                           0.0, 1.0)
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
    plain = [bool(plan.extras or plan.stages > plan.plain_stages) and d < plan.plain_below
             for d in sorted(plan.densities)] if per_band else []
    for stage in range(plan.stages):
        if plan.solver == "lstsq":
            fitted = solve_lstsq(samples, plan.window, bands, plan.extras, plain)
        else:
            fitted = solve_sgd(samples, plan, bands, rng)
        for band, is_plain in enumerate(plain):
            if is_plain and stage >= plan.plain_stages:
                fitted[band] = identity_weights(plan.window, fitted.shape[1])
            elif is_plain:  # lstsq solved without them already; SGD fitted them jointly
                fitted[band, feature_count(plan.window):] = 0.0
        stages.append(fitted)
        model = LinearDenoiser(plan.window, plan.variant, np.stack(stages), edges, extras=plan.extras)
        if stage + 1 < plan.stages:  # each design matrix built once: the error, then the round
            errors = [advance(sample, model, stage) for sample in samples]
            count = max(sum(sample.rows.size for sample in samples), 1)
            metrics[f"train_flagged_mse_stage{stage + 1}"] = float(sum(errors)) / count
        else:
            metrics[f"train_flagged_mse_stage{stage + 1}"] = flagged_mse(samples, model, stage)
    assert model is not None
    model.record = {
        **(record or {}),
        "densities": list(plan.densities),
        "solver": plan.solver,
        "seed": plan.seed,
        "stages": plan.stages,
        "per_band": per_band,
        "plain_bands": [band for band, is_plain in enumerate(plain) if is_plain],
        "plain_stages": plan.plain_stages,
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
    extras: tuple[str, ...] = (),
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
        f"--extras {','.join(extras) or 'none'}",
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
    extras: str = "auto",
) -> LinearDenoiser:
    """The ``oldphoto train denoise-lr`` command: read, fit, save, report on stderr.

    ``extras``: comma-separated names from :data:`oldphoto.denoise.extras.EXTRAS`,
    ``none``, or ``auto`` (:data:`~oldphoto.denoise.extras.DEFAULT_EXTRAS` for the
    default variant, none for the paper's).
    """
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
    stages = stages or (DEFAULT_STAGES if variant == "default" else 1)
    chosen = parse_extras(extras, variant)
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
        extras=chosen,
        plain_below=PLAIN_BELOW if variant == "default" else 0.0,
    )
    with console.status(f"fitting {variant} window {window} on {len(images)} images ({solver})"):
        model = train(
            images,
            plan,
            record={
                "data": str(data),
                "command": training_command(
                    data, densities, window, variant, solver, stages, limit, seed, output, chosen
                ),
            },
        )
    model.record["seconds"] = round(time.perf_counter() - started, 1)
    model.save(output)
    console.print(
        f"wrote {output}: {variant}, window {window}, {stages} stage(s), extras {list(chosen)}, "
        f"{len(images)} images, {model.record['seconds']} s, {model.record['metrics']}"
    )
    return model


def parse_extras(text: str, variant: str) -> tuple[str, ...]:
    """``--extras``: 'auto', 'none' or comma-separated names of extra features."""
    from oldphoto.denoise.extras import DEFAULT_EXTRAS, EXTRAS
    from oldphoto.errors import OldphotoError

    if text == "auto":
        return DEFAULT_EXTRAS if variant == "default" else ()
    if text == "none":
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in EXTRAS]
    if unknown or not names:
        raise OldphotoError(f"--extras {text!r}: expected auto, none or names from {', '.join(EXTRAS)}")
    return names
