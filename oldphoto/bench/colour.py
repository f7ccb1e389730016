"""``oldphoto bench colorize`` and the contact sheet: full-pipeline scores on real files.

Images are read at their native size and go through exactly the filter's
pipeline; gray (input L*, a*b* = 0) is scored on the same images in the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.codecs import image_files
from oldphoto.colour.evaluate import Scores
from oldphoto.metrics import (
    constant_tint,
    grey_baseline,
    hits_by_sextant,
    hue_balanced_hit_rate,
    hue_hits,
)


def list_images(folder: Path, limit: int = 0) -> list[Path]:
    """All images under ``folder`` (sorted), or ``limit`` evenly spaced ones (all classes)."""
    files = image_files(folder)
    if limit and limit < len(files):
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    return files


def read_rgb(path: Path) -> np.ndarray:
    """RGB float32 in [0, 1] at native size."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255.0


def is_single_channel(path: Path) -> bool:
    """A file stored grey (e.g. 168 of Tiny ImageNet val's JPEGs): no colour to recover."""
    from PIL import Image

    with Image.open(path) as image:
        return image.mode in ("L", "LA", "I", "I;16", "1")


#: Trivial controls scored in every run: what a number must beat to mean anything.
CONTROLS = {"gray": (0.0, 0.0), "warm tint": (4.0, 12.0)}


def score_controls(truths: list[np.ndarray], greys: list[np.ndarray]) -> list[dict[str, Any]]:
    """Gray and a constant warm tint (a* = 4, b* = 12), scored like a model."""
    rows = []
    for name, (a, b) in CONTROLS.items():
        scores, hits = Scores(), np.zeros((2, 6), np.int64)
        for truth, grey in zip(truths, greys, strict=True):
            estimate = grey if (a, b) == (0.0, 0.0) else constant_tint(truth, a, b)
            scores.add(estimate, grey, truth)
            hits += hue_hits(estimate, truth)
        summary = scores.summary()
        summary.update({"weights": name, "kind": "control", "hit_rate": round(hue_balanced_hit_rate(hits), 4),
                        "hits_by_sextant": hits_by_sextant(hits),
                        "left_grey_fraction": 0.0, "rgb_files_gain_db": float("nan"),
                        "colour_originals_gain_db": float("nan")})
        rows.append(summary)
    return rows


def score_weights(
    files: list[Path], truths: list[np.ndarray], weights: str, size: int, device: str,
    detector: str = "none", saturation: float = -1.0, greys: list[np.ndarray] | None = None,
    min_chroma: float = -1.0, spread: float = -1.0,
) -> dict[str, Any]:
    """One model over all files, beside gray; also the score on colour originals only."""
    from oldphoto.colour.pipeline import Colouriser

    colouriser = Colouriser(
        weights, device=device, size=size, detector=detector, saturation=saturation,
        min_chroma=min_chroma, spread=spread,
    )
    scores, rgb_files, colour_only = Scores(), Scores(), Scores()
    hits = np.zeros((2, 6), np.int64)
    left_grey = 0
    greys = greys or [grey_baseline(truth) for truth in truths]
    stored_grey_files = [is_single_channel(path) for path in files]
    for start in range(0, len(truths), 64):
        batch = truths[start : start + 64]
        results = colouriser.colourise(batch)
        for truth, (estimate, info), grey_file, grey in zip(
            batch, results, stored_grey_files[start : start + 64], greys[start : start + 64],
            strict=True,
        ):
            scores.add(estimate, grey, truth)
            hits += hue_hits(estimate, truth)
            if not grey_file:
                rgb_files.add(estimate, grey, truth)
            if np.abs(truth - grey).max() > 2.0 / 255.0:
                colour_only.add(estimate, grey, truth)
            left_grey += int(info.get("left_grey", False))
    summary = scores.summary()
    summary["hit_rate"] = round(hue_balanced_hit_rate(hits), 4)
    summary["hits_by_sextant"] = hits_by_sextant(hits)
    summary["rgb_files"] = rgb_files.summary()
    summary["colour_originals"] = colour_only.summary()
    summary["colour_originals_gain_db"] = colour_only.summary().get("gain_db", 0.0)
    summary["rgb_files_gain_db"] = rgb_files.summary().get("gain_db", 0.0)
    summary["left_grey_fraction"] = round(left_grey / max(1, len(truths)), 4)
    summary["weights"] = str(weights)
    summary["kind"] = colouriser.kind
    summary["detector"] = detector
    summary["size"] = colouriser.size
    summary["saturation"] = colouriser.saturation
    summary["min_chroma"] = colouriser.min_chroma
    summary["spread"] = colouriser.spread
    return summary


def bench_table(
    data: Path, weights: list[str], limit: int, size: int, device: str, json_out: Path | None,
    detector: str = "none", saturation: float = -1.0, min_chroma: float = -1.0,
    spread: float = -1.0,
) -> list[dict[str, Any]]:
    """Print (and optionally save) the table of every model against gray."""
    from rich.table import Table

    from oldphoto.console import rich_console
    from oldphoto.device import resolve_device

    device = resolve_device(device)
    files = list_images(data, limit)
    truths = [read_rgb(path) for path in files]
    greys = [grey_baseline(truth) for truth in truths]
    rows = score_controls(truths, greys) + [
        score_weights(
            files, truths, name, size, device, detector, saturation, greys, min_chroma, spread
        )
        for name in weights
    ]
    table = Table(title=f"{data} ({len(files)} images)")
    table.add_column("model", no_wrap=True)
    for column in ("PSNR dB", "gray dB", "gain dB", "hit rate", "MSE %", "gray MSE %",
                   "colourf.", "truth colourf.", "ratio", "left grey", "gain RGB files",
                   "gain colour originals"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["weights"], f"{row['psnr']:.2f}", f"{row['gray_psnr']:.2f}",
            f"{row['gain_db']:+.2f}", f"{row['hit_rate']:.3f}", f"{row['mse_pct']:.3f}",
            f"{row['gray_mse_pct']:.3f}",
            f"{row['colourfulness']:.1f}", f"{row['truth_colourfulness']:.1f}",
            f"{row['colourfulness_ratio']:.2f}", f"{row['left_grey_fraction']:.3f}",
            _db(row['rgb_files_gain_db']), _db(row['colour_originals_gain_db']),
        )
    rich_console(stderr=False, min_width=150).print(table)
    if json_out is not None:
        json_out.write_text(json.dumps({"data": str(data), "images": len(files), "rows": rows}, indent=1))
    return rows


def _db(value: float) -> str:
    return "-" if value != value else f"{value:+.2f}"


def worst_photos(files: list[Path], truths: list[np.ndarray], weights: str, count: int) -> list[int]:
    """Indices of the ``count`` photos where ``weights`` gains least PSNR over gray, worst first."""
    from oldphoto.colour.pipeline import Colouriser
    from oldphoto.metrics import psnr

    colouriser = Colouriser(weights.partition("@")[0])
    gains = []
    for start in range(0, len(truths), 16):
        batch = truths[start : start + 16]
        for truth, (rgb, _) in zip(batch, colouriser.colourise(batch), strict=True):
            gains.append(psnr(rgb, truth) - psnr(grey_baseline(truth), truth))
    return [int(i) for i in np.argsort(gains)[:count]]


def _fit_height(rgb: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.asarray(image.resize((round(image.width * height / image.height), height), Image.LANCZOS))


def _label(text: str, width: int, height: int = 28) -> np.ndarray:
    """A white strip with ``text`` centred, in Pillow's scalable default font."""
    from PIL import Image, ImageDraw, ImageFont

    strip = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(strip)
    try:
        font = ImageFont.load_default(size=height * 0.6)
    except TypeError:  # Pillow < 10.1: bitmap font only
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    origin = ((width - (right - left)) / 2, (height - (bottom - top)) / 2 - top)
    draw.text(origin, text, fill="black", font=font)
    return np.asarray(strip)


def contact_sheet(data: Path, weights: list[str], output: Path, count: int, height: int,
                  worst: bool = False) -> None:
    """Rows of photos: grey input | each model | truth, resized to a common height, labelled."""
    from PIL import Image

    from oldphoto.colour.pipeline import Colouriser

    files = list_images(data, 0 if worst else count)
    truths = [read_rgb(path) for path in files]
    if worst:
        chosen = worst_photos(files, truths, weights[0], count)
        files, truths = [files[i] for i in chosen], [truths[i] for i in chosen]
    columns = [[grey_baseline(t) for t in truths]]
    for spec in weights:
        name, _, gain = spec.partition("@")
        colouriser = Colouriser(name, saturation=float(gain) if gain else -1.0)
        columns.append([rgb for rgb, _ in colouriser.colourise(truths)])
    columns.append(truths)
    names = ["grey input", *(Path(w).stem if w.endswith(".pt") else w for w in weights), "truth"]
    grid = [[_fit_height(column[index], height) for column in columns] for index in range(len(truths))]
    widths = [max(row[c].shape[1] for row in grid) for c in range(len(columns))]
    gap = np.full((height, 4, 3), 255, np.uint8)
    header = [piece for name, w in zip(names, widths, strict=True) for piece in (_label(name, w), gap[:28])]
    rows = [np.concatenate(header[:-1], axis=1)]
    for cells in grid:
        padded = [np.pad(cell, ((0, 0), (0, w - cell.shape[1]), (0, 0)), constant_values=255)
                  for cell, w in zip(cells, widths, strict=True)]
        rows.append(np.concatenate([p for cell in padded for p in (cell, gap)][:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows[:-1], axis=0)).save(output)
