"""``oldphoto train damage-finder``: teaching the damage finder, and choosing its threshold.

Each step ages clean crops as a scan (:func:`oldphoto.restore.synth.scan_damage`),
estimates their grain blindly and denoises them with the grain network, exactly
as ``restore`` will at run time, and trains the finder on the true mask with a
weighted cross-entropy. The loop itself (resume, weight averaging, checkpoints)
is :func:`oldphoto.restore.training.train_net`.

The threshold is chosen afterwards on held-out photos by what a user gets:
``restore``'s own PSNR against the clean photo, over ``age --realistic``
damage at strengths 1, 2 and 3, and over scans with no dust or scratches (the
same grain alone, and white noise), where every flagged pixel is a loss; all
weighted alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto.aging import Damage
from oldphoto.restore.damage_net import DamageNet
from oldphoto.restore.estimate import estimate_noise
from oldphoto.restore.model import (
    GrainNet,
    TwoLevelNet,
    cached_net,
    load_grain,
    load_net,
    provenance,
    save_net,
)
from oldphoto.restore.synth import scan_damage
from oldphoto.restore.training import Task, crops

#: Missing a speck costs more than filling a grain pixel from its neighbours.
POSITIVE_WEIGHT = 3.0
#: Thresholds the calibration tries.
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FINDER_DAMAGE = ("age --realistic style: grain 4-25/255 (film grain, or white noise over the dust in "
                 "a third of the crops), blur 0-1 px, fade 0-0.3, half JPEG q70-95; "
                 "dust 0.05-0.8% and 1-3 scratches in three crops of four")


def _inputs(grain: GrainNet, damaged: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The denoised crops and their blindly estimated levels, as ``restore`` makes them."""
    levels = torch.tensor([estimate_noise(crop) for crop in damaged[:, 0].numpy()],
                          dtype=torch.float32)[:, None, None, None]
    with torch.no_grad():
        denoised = grain(damaged, levels).float().clamp(0.0, 1.0)
    return denoised, levels


def _check_set(check_images: list[np.ndarray], grain: GrainNet, seed: int
               ) -> tuple[torch.Tensor, ...]:
    """A fixed check: 16 held-out 128 px crops, damaged once."""
    rng = np.random.default_rng([seed, 999_998])
    clean = crops(check_images, 16, 128, rng)
    damaged, truth, weight = scan_damage(clean, rng)
    denoised, levels = _inputs(grain, damaged)
    return clean, damaged, truth * weight, denoised, levels


def _check(model: TwoLevelNet, check: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Precision and recall at probability 0.5 of the visible damage, on the fixed check."""
    _, damaged, visible, denoised, levels = check
    with torch.inference_mode():
        found = model(damaged, denoised, levels) > 0.0
    hits = float((found & (visible > 0)).sum())
    return {"precision": round(hits / max(1.0, float(found.sum())), 4),
            "recall": round(hits / max(1.0, float(visible.sum())), 4)}


def finder_task(check_images: list[np.ndarray], seed: int, grain_weights: Path | None = None) -> Task:
    """The damage finder's task: weighted cross-entropy against the visible true mask."""
    grain = load_grain(grain_weights)[0]
    check = _check_set(check_images, grain, seed)

    def loss(model: TwoLevelNet, clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        damaged, truth, weight = scan_damage(clean, rng)
        denoised, levels = _inputs(grain, damaged)
        logits = model(damaged, denoised, levels).float()
        weight = weight * (1.0 + (POSITIVE_WEIGHT - 1.0) * truth)
        return F.binary_cross_entropy_with_logits(logits, truth, weight=weight)

    return Task(DamageNet, loss, lambda model: _check(model, check), FINDER_DAMAGE)


def _calibration_damage() -> list[tuple[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]]]:
    """The conditions the threshold is chosen over: realistic damage at three strengths,
    and the same grain with no dust or scratches, and white noise (sigma 15 and 25)."""
    from dataclasses import replace

    from oldphoto.aging import apply_damage, realistic_at

    def aged(mix: Damage) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
        return lambda clean, rng: apply_damage(clean, mix, rng)[0]

    def white(sigma: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
        return lambda clean, rng: (clean + rng.normal(0.0, sigma / 255.0, clean.shape)).astype(np.float32)

    return ([(f"realistic x{s:g}", aged(realistic_at(s))) for s in (1.0, 2.0, 3.0)]
            + [(f"grain only x{s:g}", aged(replace(realistic_at(s), dust=0.0, scratches=0)))
               for s in (1.0, 3.0)]
            + [(f"white noise sigma {s:g}", white(s)) for s in (15.0, 25.0)])


def _grain_source(grain_weights: Path | None) -> dict[str, Any]:
    """Which grain network denoised the calibration photos (already read by ``denoise``)."""
    path = Path(grain_weights) if grain_weights is not None else GrainNet.SHIPPED
    return provenance(path, cached_net(GrainNet, path)[1])


def calibrate_threshold(path: Path, photos: list[Path], seed: int = 0,
                        grain_weights: Path | None = None) -> dict[str, Any]:
    """Choose the fill threshold by ``restore``'s PSNR on held-out grey photos (see the
    module's docstring), denoised by the grain network the finder was trained with;
    written into the checkpoint's record."""
    from oldphoto.denoise.images import read_grey
    from oldphoto.metrics import psnr
    from oldphoto.restore.damage import fill_masked
    from oldphoto.restore.damage_net import damage_probability
    from oldphoto.restore.pipeline import denoise

    model, record = load_net(DamageNet, path)
    conditions = _calibration_damage()
    scores = np.zeros((len(conditions), len(THRESHOLDS)))
    for index, photo in enumerate(photos):
        clean = read_grey(photo)
        for which, (_, make) in enumerate(conditions):
            damaged = make(clean, np.random.default_rng([seed, index, which, 77]))
            level = estimate_noise(damaged)
            denoised = denoise(damaged, level, grain_weights)
            chance = damage_probability(model, damaged, denoised, level)
            for column, threshold in enumerate(THRESHOLDS):
                filled = fill_masked(denoised, chance > threshold)
                scores[which, column] += psnr(np.clip(filled, 0, 1), clean) / len(photos)
    best = int(np.argmax(scores.mean(0)))
    record["threshold"] = THRESHOLDS[best]
    record["calibration"] = {
        "rule": f"best mean PSNR of restore's output on {len(photos)} held-out grey photos over "
                "age --realistic at strengths 1, 2, 3, its grain alone at strengths 1, 3, and "
                "white noise of sigma 15 and 25",
        "photos": [str(p) for p in photos],
        "grain": _grain_source(grain_weights),
        "sweep": {name: {str(t): round(float(v), 3) for t, v in zip(THRESHOLDS, row, strict=True)}
                  for (name, _), row in zip(conditions, scores, strict=True)}}
    save_net(path, model, record)
    return record
