"""After training: pick the grading a colouriser ships with (gain, spread, faint-colour gate).

The sweep scores every candidate on the val split, with gray computed once on
the same photos, and keeps the best PSNR that reaches the wanted colourfulness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from oldphoto.colour.data import ImageSet
from oldphoto.colour.grading import widen_spread
from oldphoto.colour.lab import mean_chroma
from oldphoto.colour.losses import batch_tensors, recombine
from oldphoto.colour.models.checkpoint import load_model, save_checkpoint
from oldphoto.metrics import colourfulness as image_colourfulness
from oldphoto.metrics import psnr

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


def calibrate_output(config: Any, val_set: ImageSet, record: dict) -> dict:
    """Pick the grading (gain, spread, faint-colour gate) with the best val PSNR at the wanted colour.

    Regression to the mean makes these colourisers timid, so a gain or a wider
    spread trades a little PSNR for colour a person can see. And a photo whose
    predicted colour is faint has little to win from it but much to lose if it
    was black and white to begin with (gray is exact there), so below a
    calibrated mean |a*b*| it stays grey. Rewrites the checkpoint with all
    three in its record.
    """
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
