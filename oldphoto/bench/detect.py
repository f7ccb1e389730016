"""``oldphoto bench detect``: the detector's precision and recall against the true mask.

The damage is made exactly as ``oldphoto age --keep-original`` makes it
(``salt_and_pepper`` or ``realistic_damage`` from :mod:`oldphoto.aging`), and the
detector sees only the damaged picture.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oldphoto.denoise.detect import (
    DEFAULT_THRESHOLD,
    EXTREME_TOLERANCE,
    DetectorSettings,
    detect_grey,
    precision_recall,
)

#: The detectors compared: the paper's test alone, the default, and the automatic threshold.
DETECTORS = {
    f"paper 4-neighbour test only (threshold {DEFAULT_THRESHOLD:g})": DetectorSettings(extreme_rule=False),
    f"default (threshold {DEFAULT_THRESHOLD:g} + extreme rule)": DetectorSettings(),
    "auto threshold + extreme rule": DetectorSettings(auto_threshold=True),
    "default + speck rule (--specks)": DetectorSettings(specks=True),
}


def has_true_extremes(clean: np.ndarray) -> bool:
    """Whether a clean photo holds genuine pure black or white (within half an 8-bit step)."""
    return bool(np.any((clean <= EXTREME_TOLERANCE) | (clean >= 1.0 - EXTREME_TOLERANCE)))


def measure(
    images: Sequence[np.ndarray], densities: Sequence[float], noise: str, seed: int,
    only: Sequence[bool] | None = None,
) -> dict:
    """Mean precision, recall, and recall of the impulses that changed a pixel, over
    all images, or over those where ``only`` is true (:func:`measure_both` does both at once)."""
    return measure_both(images, densities, noise, seed, only)[1 if only is not None else 0]


def measure_both(
    images: Sequence[np.ndarray], densities: Sequence[float], noise: str, seed: int,
    only: Sequence[bool] | None = None,
) -> tuple[dict, dict]:
    """:func:`measure` over all images and over the ``only`` ones, from one detection each."""
    from oldphoto.bench.denoise import corrupt

    only = [True] * len(images) if only is None else list(only)
    keys = ("precision", "recall", "recall_changed")
    both: tuple[dict, dict] = ({}, {})
    for d_index, density in enumerate(densities):
        scores = {name: np.zeros((len(images), 3)) for name in DETECTORS}
        for index, clean in enumerate(images):
            rng = np.random.default_rng([seed, index, d_index])
            damaged, truth = corrupt(clean, density, noise, rng)
            changed = np.abs(damaged - clean) > 0.5 / 255 if noise == "sp" else None
            for name, settings in DETECTORS.items():
                found = detect_grey(damaged, settings)
                precision, recall = precision_recall(found, truth)
                _, effective = precision_recall(found, truth, changed)
                scores[name][index] = (precision, recall, effective)
        for out, rows in zip(both, (slice(None), np.asarray(only, bool)), strict=True):
            out[f"{density:g}"] = {
                name: dict(zip(keys, np.mean(s[rows], axis=0).tolist(), strict=True))
                for name, s in scores.items()
            }
    return both


def measure_thresholds(
    images: Sequence[np.ndarray],
    densities: Sequence[float],
    noise: str,
    seed: int,
    thresholds: Sequence[float],
) -> dict:
    """For each threshold of the 4-neighbour test (extreme rule on): precision, recall,
    and the PSNR of filling the flagged pixels with their clean neighbours' median --
    what a false alarm or a miss costs the picture.
    """
    from oldphoto.bench.denoise import corrupt
    from oldphoto.denoise.classical import fill_from_clean
    from oldphoto.metrics import psnr

    out: dict = {}
    for d_index, density in enumerate(densities):
        sums = {t: np.zeros(3) for t in thresholds}
        for index, clean in enumerate(images):
            rng = np.random.default_rng([seed, index, d_index])
            damaged, truth = corrupt(clean, density, noise, rng)
            for threshold in thresholds:
                found = detect_grey(damaged, DetectorSettings(threshold=threshold))
                precision, recall = precision_recall(found, truth)
                quality = psnr(fill_from_clean(damaged, found), clean)
                sums[threshold] += (precision, recall, quality)
        out[f"{density:g}"] = {
            f"{t:g}": dict(zip(("precision", "recall", "fill_psnr"), (s / len(images)).tolist(), strict=True))
            for t, s in sums.items()
        }
    return out


def sweep_table(record: dict) -> str:
    """One row per threshold; precision / recall / fill PSNR per density."""
    densities = list(record["results"])
    lines = [
        "| threshold | " + " | ".join(f"{d} (P / R / dB)" for d in densities) + " |",
        "|---" * (len(densities) + 1) + "|",
    ]
    for threshold in record["results"][densities[0]]:
        cells = []
        for density in densities:
            entry = record["results"][density][threshold]
            cells.append(f"{entry['precision']:.4f} / {entry['recall']:.4f} / {entry['fill_psnr']:.2f}")
        lines.append(f"| {threshold} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_table(record: dict) -> str:
    """One row per density; precision / recall per detector; then the same over the
    photos that hold genuine pure black or white, when the record has them."""
    text = _rows(record, record["results"])
    subset = record.get("results_true_extremes")
    if subset:
        text += (f"\nPhotos with genuine pure black or white only ({record['images_true_extremes']} "
                 f"of {record['images']}):\n\n" + _rows(record, subset))
    return text


def _rows(record: dict, results: dict) -> str:
    """The table of :func:`markdown_table` for one set of results."""
    names = list(DETECTORS)
    lines = ["| density | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for density, row in results.items():
        cells = []
        for name in names:
            entry = row[name]
            cell = f"{entry['precision']:.4f} / {entry['recall']:.4f}"
            if record["noise"] == "sp":
                cell += f" ({entry['recall_changed']:.4f})"
            cells.append(cell)
        lines.append(f"| {density} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_detect_bench(
    data: Path,
    densities: Sequence[float],
    noise: str,
    seed: int,
    limit: int | None,
    json_path: Path | None,
    markdown: Path | None,
    thresholds: Sequence[float] = (),
) -> dict:
    """The ``oldphoto bench detect`` command (``thresholds``: sweep the 4-neighbour test)."""
    from oldphoto.console import rich_console
    from oldphoto.denoise.images import read_folder

    images = read_folder(data, limit)
    console = rich_console()
    with console.status(f"bench detect on {len(images)} images"):
        if thresholds:
            results = measure_thresholds(images, densities, noise, seed, thresholds)
        else:
            extremes = [has_true_extremes(image) for image in images]
            results, subset = measure_both(images, densities, noise, seed, extremes)
            subset = subset if any(extremes) else {}
    command = (
        f"oldphoto bench detect --data {data} --densities "
        f"{','.join(f'{d:g}' for d in densities)} --noise {noise} --seed {seed}"
        + (f" --limit {limit}" if limit else "")
        + (f" --thresholds {','.join(f'{t:g}' for t in thresholds)}" if thresholds else "")
    )
    record = {
        "data": str(data),
        "images": len(images),
        "noise": noise,
        "seed": seed,
        "command": command,
        "results": results,
    }
    if not thresholds:
        record["images_true_extremes"] = int(sum(extremes))
        record["results_true_extremes"] = subset
    text = sweep_table(record) if thresholds else markdown_table(record)
    console.print(text)
    if json_path:
        json_path.write_text(json.dumps(record, indent=2) + "\n")
    if markdown:
        markdown.write_text(f"`{command}`\n\n" + text)
    return record
