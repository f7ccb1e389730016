"""``oldphoto bench paper``'s output: the table on stdout, markdown, JSON and the plot.

The rows themselves are computed in :mod:`oldphoto.bench.paper`.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from oldphoto.bench.paper import BenchData, RowResult, default_data, make_data, run_rows

HEADERS = ("group", "model", "paper MSE %", "ours MSE %", "PSNR dB", "SSIM",
           "colourfulness (x truth)", "note")


def table_cells(result: RowResult) -> list[str]:
    spec = result.spec
    paper = f"{spec.paper:.2f}" if spec.paper is not None else ""
    if result.missing:
        return [spec.group, spec.label, paper, "-", "-", "-", "-", result.missing]
    colour = "(grey)"
    if result.colourfulness is not None:
        colour = f"{result.colourfulness:.1f} ({result.colourfulness_ratio or 0:.2f}x)"
    return [spec.group, spec.label, paper, f"{result.mse_pct:.3f}", f"{result.psnr:.2f}",
            f"{result.ssim:.4f}", colour, result.weights or ""]


def describe(data: BenchData, density: float, seed: int) -> str:
    count, height, width = data.truth.shape[:3]
    source = os.path.relpath(data.source) if Path(data.source).is_absolute() else data.source
    return (f"{count} CIFAR-10 test images ({width}x{height}, the shared JPEG copy) from "
            f"{source}; de-noising rows: {density:.0%} salt-and-pepper on BT.601 grey, seed "
            f"{seed}. De-noising rows are scored against the grey truth, colour rows against "
            f"the RGB truth; MSE % is the paper's unit (MSE on [0, 1] x 100).")


NOTES = (
    "MSE % is the paper's unit: mean squared error on [0, 1], times 100, averaged over "
    "images (the paper calls it 'average squared error' and, in its caption, RMSE; its "
    "0.12% matches MSE, about 29.2 dB).",
    "PSNR and SSIM are means over images; SSIM uses a 7x7 window (scikit-image).",
    "paper rows: each model in the paper's configuration, fed the truth's L* as the paper "
    "did; the colour is recombined with that L*. `gray` is that L* with a*b* = 0: what "
    "doing nothing scores, and the bar every colouriser has to clear.",
    "De-noising rows run on the BT.601 grey of the truth with salt-and-pepper noise; each "
    "denoiser runs its own detection (never the true mask). They are scored against the "
    "grey truth, so they are not comparable with the colour rows.",
    "pipe rows start from the noisy grey, as `oldphoto age | oldphoto denoise-lr | oldphoto "
    "colorize-cnn` would, and are scored against the RGB truth.",
    "Colourfulness is Hasler and Süsstrunk's (0-255 scale); (x truth) is the ratio to the "
    "truth's mean colourfulness.",
    "The shared CIFAR-10 copy is JPEG (about q75, 4:2:0 chroma), not the original arrays, so "
    "colour detail is at half resolution in the truth itself.",
)


def markdown_table(results: list[RowResult], header: str, command: str) -> str:
    """The table as a self-contained markdown page: command, data, table, notes."""
    lines = ["# The paper's Table 1, reproduced", "", "```sh", command, "```", "", header, "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for result in results:
        lines.append("| " + " | ".join(table_cells(result)) + " |")
    truth = next((r.truth_colourfulness for r in results if r.truth_colourfulness), None)
    if truth:
        lines += ["", f"Mean colourfulness of the truth: {truth:.1f}."]
    lines += ["", "Notes:", ""] + [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


def print_table(results: list[RowResult], header: str) -> None:
    from rich.table import Table

    from oldphoto.console import rich_console

    table = Table(title="Table 1, reproduced", caption=header, title_justify="left")
    for name in HEADERS:
        table.add_column(name, justify="left" if name in ("group", "model", "note")
                         else "right")
    for result in results:
        table.add_row(*table_cells(result))
    rich_console(stderr=False, min_width=140).print(table)


def run_paper_bench(data: Path | None, limit: int, density: float, seed: int,
                    json_path: Path | None, markdown: Path | None, plot: Path | None,
                    weights_dir: Path | None = None, threads: int = 1) -> None:
    """The whole bench: load, run every row, print, and write what was asked."""
    from oldphoto.codecs import write_atomically
    from oldphoto.console import say

    if threads:
        import torch

        torch.set_num_threads(threads)
    command = shlex.join(["oldphoto", *sys.argv[1:]]) if sys.argv[1:2] == ["bench"] else \
        "oldphoto bench paper"
    started = time.perf_counter()
    bench = make_data(Path(data) if data else default_data(), limit, density, seed)
    bench.weights_dir = weights_dir
    say(f"bench paper: {len(bench.truth)} images loaded")
    results = run_rows(bench, progress=lambda line: say(f"bench paper: {line}"))
    header = describe(bench, density, seed)
    print_table(results, header)
    report = {"command": command, "data": bench.source, "images": len(bench.truth),
              "density": density, "seed": seed, "description": header,
              "seconds": round(time.perf_counter() - started, 1),
              "rows": [r.as_dict() for r in results]}
    if json_path:
        import json

        write_atomically(Path(json_path), (json.dumps(report, indent=2) + "\n").encode())
    if markdown:
        write_atomically(Path(markdown), markdown_table(results, header, command).encode())
    if plot:
        from oldphoto.bench.plots import plot_paper_rows

        plot_paper_rows(report["rows"], Path(plot))
