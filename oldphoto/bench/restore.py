"""``oldphoto bench restore``: restore and every classical baseline, in the same run.

Two tables: the standard grey denoising one (Gaussian sigma 15/25/50, not
clipped) and real-scan damage (``age --realistic`` at several strengths: grain,
dust, scratches, fading, blur, JPEG), scored against the clean grey original
with PSNR and SSIM; plus a clean photo through ``restore`` against itself.
Every method is blind: it gets the same estimated noise level
(:func:`oldphoto.restore.estimate.estimate_noise`), not the true one. One row
more, on Gaussian noise only, gives the grain network the true sigma: that is
how BM3D's and DnCNN's published figures were made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.console import say
from oldphoto.errors import OldphotoError

Method = Callable[[np.ndarray, float], np.ndarray]


def _median(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(noisy, 3, mode="mirror")


def _bilateral(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_bilateral

    return denoise_bilateral(np.clip(noisy, 0, 1), win_size=7, sigma_color=max(2.0 * sigma, 1e-3),
                             sigma_spatial=1.5)


def _tv(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(noisy, weight=max(sigma, 1e-3))


def _nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(noisy, h=0.8 * max(sigma, 1e-3), sigma=sigma, patch_size=5,
                            patch_distance=6, fast_mode=True)


def _median_nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """A 3x3 median, then NLM at the noise left, read by the classical estimate (a classical
    baseline gets no help from restore's learned one)."""
    from oldphoto.restore.estimate import block_noise

    smoothed = _median(noisy, sigma)
    return _nlm(smoothed, block_noise(smoothed))


def _bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return np.asarray(bm3d.bm3d(noisy, sigma_psd=max(sigma, 1e-3)), np.float32)


def _restore(weights: Path | None) -> tuple[Method, Method, Method]:
    """``restore`` as a user runs it (``--strength auto``: it reads the same blind level
    itself, and takes out part of a faint grain), and the network alone at the given level,
    in one pass and in eight (``--thorough``)."""
    from oldphoto.restore.pipeline import RestoreSettings, denoise, restore

    def full(noisy: np.ndarray, sigma: float) -> np.ndarray:
        return restore(noisy, RestoreSettings(weights=weights))[0]

    def net(noisy: np.ndarray, sigma: float) -> np.ndarray:
        return denoise(noisy, sigma, weights)

    def thorough(noisy: np.ndarray, sigma: float) -> np.ndarray:
        return denoise(noisy, sigma, weights, passes=8)

    return full, net, thorough


def methods(weights: Path | None, bm3d: bool) -> dict[str, Method]:
    """Every method by name, in table order."""
    full, net, thorough = _restore(weights)
    found: dict[str, Method] = {"noisy": lambda x, s: x, "median": _median, "bilateral": _bilateral,
                                "total variation": _tv, "non-local means": _nlm,
                                "median + NLM": _median_nlm}
    if bm3d:
        try:
            import bm3d as _  # noqa: F401
        except ImportError:
            raise OldphotoError("--bm3d needs the bm3d package: pip install 'oldphoto[bench]'") from None
        found["BM3D"] = _bm3d
    found["denoise-grain"] = net
    found[SIGMA_GIVEN] = net
    found[THOROUGH] = thorough
    found[THOROUGH_GIVEN] = thorough
    found["restore"] = full
    return found


#: The row that is told the true Gaussian sigma instead of the blind estimate.
SIGMA_GIVEN = "denoise-grain, sigma given"
#: The network averaged over eight flips and turns, blind and told sigma (Gaussian columns only).
THOROUGH, THOROUGH_GIVEN = "denoise-grain --thorough", "denoise-grain --thorough, sigma given"
GAUSSIAN_ONLY = (SIGMA_GIVEN, THOROUGH, THOROUGH_GIVEN)
#: A clean photo through ``restore`` should stay at least this close to itself (issue 18).
CLEAN_FLOOR = 38.0


def _score(estimate: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    from oldphoto.metrics import psnr, ssim

    estimate = np.clip(np.asarray(estimate, np.float32), 0.0, 1.0)
    return psnr(estimate, clean), ssim(estimate, clean)


def conditions(gaussian: tuple[float, ...], strengths: tuple[float, ...]) -> list[tuple[str, Any]]:
    """(label, how to damage) for every column of the tables."""
    return ([(f"sigma {s:g}", ("gaussian", s)) for s in gaussian]
            + [(f"realistic x{s:g}", ("realistic", s)) for s in strengths])


def damage(clean: np.ndarray, how: tuple[str, float], rng: np.random.Generator) -> np.ndarray:
    """The clean grey image with Gaussian noise (sigma on 0..255) or realistic damage."""
    from oldphoto.aging import apply_damage, realistic_at

    kind, value = how
    if kind == "gaussian":
        return (clean + rng.normal(0.0, value / 255.0, clean.shape)).astype(np.float32)
    return apply_damage(clean, realistic_at(value), rng)[0]


def run_restore_bench(sets: dict[str, Path], gaussian: tuple[float, ...], strengths: tuple[float, ...],
                      realistic_sets: tuple[str, ...], bm3d_sets: tuple[str, ...], limit: int | None,
                      seed: int, weights: Path | None) -> dict[str, Any]:
    """Score every method on every set and condition; returns the JSON-able record."""
    from oldphoto.denoise.images import list_images, read_grey
    from oldphoto.restore.estimate import estimate_noise

    record: dict[str, Any] = {"seed": seed, "blind": True, "sets": {}, "seconds": {}}
    for set_name, folder in sets.items():
        if not folder.is_dir():
            raise OldphotoError(f"--data {folder}: not a folder")
        files = list_images(folder, limit)
        if not files:
            raise OldphotoError(f"{folder}: no images")
        table: dict[str, dict[str, list[float]]] = {}
        chosen = methods(weights, set_name in bm3d_sets)
        clocks = dict.fromkeys(chosen, 0.0)
        wanted = [c for c in conditions(gaussian, strengths)
                  if c[1][0] == "gaussian" or set_name in realistic_sets]
        clean_scores = []
        for index, path in enumerate(files):
            clean = read_grey(path)
            clean_scores.append(_score(chosen["restore"](clean, estimate_noise(clean)), clean))
            for label, how in wanted:
                noisy = damage(clean, how, np.random.default_rng([seed, index, int(how[1] * 100)]))
                sigma = estimate_noise(noisy)
                for name, method in chosen.items():
                    if name in GAUSSIAN_ONLY and how[0] != "gaussian":
                        continue
                    told = name in (SIGMA_GIVEN, THOROUGH_GIVEN)
                    started = time.perf_counter()
                    out = method(noisy, how[1] / 255.0 if told else sigma)
                    clocks[name] += time.perf_counter() - started
                    table.setdefault(label, {}).setdefault(name, []).append(_score(out, clean))
            say(f"{set_name}: {index + 1}/{len(files)} {path.name}")
        record["sets"][set_name] = {
            "images": len(files),
            "table": {label: {name: [round(float(np.mean([s[0] for s in scores])), 3),
                                     round(float(np.mean([s[1] for s in scores])), 4)]
                              for name, scores in by_method.items()}
                      for label, by_method in table.items()},
            "clean_restore": [round(float(np.mean([s[0] for s in clean_scores])), 3),
                              round(float(min(s[0] for s in clean_scores)), 3)],
            "clean_below_floor": int(sum(s[0] < CLEAN_FLOOR for s in clean_scores)),
        }
        record["seconds"][set_name] = {k: round(v, 1) for k, v in clocks.items()}
    return record


def markdown(record: dict[str, Any]) -> str:
    """One table per set: methods down, conditions across, 'PSNR / SSIM' in each cell."""
    lines = []
    for set_name, data in record["sets"].items():
        labels = list(data["table"])
        names = list(dict.fromkeys(n for by in data["table"].values() for n in by))
        lines += [f"**{set_name}** ({data['images']} images; PSNR dB / SSIM)", "",
                  "| method | " + " | ".join(labels) + " |",
                  "|---" * (len(labels) + 1) + "|"]
        for name in names:
            cells = [("{:.2f} / {:.3f}".format(*data["table"][lab][name])
                      if name in data["table"][lab] else "-") for lab in labels]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        mean, worst = data["clean_restore"]
        below = data.get("clean_below_floor", "?")
        lines += ["", f"Clean images through `restore`: mean {mean:.2f} dB, worst {worst:.2f} dB "
                      f"against themselves; {below} of {data['images']} below {CLEAN_FLOOR:g} dB.", ""]
    return "\n".join(lines)


def plot(record: dict[str, Any], path: Path) -> Path | None:
    """PSNR per condition, one line per method, one panel per set."""
    from oldphoto.bench.plots import Panel, plot_panels

    panels = []
    for set_name, data in record["sets"].items():
        labels = list(data["table"])
        panel = Panel(f"{set_name}: PSNR by damage", "condition (0-2: Gaussian sigma, then realistic)")
        for label_index, label in enumerate(labels):
            for name, (value, _) in data["table"][label].items():
                panel.series.setdefault(name, {})[float(label_index)] = value
        panels.append(panel)
    return plot_panels(panels, path)


def write_outputs(record: dict[str, Any], json_path: Path | None, markdown_path: Path | None,
                  plot_path: Path | None) -> None:
    """Print the tables; write JSON, markdown and the plot where asked (atomically)."""
    from oldphoto.codecs import write_atomically

    text = markdown(record)
    print(text)
    if json_path:
        write_atomically(json_path, json.dumps(record, indent=1).encode())
    if markdown_path:
        write_atomically(markdown_path, (text + "\n").encode())
    if plot_path:
        plot(record, plot_path)
