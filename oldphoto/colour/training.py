"""The training loop shared by the colourisers, the ResNet prior and the B&W detector.

Designed for a couple of CPU cores: data are uint8 arrays in memory (see
:mod:`oldphoto.colour.data`), Lab is computed per batch in torch, weights are
averaged (EMA) for evaluation, and every epoch writes a loadable checkpoint plus
a resume state, so an interrupted run is still usable. What is learned (loss,
labels, validation) comes from a task (:mod:`oldphoto.colour.tasks`); losses,
validation and the final calibration live in their own modules.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from oldphoto.colour.calibration import calibrate_output
from oldphoto.colour.data import ImageSet
from oldphoto.colour.distributed import replicate, shard, world
from oldphoto.colour.losses import batch_tensors
from oldphoto.colour.models.checkpoint import build_model, save_checkpoint
from oldphoto.colour.tasks import task_for
from oldphoto.console import Progress
from oldphoto.errors import OldphotoError


@dataclass
class TrainConfig:
    """Everything that defines a run; recorded verbatim in the checkpoint."""

    kind: str
    arch: dict[str, Any]
    out: str
    data: list[str] = field(default_factory=list)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    alpha: float = 0.0
    beta: float = 0.0
    colour_reward: float = 0.0
    reward_cap: float = 0.0
    oversample: int = 1
    min_colourfulness: float = 0.0
    max_grey: float = 0.3
    l2: float = 0.0
    loss: str = "rgb"
    schedule: str = "cosine"
    ema: float = 0.999
    flip: bool = True
    val_split: float = 0.3
    val_limit: int = 2000
    limit: int = 0
    size: int = 32
    seed: int = 0
    device: str = "cpu"
    init: str = ""
    command: str = ""


def _lr_factor(step: int, total: int, schedule: str) -> float:
    """Short linear warm-up, then cosine decay to zero (or constant)."""
    warm = min(200, max(1, total // 20))
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


class WeightAverage:
    """Exponential moving average of parameters; buffers (BN statistics) are copied."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point and self.decay > 0:
                self.state[key].mul_(self.decay).add_(value, alpha=1.0 - self.decay)
            else:
                self.state[key].copy_(value)


def _oversampled(data: ImageSet, times: int) -> np.ndarray:
    """Indices with the positive (rare) class repeated ``times`` times."""
    index = np.arange(len(data))
    if times <= 1 or not data.classes:
        return index
    rare = np.flatnonzero(data.labels == 1)
    return np.concatenate([index, np.repeat(rare, times - 1)])


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state")


@dataclass
class _Run:
    """The mutable state of a run: what ``--resume`` restores."""

    model: nn.Module
    optimiser: torch.optim.Optimizer
    average: WeightAverage
    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)

    def save(self, config: TrainConfig, epochs_done: int) -> None:
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimiser": self.optimiser.state_dict(),
                "average": self.average.state,
                "epoch": epochs_done,
                "history": self.history,
                "commands": config.command.split(" ; "),
            },
            _state_path(Path(config.out)),
        )

    def resume(self, resume: Path, config: TrainConfig) -> None:
        state_file = resume if resume.name.endswith(".state") else _state_path(resume)
        if not state_file.is_file():
            raise OldphotoError(f"--resume {resume}: no training state at {state_file}")
        state = torch.load(state_file, map_location=config.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.average.state = state["average"]
        self.start_epoch, self.history = int(state["epoch"]), list(state["history"])
        config.command = " ; ".join([*state.get("commands", []), config.command])


def train(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet,
    model: nn.Module | None = None,
    resume: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) training; returns the final record. Writes config.out each epoch.

    Under torchrun each rank trains on its share of every epoch (``--batch-size``
    per process) and only rank 0 validates, writes and draws progress; the
    others return an empty record.
    """
    me = world()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = config.device
    task = task_for(config.kind)
    train_set, val_set = task.prepare(config, train_set, val_set)
    model = (model or build_model(config.arch)).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    run = _Run(model, torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.l2),
               WeightAverage(model, config.ema))
    shared = len(_oversampled(train_set, config.oversample)) // me.size
    steps_per_epoch = max(1, shared // config.batch_size)
    total = steps_per_epoch * config.epochs
    if resume is not None:
        run.resume(resume, config)
        rng = np.random.default_rng(config.seed + run.start_epoch)
    use_labels = task.uses_labels(config, train_set)
    record: dict[str, Any] = {}
    replica = replicate(model)
    with Progress("epoch", total, progress and me.main, run.start_epoch * steps_per_epoch) as bar:
        note = ""
        for epoch in range(run.start_epoch, config.epochs):
            model.train()
            order = shard(rng.permutation(_oversampled(train_set, config.oversample)))
            started, running = time.time(), 0.0
            for index in range(steps_per_epoch):
                step = epoch * steps_per_epoch + index
                for group in run.optimiser.param_groups:
                    group["lr"] = config.lr * _lr_factor(step, total, config.schedule)
                chosen = np.sort(order[index * config.batch_size : (index + 1) * config.batch_size])
                flip = rng.random(len(chosen)) < 0.5 if config.flip else None
                lightness, ab, rgb = batch_tensors(train_set.images[chosen], device, flip)
                labels = torch.from_numpy(train_set.labels[chosen]).to(device) if use_labels else None
                loss = task.loss(replica, config, lightness, ab, rgb, labels)
                run.optimiser.zero_grad(set_to_none=True)
                loss.backward()
                run.optimiser.step()
                run.average.update(model)
                running = loss.item() if index == 0 else 0.98 * running + 0.02 * loss.item()
                bar.advance(1, f"epoch {epoch + 1} loss {running:.5f} {note}")
            if not me.main:
                continue
            evaluated = build_model(config.arch).to(device)
            evaluated.load_state_dict(run.average.state)
            metrics = task.validate(evaluated, val_set, device)
            seconds = round(time.time() - started, 1)
            run.history.append({"epoch": epoch + 1, "loss": round(running, 6), "seconds": seconds,
                                "steps": steps_per_epoch, **metrics})
            note = _note(metrics)
            bar.log(f"epoch {epoch + 1}: {note} {metrics}")
            record = _record(config, train_set, val_set, run.history)
            save_checkpoint(Path(config.out), config.kind, config.arch, evaluated, record)
            run.save(config, epoch + 1)
    if not record and run.history and me.main:
        record = _record(config, train_set, val_set, run.history)
    if config.min_colourfulness > 0 and task.calibrates and run.history and me.main:
        record = calibrate_output(config, val_set, record)
    return record


def _note(metrics: dict) -> str:
    """The val score the progress bar shows after an epoch."""
    if "auc" in metrics:
        return f"val AUC {metrics['auc']:.3f}"
    if "psnr" in metrics:
        return f"val PSNR {metrics['psnr']:.2f} (gray {metrics['gray_psnr']:.2f})"
    return f"val acc {metrics.get('accuracy', 0):.3f}"


def _record(config: TrainConfig, train_set: ImageSet, val_set: ImageSet, history: list) -> dict:
    """What the checkpoint says about how it was made and how well it did."""
    return {
        "config": asdict(config),
        "command": (config.command or " ".join(sys.argv)).split(" ; ")[0],
        "resumed_with": (config.command or "").split(" ; ")[1:],
        "seed": config.seed,
        "data": {"sources": config.data, "train_images": len(train_set), "val_images": len(val_set)},
        "classes": list(train_set.classes),
        "epochs_done": len(history),
        "history": history,
        "val": history[-1] if history else {},
        "torch": str(torch.__version__),
        "world_size": world().size,
    }
