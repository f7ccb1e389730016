"""``oldphoto train noise-level``: teaching the level estimator what grain is, and what is not.

Each step's crops are split three ways, so the network sees the same photos
clean and grainy:

- a third stay clean (half of them through JPEG, as a scanned or downloaded
  photo is): they must read 0, however much texture they hold;
- a third get the grain denoiser's damage (:func:`oldphoto.restore.synth.degrade`:
  white, correlated and signal-dependent noise, JPEG), read at the std that was
  added;
- a third are aged as scans (:func:`oldphoto.restore.synth.scan_aged`: grain,
  dust, scratches, fading, blur, JPEG), read at their grain's std: dust and
  scratches are not grain.

The loss is the absolute error of log(1 + level on 0..255), so a reading of 2
for a clean crop costs as much as one of 38 for grain of 12. The loop (resume,
weight averaging, checkpoints) is :func:`oldphoto.restore.training.train_net`.
"""

from __future__ import annotations

import numpy as np
import torch

from oldphoto.restore.level_net import LevelNet, to_log_level
from oldphoto.restore.model import TwoLevelNet
from oldphoto.restore.synth import degrade, jpeg, scan_aged
from oldphoto.restore.training import Task, crops

LEVEL_DAMAGE = ("a third clean (half JPEG q60-95), read as 0; a third the grain denoiser's damage, "
                "read at the std added; a third aged as scans (grain 4-25/255, dust, scratches, "
                "fade, blur, JPEG), read at the grain's std")


def level_batch(clean: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean (N,1,H,W) crops, each left clean, noised or aged as a scan (see the module's
    docstring); returns the crops and the log-level (N,) each must read."""
    kind = rng.integers(0, 3, len(clean))
    images, level = clean.clone(), torch.zeros(len(clean))
    for index in np.flatnonzero(kind == 0):
        if rng.random() < 0.5:
            images[index, 0] = torch.from_numpy(jpeg(clean[index, 0].numpy(), rng.integers(60, 96)))
    noised = torch.from_numpy(np.flatnonzero(kind == 1))
    if len(noised):
        noisy, _ = degrade(clean[noised], rng)
        images[noised] = noisy
        level[noised] = (noisy - clean[noised]).flatten(1).std(1)
    for index in np.flatnonzero(kind == 2):
        aged, _, grain = scan_aged(clean[index, 0].numpy(), rng)
        images[index, 0], level[index] = torch.from_numpy(aged), grain
    return images, to_log_level(level)


def _check_set(check_images: list[np.ndarray], seed: int, side: int) -> tuple[torch.Tensor, ...]:
    """A fixed check: 48 held-out crops of the trained side, a third of each kind."""
    rng = np.random.default_rng([seed, 999_997])
    return level_batch(crops(check_images, 48, side, rng), rng)


def _check(model: TwoLevelNet, check: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """On the fixed check: the mean reading of the clean crops (levels on 0..255) and the
    mean relative error of the others."""
    images, target = check
    with torch.inference_mode():
        read = torch.expm1(model(images).float()).clamp(min=0.0)
    truth = torch.expm1(target)
    clean = truth == 0
    return {"clean_reads": round(float(read[clean].mean()), 3),
            "grain_error": round(float(((read - truth).abs() / truth.clamp(min=1.0))[~clean].mean()), 4)}


def level_task(check_images: list[np.ndarray], seed: int, side: int) -> Task:
    """The level estimator's task: L1 on the log-level; checked on crops of ``side`` px."""
    check = _check_set(check_images, seed, side)

    def loss(model: TwoLevelNet, clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        images, target = level_batch(clean, rng)
        return torch.nn.functional.l1_loss(model(images).float(), target)

    return Task(LevelNet, loss, lambda model: _check(model, check), LEVEL_DAMAGE)
