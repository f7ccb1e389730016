"""Validation after each epoch: colourisers, classifiers and the B&W-original detector.

Every score sits beside its baseline computed on the same images: gray for the
colourisers, the cost model of a gate for the detector.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from oldphoto.colour.data import ImageSet
from oldphoto.colour.evaluate import Scores
from oldphoto.colour.lab import mean_chroma
from oldphoto.colour.losses import GREY_CHROMA, batch_tensors, recombine
from oldphoto.colour.models.resnet import grey_for_resnet

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


#: Cost model of the gate: a B&W original left grey gains ~50 dB of PSNR over a
#: coloured one; a colour original left grey loses the colouriser's gain (~0.5 dB).
GATE_WIN_DB, GATE_LOSS_DB = 50.0, 0.5


@torch.no_grad()
def validate_detector(model: nn.Module, data: ImageSet, device: str, batch: int = 256) -> dict:
    """AUC, recall of B&W originals among the top-k%, and the gate threshold the cost model picks."""
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
