"""Choosing how vivid a bin colouriser's read-out is: temperature and gain, on held-out photos.

The annealed-mean temperature decides how bold the colour is where the model
hesitates; the gain scales every a*b*. Bold and right raises the hit rate;
bold and wrong costs PSNR. Both are chosen once per checkpoint on scene
photos held out of training (never on a reported set), through the same
full-resolution pipeline the filter runs, and written into the record.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto.colour.bins import annealed_mean
from oldphoto.colour.lab import lab_to_rgb
from oldphoto.metrics import colourfulness, hue_balanced_hit_rate, hue_hits, psnr

TEMPERATURES = (0.25, 0.32, 0.4, 0.5, 0.6, 0.75, 1.0)
GAINS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)


@torch.no_grad()
def sweep(colouriser: Any, truths: list[np.ndarray], temperatures=TEMPERATURES,
          gains=GAINS) -> list[dict[str, float]]:
    """Scores of every (temperature, gain) over ``truths`` (RGB float in [0, 1]), beside gray."""
    model = colouriser.model
    rows: dict[tuple[float, float], dict[str, Any]] = {}
    gray_psnr, truth_colour = [], []
    for truth in truths:
        item = colouriser.prepare(truth)
        h, w = item.valid
        logits, _ = model.bin_logits(item.work)
        mirrored, _ = model.bin_logits(item.work.flip(3))
        lightness = item.lightness
        grey = lab_to_rgb(torch.cat([lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], 1))
        gray_psnr.append(psnr(grey[0].permute(1, 2, 0).numpy(), truth))
        truth_colour.append(colourfulness(truth))
        for temperature in temperatures:
            ab = 0.5 * (annealed_mean(logits, model.centres, temperature)
                        + annealed_mean(mirrored, model.centres, temperature).flip(3))
            ab = F.interpolate(ab, size=item.work.shape[-2:], mode="bilinear", align_corners=False)
            ab = F.interpolate(ab[:, :, :h, :w], size=lightness.shape[-2:], mode="bilinear",
                               align_corners=False)
            for gain in gains:
                rgb = lab_to_rgb(torch.cat([lightness, ab * gain], 1))[0].permute(1, 2, 0).numpy()
                row = rows.setdefault((temperature, gain), {"psnr": [], "colour": [], "hits": 0})
                row["psnr"].append(psnr(rgb, truth))
                row["colour"].append(colourfulness(rgb))
                row["hits"] = row["hits"] + hue_hits(rgb, truth)
    gray, truth_mean = float(np.mean(gray_psnr)), float(np.mean(truth_colour))
    return [
        {"temperature": t, "gain": g, "gain_db": round(float(np.mean(r["psnr"])) - gray, 4),
         "hit_rate": round(hue_balanced_hit_rate(r["hits"]), 4),
         "colourfulness_ratio": round(float(np.mean(r["colour"])) / max(truth_mean, 1e-9), 4)}
        for (t, g), r in rows.items()
    ]


def choose(rows: list[dict[str, float]], psnr_slack: float = 0.3,
           min_colourfulness: float = 0.6) -> dict[str, float]:
    """The highest hit rate within ``psnr_slack`` dB of the best PSNR, colourful enough.

    Hit rate rewards naming the right hue; PSNR punishes naming a wrong one
    boldly. Taking the boldest setting that costs at most a fixed slack of
    PSNR keeps both honest; without a colourful-enough row, the most colourful
    one in the slack is taken.
    """
    best_db = max(r["gain_db"] for r in rows)
    near = [r for r in rows if r["gain_db"] >= best_db - psnr_slack]
    vivid = [r for r in near if r["colourfulness_ratio"] >= min_colourfulness]
    if vivid:
        return max(vivid, key=lambda r: r["hit_rate"])
    return max(near, key=lambda r: r["colourfulness_ratio"])


#: Photos with a short side up to this are thumbnails (CIFAR-10, Tiny ImageNet): the model
#: is less sure of their colour, so they get a read-out of their own when one is calibrated.
SMALL_SHORT_SIDE = 64


def calibrate(weights: Path, truths: list[np.ndarray], size: int, psnr_slack: float = 0.3,
              min_colourfulness: float = 0.6, small_truths: list[np.ndarray] | None = None,
              small_source: str = "") -> dict[str, Any]:
    """Sweep, choose, and rewrite the checkpoint's record with the chosen read-out.

    With ``small_truths`` (thumbnails), a second read-out is chosen for photos
    whose short side is at most ``SMALL_SHORT_SIDE``, by the best PSNR alone:
    there the bold setting chosen for scenes costs more than a decibel.
    """
    from oldphoto.colour.models.checkpoint import read_checkpoint, write_payload
    from oldphoto.colour.pipeline import Colouriser

    colouriser = Colouriser(weights, size=size, flip_average=True)
    rows = sweep(colouriser, truths)
    best = choose(rows, psnr_slack, min_colourfulness)
    payload = read_checkpoint(Path(weights))
    rule = (f"highest hue-balanced hit rate within {psnr_slack} dB of the best PSNR, colourfulness "
            f">= {min_colourfulness} of the truth's, on {len(truths)} held-out scene photos at size {size}")
    record = {
        **payload["record"], "calibrated_with": shlex.join(["oldphoto", *sys.argv[1:]]),
        "temperature": best["temperature"], "saturation": best["gain"],
        "spread": 0.0, "min_chroma": 0.0, "work_size": size,
        "calibration": {"rule": rule, "chosen": best, "sweep": rows},
    }
    record.pop("small_photos", None)
    if small_truths:
        small_rows = sweep(colouriser, small_truths)
        chosen = max(small_rows, key=lambda r: r["gain_db"])
        record["small_photos"] = {
            "max_short_side": SMALL_SHORT_SIDE, "temperature": chosen["temperature"],
            "saturation": chosen["gain"],
            "calibration": {"rule": f"best PSNR on {len(small_truths)} thumbnails from {small_source}",
                            "chosen": chosen, "sweep": small_rows},
        }
    payload["record"] = record
    write_payload(Path(weights), payload)
    return payload["record"]


def holdout_truths(scenes: list[str], limit: int = 0) -> list[np.ndarray]:
    """The held-out scene photos (see crops.HOLDOUT_SHARE) as RGB float in [0, 1]."""
    from oldphoto.colour.crops import read_photos, scene_files

    files = scene_files(scenes, holdout=True)
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    return [photo.astype(np.float32) / 255.0 for photo in read_photos(files)]


def thumbnail_truths(folders: list[str], limit: int) -> list[np.ndarray]:
    """``limit`` thumbnails spread evenly over the object folders' files, as RGB float in [0, 1].

    They come from the training folders (standard practice: settings are chosen
    on train); a run of a few thousand steps shows the model each one about once.
    Photos stored grey hold no colour to choose by and are left out.
    """
    from oldphoto.codecs import image_files
    from oldphoto.colour.crops import read_photos

    files = [path for folder in folders for path in image_files(folder)]
    if not files or limit <= 0:
        return []
    photos = read_photos(files[:: max(1, len(files) // limit)][:limit])
    coloured = [photo for photo in photos if np.ptp(photo.astype(np.int16), axis=2).max() > 2]
    return [photo.astype(np.float32) / 255.0 for photo in coloured]
