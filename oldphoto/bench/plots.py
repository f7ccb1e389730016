"""The paper's figures as PNG: PSNR against noise density, training-set size and window size.

matplotlib is an optional extra (``pip install oldphoto[plot]``). Every public
function here returns the path it wrote, or None after printing a one-line note
when matplotlib is absent, so a bench still prints its tables without it.

Benches call :func:`plot_panels` with plain data: one :class:`Panel` per figure,
each a mapping ``series label -> {x: y}``, or hand their JSON record to
:func:`panels_from_json`. :func:`plot_json` draws benches' JSON files after the
fact: ``oldphoto bench plot bench.json study.json -o figures.png``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oldphoto.errors import OldphotoError

NOTE = "plots need matplotlib: pip install 'oldphoto[plot]' (tables are printed anyway)"


@dataclass
class Panel:
    """One figure: a title, axis labels and ``series label -> {x: y}``."""

    title: str
    xlabel: str
    ylabel: str = "PSNR (dB)"
    series: dict[str, dict[float, float]] = field(default_factory=dict)
    logx: bool = False


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend, or None (and a note) without it."""
    if not have_matplotlib():
        print(NOTE, file=sys.stderr)
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def plot_panels(panels: list[Panel], path: Path) -> Path | None:
    """Draw panels side by side into one PNG; None (and a note on stderr) without matplotlib."""
    panels = [p for p in panels if p.series]
    if not panels:
        raise OldphotoError("nothing to plot: no series with data")
    plt = _pyplot()
    if plt is None:
        return None

    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        # more lines than tab10 has colours would repeat one: tab20 then gives each its own
        colours = plt.get_cmap("tab10" if len(panel.series) <= 10 else "tab20")
        for index, (label, points) in enumerate(panel.series.items()):
            xs = sorted(points)
            axis.plot(xs, [points[x] for x in xs], marker="o", label=label, color=colours(index))
        axis.set_title(panel.title)
        axis.set_xlabel(panel.xlabel)
        axis.set_ylabel(panel.ylabel)
        if panel.logx:
            axis.set_xscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def psnr_vs_density(results: Mapping[str, Mapping[float, float]]) -> Panel:
    """Fig. 6 (right) as PSNR: one line per denoiser over the noise densities."""
    return Panel("PSNR vs noise density", "salt-and-pepper density",
                 series=_clean(results))


def psnr_vs_training_size(results: Mapping[str, Mapping[float, float]]) -> Panel:
    """Fig. 6 (left) as PSNR: test quality against the number of training images."""
    return Panel("PSNR vs training-set size", "training images", series=_clean(results),
                 logx=True)


def psnr_vs_window(results: Mapping[str, Mapping[float, float]]) -> Panel:
    """Fig. 7 as PSNR: test quality against the scanning-window size."""
    return Panel("PSNR vs window size", "window (pixels per side)", series=_clean(results))


def _clean(results: Mapping[str, Mapping[Any, Any]]) -> dict[str, dict[float, float]]:
    """JSON keys come back as strings; make them numbers and drop empty series."""
    out = {}
    for label, points in results.items():
        numeric = {float(x): float(y) for x, y in points.items() if y is not None}
        if numeric:
            out[str(label)] = numeric
    return out


def plot_paper_rows(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Ours against the paper's Table 1, as paired bars of MSE %."""
    paired = [r for r in rows if r.get("paper_mse_pct") is not None and r.get("mse_pct") is not None]
    if not paired:
        raise OldphotoError("nothing to plot: no row has both the paper's figure and ours")
    plt = _pyplot()
    if plt is None:
        return None
    import numpy as np

    index = np.arange(len(paired))
    figure, axis = plt.subplots(figsize=(1.3 * len(paired) + 3, 4.2))
    axis.bar(index - 0.2, [r["paper_mse_pct"] for r in paired], 0.4, label="paper")
    axis.bar(index + 0.2, [r["mse_pct"] for r in paired], 0.4, label="ours")
    gray = next((r["mse_pct"] for r in rows if r.get("key") == "gray" and r.get("mse_pct")), None)
    if gray is not None:  # the bar a colouriser has to clear
        axis.axhline(gray, color="grey", linestyle="--", linewidth=1,
                     label=f"gray, a*b* = 0 ({gray:.2f}%)")
    axis.set_xticks(index, [r["label"] for r in paired], rotation=20, ha="right", fontsize=8)
    axis.set_ylabel("MSE % on [0, 1]")
    axis.set_title("Table 1: paper vs ours (lower is better)")
    axis.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def error_to_psnr(error_percent: float) -> float:
    """The paper's unit (MSE % on [0, 1]) as PSNR in dB."""
    from oldphoto.metrics import psnr_from_mse

    return float(psnr_from_mse(error_percent / 100.0))


def panels_from_denoise_bench(record: Mapping[str, Any]) -> list[Panel]:
    """``oldphoto bench denoise --json``: PSNR against density, one line per method."""
    series = {}
    for key, method in record.get("methods", {}).items():
        points = {d: entry.get("psnr") for d, entry in method.get("densities", {}).items()}
        series[method.get("label", key)] = points
    noise = record.get("noise", "sp")
    panel = psnr_vs_density(series)
    panel.title = f"PSNR vs noise density ({noise})"
    return [panel]


def panels_from_study(record: Mapping[str, Any]) -> list[Panel]:
    """``oldphoto bench denoise-study --json`` (errors in %): Fig. 6 left and right, Fig. 7."""
    def regroup(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for x, values in table.items():
            for label, error in values.items():
                if error is not None:
                    out.setdefault(f"LR {label}", {})[x] = error_to_psnr(float(error))
        return out

    panels = []
    if "training_images" in record:
        panels.append(psnr_vs_training_size(regroup(record["training_images"])))
    if "noise_portion" in record:
        panel = psnr_vs_density(regroup(record["noise_portion"]))
        panel.title = "PSNR vs noise density (LR trained per density)"
        panels.append(panel)
    if "window" in record:
        panels.append(psnr_vs_window(regroup(record["window"])))
    return panels


def panels_from_json(data: Mapping[str, Any]) -> list[Panel]:
    """The figures a bench's JSON holds: the denoise bench's or the denoise study's."""
    if isinstance(data.get("methods"), Mapping):
        return panels_from_denoise_bench(data)
    return panels_from_study(data)


def plot_json(results: list[Path], output: Path) -> Path | None:
    """Plot benches' JSON files into one PNG: paper rows, or every denoise figure found."""
    records = []
    for path in results:
        try:
            records.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise OldphotoError(f"{path}: cannot read JSON ({err})") from None
    for record in records:
        if isinstance(record, Mapping) and isinstance(record.get("rows"), list):
            return plot_paper_rows(record["rows"], output)
    panels = [p for r in records if isinstance(r, Mapping) for p in panels_from_json(r)]
    if not panels:
        raise OldphotoError("no figure data found (expected the JSON of `oldphoto bench "
                            "denoise`, `bench denoise-study` or `bench paper`)")
    return plot_panels(panels, output)
