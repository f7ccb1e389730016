"""``oldphoto bench denoise``: every denoiser on the same noisy images, in one run.

Each (image, density) pair gets its own noise from ``[seed, image, density]``,
so every method sees exactly the same input, and results are reproducible.
Methods with a detector pay for it in their time; the true-mask row is an
upper bound (it cheats with the truth) and is labelled so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oldphoto.errors import OldphotoError

NOISES = ("sp", "realistic")


@dataclass(frozen=True)
class Method:
    """A denoiser under test: ``run(noisy, true_mask) -> restored``."""

    key: str
    label: str
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Scores:
    """Running sums for one method at one density."""

    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0

    def summary(self) -> dict[str, float | None]:
        return {
            "psnr": float(np.mean(self.psnr)) if self.psnr else None,
            "ssim": float(np.mean(self.ssim)) if self.ssim else None,
            "seconds_per_mp": self.seconds / self.megapixels if self.megapixels else None,
        }


def build_methods(weights_dir: Path | None, noise: str = "sp") -> list[Method]:
    """The baselines, both regression variants, and the true-mask upper bound
    (plus, for realistic damage, the default variant after ``detect --specks``).
    """
    from oldphoto.denoise.classical import adaptive_median, damf, median3
    from oldphoto.denoise.detect import DetectorSettings, detect_grey
    from oldphoto.denoise.regression import load_denoiser, shipped_weights

    def weights(variant: str) -> Path:
        default = shipped_weights(variant, 5)
        return weights_dir / default.name if weights_dir else default

    paper = load_denoiser(weights("paper"))
    default = load_denoiser(weights("default"))
    specks = DetectorSettings(specks=True)
    extra = (
        [
            Method(
                "lr_default_specks",
                "denoise-lr default, detect --specks",
                lambda noisy, truth: default.denoise(noisy, detect_grey(noisy, specks)),
            ),
        ]
        if noise == "realistic"
        else []
    )
    return [
        Method("noisy", "noisy input", lambda noisy, truth: noisy),
        Method("median", "median 3x3", lambda noisy, truth: median3(noisy)),
        Method("amf", "adaptive median (7)", lambda noisy, truth: adaptive_median(noisy, 7)),
        Method("damf", "DAMF", lambda noisy, truth: damf(noisy)),
        Method("damf_true", "DAMF, true mask (reference)", damf_with_truth),
        Method("lr_paper", "denoise-lr paper", lambda noisy, truth: paper.denoise(noisy, detect_grey(noisy))),
        Method(
            "lr_default",
            "denoise-lr default",
            lambda noisy, truth: default.denoise(noisy, detect_grey(noisy)),
        ),
        *extra,
        Method(
            "lr_default_true",
            "denoise-lr default, TRUE mask (upper bound)",
            lambda noisy, truth: default.denoise(noisy, truth),
        ),
    ]


def damf_with_truth(noisy: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """DAMF told the true noise mask instead of guessing from pure black/white."""
    from oldphoto.denoise.classical import damf

    return damf(noisy, truth)


def corrupt(
    clean: np.ndarray, density: float, noise: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Salt-and-pepper, or the realistic damage mix plus salt-and-pepper at ``density``."""
    from oldphoto.aging import realistic_damage, salt_and_pepper

    if noise == "sp":
        return salt_and_pepper(clean, density, rng)
    damaged, mask = realistic_damage(clean, rng, density=density)
    return damaged, mask


def evaluate(
    images: Sequence[np.ndarray],
    densities: Sequence[float],
    noise: str,
    seed: int,
    methods: Sequence[Method],
    with_ssim: bool,
    advance: Callable[[], None] = lambda: None,
) -> dict[str, dict[float, Scores]]:
    """Score every method on every image at every density."""
    from oldphoto.metrics import psnr, ssim

    scores = {m.key: {d: Scores() for d in densities} for m in methods}
    for index, clean in enumerate(images):
        for d_index, density in enumerate(densities):
            rng = np.random.default_rng([seed, index, d_index])
            noisy, truth = corrupt(clean, density, noise, rng)
            for method in methods:
                started = time.perf_counter()
                restored = method.run(noisy, truth)
                entry = scores[method.key][density]
                entry.seconds += time.perf_counter() - started
                entry.megapixels += clean.size / 1e6
                entry.psnr.append(psnr(restored, clean))
                if with_ssim:
                    entry.ssim.append(ssim(restored, clean))
            advance()
    return scores


def results_record(scores: dict[str, dict[float, Scores]], methods: Sequence[Method], meta: dict) -> dict:
    """JSON-able results: per method, per density PSNR/SSIM, and time per megapixel."""
    out = {**meta, "methods": {}}
    for method in methods:
        per_density = {f"{d:g}": s.summary() for d, s in scores[method.key].items()}
        total_s = sum(s.seconds for s in scores[method.key].values())
        total_mp = sum(s.megapixels for s in scores[method.key].values())
        out["methods"][method.key] = {
            "label": method.label,
            "densities": per_density,
            "seconds_per_mp": total_s / total_mp if total_mp else None,
        }
    return out


def markdown_table(record: dict) -> str:
    """PSNR / SSIM per density, one method a row, and the mean time per megapixel."""
    densities = record["densities"]
    head = "| method | " + " | ".join(f"{d:g}" for d in densities) + " | s/MP |"
    rule = "|---" * (len(densities) + 2) + "|"
    lines = [head, rule]
    for method in record["methods"].values():
        cells = []
        for d in densities:
            entry = method["densities"][f"{d:g}"]
            cell = f"{entry['psnr']:.2f}"
            if entry["ssim"] is not None:
                cell += f" / {entry['ssim']:.3f}"
            cells.append(cell)
        lines.append(f"| {method['label']} | " + " | ".join(cells) + f" | {method['seconds_per_mp']:.3f} |")
    return "\n".join(lines) + "\n"


def print_table(record: dict) -> None:
    """The same table, with rich, on stderr."""
    from rich.table import Table

    from oldphoto.console import rich_console

    table = Table(title=f"{record['data']} ({record['noise']}): PSNR dB / SSIM")
    table.add_column("method")
    for d in record["densities"]:
        table.add_column(f"{d:g}", justify="right")
    table.add_column("s/MP", justify="right")
    for method in record["methods"].values():
        cells = []
        for d in record["densities"]:
            entry = method["densities"][f"{d:g}"]
            ssim = "" if entry["ssim"] is None else f" / {entry['ssim']:.3f}"
            cells.append(f"{entry['psnr']:.2f}{ssim}")
        table.add_row(method["label"], *cells, f"{method['seconds_per_mp']:.3f}")
    rich_console().print(table)


def run_bench(
    data: Path,
    densities: Sequence[float],
    noise: str,
    seed: int,
    limit: int | None,
    with_ssim: bool,
    weights_dir: Path | None,
    json_path: Path | None,
    markdown: Path | None,
    every: int = 1,
) -> dict:
    """The ``oldphoto bench denoise`` command."""
    from oldphoto.console import Progress
    from oldphoto.denoise.images import read_folder

    if noise not in NOISES:
        raise OldphotoError(f"--noise {noise}: expected sp or realistic")
    images = read_folder(data, limit, every)
    methods = build_methods(weights_dir, noise)
    with Progress("bench denoise", len(images) * len(densities), enabled=True) as progress:
        scores = evaluate(
            images,
            densities,
            noise,
            seed,
            methods,
            with_ssim,
            advance=progress.advance,
        )
    command = (
        f"oldphoto bench denoise --data {data} --densities "
        f"{','.join(f'{d:g}' for d in densities)} --noise {noise} --seed {seed}"
        + (f" --limit {limit}" if limit else "")
        + (f" --every {every}" if every > 1 else "")
    )
    record = results_record(
        scores,
        methods,
        {
            "data": str(data),
            "images": len(images),
            "noise": noise,
            "seed": seed,
            "densities": list(densities),
            "command": command,
        },
    )
    print_table(record)
    if json_path:
        json_path.write_text(json.dumps(record, indent=2) + "\n")
    if markdown:
        markdown.write_text(f"`{command}`\n\n" + markdown_table(record))
    return record


def run_speed(
    data: Path, size: int, density: float, seed: int, repeats: int, weights_dir: Path | None
) -> dict:
    """Megapixels per second of each method on one size x size grey image (tiled from ``data``).

    The image is a mirrored tiling of the first test image, so it has real
    texture; each method runs ``repeats`` times and the best time counts.
    """
    from rich.table import Table

    from oldphoto.console import rich_console
    from oldphoto.denoise.images import list_images, read_grey

    first = read_grey(list_images(data, 1)[0])
    reps = (size // first.shape[0] + 1, size // first.shape[1] + 1)
    tiled = np.block(
        [[first[:: 1 - 2 * (i % 2), :: 1 - 2 * (j % 2)] for j in range(reps[1])] for i in range(reps[0])]
    )[:size, :size]
    noisy, truth = corrupt(np.ascontiguousarray(tiled), density, "sp", np.random.default_rng(seed))
    wanted = ("median", "amf", "damf", "lr_paper", "lr_default")
    rows = {}
    for method in (m for m in build_methods(weights_dir) if m.key in wanted):
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            method.run(noisy, truth)
            best = min(best, time.perf_counter() - started)
        rows[method.key] = {"label": method.label, "seconds": best, "mp_per_s": noisy.size / 1e6 / best}
    table = Table(title=f"speed, {size}x{size} grey, density {density:g}")
    for column in ("method", "seconds", "MP/s"):
        table.add_column(column)
    for row in rows.values():
        table.add_row(row["label"], f"{row['seconds']:.3f}", f"{row['mp_per_s']:.2f}")
    rich_console().print(table)
    return {"size": size, "density": density, "methods": rows}
