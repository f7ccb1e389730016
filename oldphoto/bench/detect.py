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

from oldphoto.denoise.detect import DEFAULT_THRESHOLD, DetectorSettings, detect_grey, precision_recall

#: The detectors compared: the paper's test alone, the default, and the automatic threshold.
DETECTORS = {
    f"paper 4-neighbour test only (threshold {DEFAULT_THRESHOLD:g})": DetectorSettings(extreme_rule=False),
    f"default (threshold {DEFAULT_THRESHOLD:g} + extreme rule)": DetectorSettings(),
    "auto threshold + extreme rule": DetectorSettings(auto_threshold=True),
    "default + speck rule (--specks)": DetectorSettings(specks=True),
}


def measure(images: Sequence[np.ndarray], densities: Sequence[float], noise: str, seed: int) -> dict:
    """Mean precision, recall, and recall of the impulses that changed a pixel."""
    from oldphoto.bench.denoise import corrupt

    out: dict = {}
    for d_index, density in enumerate(densities):
        sums = {name: np.zeros(3) for name in DETECTORS}
        for index, clean in enumerate(images):
            rng = np.random.default_rng([seed, index, d_index])
            damaged, truth = corrupt(clean, density, noise, rng)
            changed = np.abs(damaged - clean) > 0.5 / 255 if noise == "sp" else None
            for name, settings in DETECTORS.items():
                found = detect_grey(damaged, settings)
                precision, recall = precision_recall(found, truth)
                _, effective = precision_recall(found, truth, changed)
                sums[name] += (precision, recall, effective)
        out[f"{density:g}"] = {
            name: dict(
                zip(("precision", "recall", "recall_changed"), (s / len(images)).tolist(), strict=True)
            )
            for name, s in sums.items()
        }
    return out


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
    """One row per density; precision / recall per detector."""
    names = list(DETECTORS)
    lines = ["| density | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for density, row in record["results"].items():
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
    from rich.console import Console

    from oldphoto.denoise.images import read_folder

    images = read_folder(data, limit)
    console = Console(stderr=True)
    with console.status(f"bench detect on {len(images)} images"):
        if thresholds:
            results = measure_thresholds(images, densities, noise, seed, thresholds)
        else:
            results = measure(images, densities, noise, seed)
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
    text = sweep_table(record) if thresholds else markdown_table(record)
    console.print(text)
    if json_path:
        json_path.write_text(json.dumps(record, indent=2) + "\n")
    if markdown:
        markdown.write_text(f"`{command}`\n\n" + text)
    return record
