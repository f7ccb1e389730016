"""Training loop shared by the three colourisers and the ResNet backbone.

Designed for a couple of CPU cores: data are uint8 arrays in memory (see
:mod:`oldphoto.colour.data`), Lab is computed per batch in torch, weights are
averaged (EMA) for evaluation, and every epoch writes a loadable checkpoint plus
a resume state, so an interrupted run is still usable.
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
from torch.nn import functional as F

from oldphoto.colour.data import ImageSet
from oldphoto.colour.evaluate import Scores
from oldphoto.colour.grading import widen_spread
from oldphoto.colour.lab import AB_SCALE, lab_to_rgb, mean_chroma, uint8_to_lab
from oldphoto.colour.models.checkpoint import build_model, save_checkpoint
from oldphoto.errors import OldphotoError
from oldphoto.metrics import colourfulness as image_colourfulness
from oldphoto.metrics import psnr


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


def batch_tensors(
    images: np.ndarray, device: str, flip: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 (N,S,S,3) -> normalised L (N,1,S,S), a*b* (N,2,S,S) and RGB truth (N,3,S,S)."""
    batch = torch.from_numpy(images).to(device)
    if flip is not None and flip.any():
        index = torch.from_numpy(np.flatnonzero(flip)).to(device)
        batch[index] = batch[index].flip(2)
    lab = uint8_to_lab(batch)
    rgb = batch.permute(0, 3, 1, 2).float() / 255.0
    return lab[:, :1] / 100.0, lab[:, 1:], rgb


def recombine(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """RGB from normalised L and a*b*: the image the user finally sees."""
    return lab_to_rgb(torch.cat([lightness * 100.0, ab], dim=1))


def colourfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler and Suesstrunk's colourfulness per image of (N, 3, H, W) RGB in [0, 1], on 0-255.

    The benchmark's measure (``oldphoto.metrics.colourfulness``), differentiable,
    so training can be paid for the colour a person sees.
    """
    rgb = rgb * 255.0
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    spread = (rg.var(dim=(1, 2), correction=0) + yb.var(dim=(1, 2), correction=0) + 1e-6).sqrt()
    mean = (rg.mean(dim=(1, 2)).pow(2) + yb.mean(dim=(1, 2)).pow(2) + 1e-6).sqrt()
    return spread + 0.3 * mean


#: Mean |a*b*| below which an image counts as a black-and-white original.
GREY_CHROMA = 0.5


def colour_loss(
    model: nn.Module, config: TrainConfig, lightness: torch.Tensor, ab: torch.Tensor,
    rgb: torch.Tensor, labels: torch.Tensor | None,
) -> torch.Tensor:
    """The chosen colour loss, + α CE on the class head, + β BCE on the grey-original head.

    ``ab``: the paper's MSE on a*b* scaled to [0, 1]; ``rgb``: MSE on the recombined
    RGB; ``psnr``: minus the per-image PSNR of the recombined RGB over colour
    originals (the benchmark's own measure); ``rgb-direct``: the MLP's RGB output.
    """
    grey_logit = logits = None
    if config.loss == "rgb-direct":
        loss = F.mse_loss(model.forward_rgb(lightness), rgb)
    else:
        predicted, logits, grey_logit = model(lightness)
        if config.loss == "ab":
            loss = F.mse_loss(predicted / (2 * AB_SCALE), ab / (2 * AB_SCALE))
        elif config.loss == "rgb":
            loss = F.mse_loss(recombine(lightness, predicted), rgb)
        elif config.loss == "psnr":
            result = recombine(lightness, predicted)
            per_image = (result - rgb).pow(2).mean(dim=(1, 2, 3))
            coloured = mean_chroma(ab) >= GREY_CHROMA
            weights = coloured.float() / coloured.float().sum().clamp_min(1.0)
            loss = (10.0 * torch.log10(per_image + 1e-5) * weights).sum()
            if config.colour_reward > 0:
                paid = colourfulness(result)
                if config.reward_cap > 0:  # no pay for colour beyond the photo's own
                    paid = torch.minimum(paid, config.reward_cap * colourfulness(rgb))
                loss = loss - config.colour_reward * (paid * weights).sum()
        else:
            raise OldphotoError(f"--loss {config.loss}: expected ab, rgb, psnr or rgb-direct")
    if config.alpha > 0 and logits is not None and labels is not None:
        loss = loss + config.alpha * F.cross_entropy(logits, labels)
    if config.beta > 0 and grey_logit is not None:
        is_grey = (mean_chroma(ab) < GREY_CHROMA).float()
        loss = loss + config.beta * F.binary_cross_entropy_with_logits(grey_logit, is_grey)
    return loss


GATES = (1.01, 0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)


@torch.no_grad()
def validate_colour(model: nn.Module, data: ImageSet, device: str, batch: int = 256) -> dict:
    """Val PSNR / MSE / colourfulness beside the grey baseline, at the working size.

    With a grey-original head, the gate threshold that maximises mean PSNR is
    chosen here and reported as ``grey_gate`` (1.01 = never gate).
    """
    model.eval()
    rows: dict[str, list[float]] = {}
    for start in range(0, len(data), batch):
        lightness, _, rgb = batch_tensors(data.images[start : start + batch], device)
        predicted, _, grey_logit = model(lightness)
        p_grey = torch.zeros(len(rgb)) if grey_logit is None else torch.sigmoid(grey_logit).cpu()
        estimate = recombine(lightness, predicted).permute(0, 2, 3, 1).cpu().numpy()
        grey = recombine(lightness, torch.zeros_like(predicted)).permute(0, 2, 3, 1).cpu().numpy()
        truth = rgb.permute(0, 2, 3, 1).cpu().numpy()
        for est, gry, tru, p in zip(estimate, grey, truth, p_grey.tolist(), strict=True):
            one = Scores()
            one.add(est, gry, tru)
            for key, value in one.sums.items():
                rows.setdefault(key, []).append(value)
            rows.setdefault("p_grey", []).append(p)
    table = {key: np.asarray(value) for key, value in rows.items()}
    best_gate, best_psnr = GATES[0], -1.0
    for gate in GATES:
        gated = np.where(table["p_grey"] > gate, table["gray_psnr"], table["psnr"]).mean()
        if gated > best_psnr + 1e-9:
            best_gate, best_psnr = gate, float(gated)
    use_grey = table["p_grey"] > best_gate
    scores = {
        "psnr": best_psnr,
        "psnr_ungated": float(table["psnr"].mean()),
        "mse_pct": float(np.where(use_grey, table["gray_mse_pct"], table["mse_pct"]).mean()),
        "colourfulness": float(np.where(use_grey, 0.0, table["colourfulness"]).mean()),
        "gray_psnr": float(table["gray_psnr"].mean()),
        "gray_mse_pct": float(table["gray_mse_pct"].mean()),
        "truth_colourfulness": float(table["truth_colourfulness"].mean()),
        "grey_gate": best_gate,
        "gated_fraction": float(use_grey.mean()),
        "images": len(data),
    }
    scores["gain_db"] = scores["psnr"] - scores["gray_psnr"]
    scores["colourfulness_ratio"] = scores["colourfulness"] / max(1e-9, scores["truth_colourfulness"])
    return {key: round(float(value), 4) for key, value in scores.items()}


@torch.no_grad()
def validate_classifier(model: nn.Module, data: ImageSet, device: str, batch: int = 256) -> dict:
    """Top-1 accuracy of a backbone on grey inputs."""
    from oldphoto.colour.models.resnet import grey_for_resnet

    model.eval()
    correct = 0
    for start in range(0, len(data), batch):
        lightness, _, _ = batch_tensors(data.images[start : start + batch], device)
        logits = model(grey_for_resnet(lightness, model.input_size))
        labels = torch.from_numpy(data.labels[start : start + batch]).to(device)
        correct += int((logits.argmax(1) == labels).sum())
    return {"accuracy": round(correct / max(1, len(data)), 4), "images": len(data)}


def with_bw_labels(data: ImageSet, device: str) -> ImageSet:
    """Relabel a set 1 = black-and-white original (a*b* ~ 0), 0 = colour original."""
    labels = []
    for start in range(0, len(data), 1024):
        _, ab, _ = batch_tensors(data.images[start : start + 1024], device)
        labels.append((mean_chroma(ab) < GREY_CHROMA).long().cpu().numpy())
    return ImageSet(data.images, np.concatenate(labels), ["colour", "bw"], data.source)


def _oversampled(data: ImageSet, times: int) -> np.ndarray:
    """Indices with the positive (rare) class repeated ``times`` times."""
    index = np.arange(len(data))
    if times <= 1 or not data.classes:
        return index
    rare = np.flatnonzero(data.labels == 1)
    return np.concatenate([index, np.repeat(rare, times - 1)])


#: Cost model of the gate: a B&W original left grey gains ~50 dB of PSNR over a
#: coloured one; a colour original left grey loses the colouriser's gain (~0.5 dB).
GATE_WIN_DB, GATE_LOSS_DB = 50.0, 0.5


@torch.no_grad()
def validate_detector(model: nn.Module, data: ImageSet, device: str, batch: int = 256) -> dict:
    """AUC, recall of B&W originals among the top-k%, and the gate threshold the cost model picks."""
    from oldphoto.colour.models.resnet import grey_for_resnet

    model.eval()
    scores = []
    for start in range(0, len(data), batch):
        lightness, _, _ = batch_tensors(data.images[start : start + batch], device)
        scores.append(torch.softmax(model(grey_for_resnet(lightness, 32)), 1)[:, 1].cpu())
    prob = torch.cat(scores).numpy()
    truth = data.labels == 1
    positives, negatives = int(truth.sum()), int((~truth).sum())
    ranks = np.argsort(np.argsort(prob)) + 1
    auc = (ranks[truth].sum() - positives * (positives + 1) / 2) / max(1, positives * negatives)
    best_gate, best_value = 1.01, 0.0
    for gate in np.unique(np.round(prob, 3)):
        gated = prob >= gate
        value = GATE_WIN_DB * (gated & truth).sum() - GATE_LOSS_DB * (gated & ~truth).sum()
        if value > best_value:
            best_gate, best_value = float(gate), float(value)
    gated = prob >= best_gate
    return {
        "auc": round(float(auc), 4),
        "bw_originals": positives,
        "images": len(data),
        "gate": round(best_gate, 4),
        "gated_fraction": round(float(gated.mean()), 4),
        "bw_recall_at_gate": round(float((gated & truth).sum() / max(1, positives)), 4),
        "expected_gain_db": round(best_value / max(1, len(data)), 4),
    }


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state")


def train(
    config: TrainConfig,
    train_set: ImageSet,
    val_set: ImageSet,
    model: nn.Module | None = None,
    resume: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) training; returns the final record. Writes config.out each epoch."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = config.device
    is_detector = config.kind == "bw-detector"
    is_backbone = config.kind == "resnet-backbone" or is_detector
    if is_detector:
        train_set = with_bw_labels(train_set, device)
        val_set = with_bw_labels(val_set, device)
    elif is_backbone and not train_set.has_labels:
        raise OldphotoError("resnet-backbone needs --data with one sub-folder per class")
    if config.colour_reward > 0 and config.loss != "psnr":
        raise OldphotoError(f"--colour-reward works with --loss psnr, not --loss {config.loss}")
    if config.reward_cap > 0 and config.colour_reward <= 0:
        raise OldphotoError("--reward-cap needs --colour-reward")
    model = (model or build_model(config.arch)).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.l2)
    steps_per_epoch = max(1, len(_oversampled(train_set, config.oversample)) // config.batch_size)
    total = steps_per_epoch * config.epochs
    average = WeightAverage(model, config.ema)
    start_epoch, history = 0, []
    if resume is not None:
        state_file = resume if resume.name.endswith(".state") else _state_path(resume)
        if not state_file.is_file():
            raise OldphotoError(f"--resume {resume}: no training state at {state_file}")
        state = torch.load(state_file, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        average.state = state["average"]
        start_epoch, history = int(state["epoch"]), list(state["history"])
        config.command = " ; ".join([*state.get("commands", []), config.command])
        rng = np.random.default_rng(config.seed + start_epoch)
    use_labels = train_set.has_labels and (config.alpha > 0 or is_backbone)
    record: dict[str, Any] = {}
    display = _Display(progress, total, start_epoch * steps_per_epoch)
    with display:
        for epoch in range(start_epoch, config.epochs):
            model.train()
            order = rng.permutation(_oversampled(train_set, config.oversample))
            started, running = time.time(), 0.0
            for index in range(steps_per_epoch):
                step = epoch * steps_per_epoch + index
                for group in optimiser.param_groups:
                    group["lr"] = config.lr * _lr_factor(step, total, config.schedule)
                chosen = np.sort(order[index * config.batch_size : (index + 1) * config.batch_size])
                flip = rng.random(len(chosen)) < 0.5 if config.flip else None
                lightness, ab, rgb = batch_tensors(train_set.images[chosen], device, flip)
                labels = torch.from_numpy(train_set.labels[chosen]).to(device) if use_labels else None
                if is_backbone:
                    from oldphoto.colour.models.resnet import grey_for_resnet

                    loss = F.cross_entropy(model(grey_for_resnet(lightness, 32)), labels)
                else:
                    loss = colour_loss(model, config, lightness, ab, rgb, labels)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                average.update(model)
                running = loss.item() if index == 0 else 0.98 * running + 0.02 * loss.item()
                display.advance(epoch, running)
            evaluated = build_model(config.arch).to(device)
            evaluated.load_state_dict(average.state)
            check = validate_classifier if is_backbone else validate_colour
            check = validate_detector if is_detector else check
            metrics = check(evaluated, val_set, device)
            seconds = round(time.time() - started, 1)
            history.append({"epoch": epoch + 1, "loss": round(running, 6), "seconds": seconds, **metrics})
            display.validated(epoch, metrics)
            record = _record(config, train_set, val_set, history)
            save_checkpoint(Path(config.out), config.kind, config.arch, evaluated, record)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "average": average.state,
                    "epoch": epoch + 1,
                    "history": history,
                    "commands": config.command.split(" ; "),
                },
                _state_path(Path(config.out)),
            )
    if not record and history:
        record = _record(config, train_set, val_set, history)
    if config.min_colourfulness > 0 and not is_backbone and history:
        record = calibrate_output(config, val_set, record)
    return record


SATURATIONS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0, 1.25, 1.5)
#: Candidate extra colour spreads (mean |a*b*| deviation added per photo, grading.widen_spread).
SPREADS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
#: Candidate "faint colour" gates: mean |a*b*| of the prediction below which a photo stays grey.
MIN_CHROMAS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


@torch.no_grad()
def _per_image_table(model: nn.Module, val_set: ImageSet, device: str) -> dict[str, np.ndarray]:
    """Per-image val scores at every grading, with the flip-averaged prediction the filter uses."""
    origins = val_set.origins if val_set.origins is not None else np.zeros(len(val_set), int)
    columns: dict[str, list[float]] = {"origin": list(origins)}
    for start in range(0, len(val_set), 256):
        lightness, _, rgb = batch_tensors(val_set.images[start : start + 256], device)
        predicted = 0.5 * (model(lightness)[0] + model(lightness.flip(3))[0].flip(3))
        columns.setdefault("chroma", []).extend(mean_chroma(predicted).cpu().tolist())
        truth = rgb.permute(0, 2, 3, 1).cpu().numpy()
        grey = recombine(lightness, 0 * predicted).permute(0, 2, 3, 1).cpu().numpy()
        # gray and the truth do not depend on the grading: score them once
        columns.setdefault("gray_psnr", []).extend(map(psnr, grey, truth))
        columns.setdefault("truth_colourfulness", []).extend(map(image_colourfulness, truth))
        for gain in SATURATIONS:
            for spread in SPREADS:
                graded = widen_spread(predicted * gain, spread)
                estimate = recombine(lightness, graded).permute(0, 2, 3, 1).cpu().numpy()
                at = f"@{gain}+{spread}"
                columns.setdefault(f"psnr{at}", []).extend(map(psnr, estimate, truth))
                columns.setdefault(f"colourfulness{at}", []).extend(
                    map(image_colourfulness, estimate)
                )
    return {key: np.asarray(value) for key, value in columns.items()}


def _gated_summary(
    table: dict[str, np.ndarray], gain: float, spread: float, min_chroma: float
) -> dict[str, float]:
    """Val means when photos whose predicted colour is fainter than ``min_chroma`` stay grey."""
    faint = table["chroma"] < min_chroma
    at = f"@{gain}+{spread}"
    mean_psnr = np.where(faint, table["gray_psnr"], table[f"psnr{at}"]).mean()
    colour = np.where(faint, 0.0, table[f"colourfulness{at}"])
    truth = table["truth_colourfulness"]
    per_set = [
        float(colour[table["origin"] == origin].mean() / max(truth[table["origin"] == origin].mean(), 1e-9))
        for origin in np.unique(table["origin"])
    ]
    gray = table["gray_psnr"].mean()
    return {
        "saturation": gain, "spread": spread, "min_chroma": min_chroma,
        "psnr": round(float(mean_psnr), 4), "gray_psnr": round(float(gray), 4),
        "gain_db": round(float(mean_psnr - gray), 4),
        "colourfulness_ratio": round(float(colour.mean() / max(truth.mean(), 1e-9)), 4),
        "colourfulness_ratio_per_set": [round(ratio, 4) for ratio in per_set],
        "grey_fraction": round(float(faint.mean()), 4), "images": len(faint),
    }


def calibrate_output(config: TrainConfig, val_set: ImageSet, record: dict) -> dict:
    """Pick the grading (gain, spread, faint-colour gate) with the best val PSNR at the wanted colour.

    Regression to the mean makes these colourisers timid, so a gain or a wider
    spread trades a little PSNR for colour a person can see. And a photo whose
    predicted colour is faint has little to win from it but much to lose if it
    was black and white to begin with (gray is exact there), so below a
    calibrated mean |a*b*| it stays grey. Rewrites the checkpoint with all
    three in its record.
    """
    from oldphoto.colour.models.checkpoint import load_model

    model, _ = load_model(Path(config.out))
    model = model.to(config.device).eval()
    table = _per_image_table(model, val_set, config.device)
    rows = [
        _gated_summary(table, gain, spread, floor)
        for gain in SATURATIONS for spread in SPREADS for floor in MIN_CHROMAS
    ]
    allowed = [r for r in rows if r["grey_fraction"] <= config.max_grey] or rows[:1]
    good = [
        r for r in allowed if min(r["colourfulness_ratio_per_set"]) >= config.min_colourfulness
    ] or allowed
    best = max(good, key=lambda r: r["psnr"])
    rule = (f"best val PSNR with colourfulness >= {config.min_colourfulness} of the truth's in "
            f"every --data set and at most {config.max_grey} of the photos left grey")
    record = {
        **record, "saturation": best["saturation"], "spread": best["spread"],
        "min_chroma": best["min_chroma"], "calibration": {"rule": rule, "chosen": best, "sweep": rows},
    }
    save_checkpoint(Path(config.out), config.kind, config.arch, model.cpu(), record)
    return record


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
    }


class _Display:
    """A rich progress bar on stderr with the smoothed loss and the last val score."""

    def __init__(self, enabled: bool, total: int, completed: int):
        self.enabled = enabled
        self.total, self.completed = total, completed
        self.note = ""

    def __enter__(self) -> _Display:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                TextColumn("loss {task.fields[loss]:.5f} {task.fields[note]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(
                "train", total=self.total, completed=self.completed, epoch=1, loss=0.0, note=""
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)

    def advance(self, epoch: int, loss: float) -> None:
        if self.enabled:
            self.progress.update(self.task, advance=1, epoch=epoch + 1, loss=loss, note=self.note)

    def validated(self, epoch: int, metrics: dict) -> None:
        if "auc" in metrics:
            self.note = f"val AUC {metrics['auc']:.3f}"
        elif "psnr" in metrics:
            self.note = f"val PSNR {metrics['psnr']:.2f} (gray {metrics['gray_psnr']:.2f})"
        else:
            self.note = f"val acc {metrics.get('accuracy', 0):.3f}"
        line = f"epoch {epoch + 1}: {self.note} {metrics}"
        if self.enabled:
            self.progress.console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)
