"""``oldphoto score``: a pipe stage that measures each frame against the original it carries.

``age --keep-original`` puts the clean input in the ``original`` plane and the
corrupted pixels in ``true_mask``; ``detect`` adds ``noise_mask``. Scoring at the
end of a pipe turns any chain of filters into an evaluation, while the frames
themselves flow on untouched.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.filter import Filter, Option
from oldphoto.frame import NOISE_MASK, ORIGINAL, TRUE_MASK, Frame
from oldphoto.hookspecs import hookimpl

#: How the pixels were compared with the original, for the report.
SAME = "as is"
GREY_OF_ORIGINAL = "grey of original"
GREY_ORIGINAL_AS_RGB = "grey original as RGB"


@dataclass
class MaskCounts:
    """Pixel counts behind precision and recall, so totals pool exactly over images."""

    hits: int = 0
    flagged: int = 0
    real: int = 0

    def __add__(self, other: MaskCounts) -> MaskCounts:
        return MaskCounts(self.hits + other.hits, self.flagged + other.flagged,
                          self.real + other.real)

    @property
    def precision(self) -> float:
        """Share of flagged pixels that were really corrupted (1.0 when nothing is flagged)."""
        return self.hits / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        """Share of corrupted pixels that were flagged (1.0 when nothing was corrupted)."""
        return self.hits / self.real if self.real else 1.0


@dataclass
class ImageScore:
    """One frame's scores; ``compared`` says what the pixels were compared with."""

    name: str
    psnr: float
    ssim: float
    mse_pct: float
    compared: str
    masks: MaskCounts | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "psnr": _round(self.psnr), "ssim": _round(self.ssim),
            "mse_pct": _round(self.mse_pct, 6), "compared": self.compared,
        }
        if self.masks is not None:
            out.update(precision=_round(self.masks.precision), recall=_round(self.masks.recall),
                       **asdict(self.masks))
        return out


def _round(value: float, digits: int = 4) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def comparable(pixels: np.ndarray, original: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The two arrays to compare, matched in channels, and how they were matched.

    Grey pixels against a colour original (an aged photo, a denoised one) are
    compared with the original's grey: that is all a grey stage could restore.
    Colour pixels against a grey original are compared with the grey as RGB,
    so any colour a colouriser adds counts as error.
    """
    original = np.asarray(original, np.float32)
    if pixels.ndim == original.ndim:
        return pixels, original, SAME
    if pixels.ndim == 2:
        return pixels, to_grey(original), GREY_OF_ORIGINAL
    return pixels, np.repeat(original[..., None], 3, axis=2), GREY_ORIGINAL_AS_RGB


def mask_counts(found: np.ndarray, truth: np.ndarray) -> MaskCounts:
    """Hits, flagged and real pixels; per-channel masks count a pixel flagged in any channel."""
    found = np.asarray(found, bool)
    truth = np.asarray(truth, bool)
    if found.ndim == 3:
        found = found.any(axis=-1)
    if truth.ndim == 3:
        truth = truth.any(axis=-1)
    if found.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {found.shape} vs {truth.shape}")
    return MaskCounts(int(np.count_nonzero(found & truth)), int(np.count_nonzero(found)),
                      int(np.count_nonzero(truth)))


def score_frame(frame: Frame) -> ImageScore:
    """Score one frame; raises ValueError when it carries no usable original."""
    from oldphoto.metrics import mse, psnr, ssim

    original = frame.planes.get(ORIGINAL)
    if original is None:
        raise ValueError("no 'original' plane (run `oldphoto age --keep-original` upstream)")
    estimate, truth, compared = comparable(frame.pixels, original)
    if estimate.shape != truth.shape:
        raise ValueError(f"pixels {estimate.shape} and original {truth.shape} differ in size")
    error = mse(estimate, truth)
    try:
        similarity = ssim(estimate, truth)
    except ValueError:  # an image too small for any SSIM window
        similarity = float("nan")
    masks = None
    if TRUE_MASK in frame.planes and NOISE_MASK in frame.planes:
        masks = mask_counts(frame.planes[NOISE_MASK], frame.planes[TRUE_MASK])
    return ImageScore(frame.name, psnr(estimate, truth), similarity, 100.0 * error, compared, masks)


@dataclass
class ScoreSummary:
    """Every image's score and the means; detection is pooled over all pixels."""

    images: list[ImageScore] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)

    def mean(self) -> dict[str, Any]:
        if not self.images:
            return {"images": 0}
        out: dict[str, Any] = {
            "images": len(self.images),
            "psnr": _round(float(np.mean([s.psnr for s in self.images]))),
            "ssim": _round(float(np.nanmean([s.ssim for s in self.images]))
                           if not all(math.isnan(s.ssim) for s in self.images) else float("nan")),
            "mse_pct": _round(float(np.mean([s.mse_pct for s in self.images])), 6),
            "compared": sorted({s.compared for s in self.images}),
        }
        pooled = self.pooled_masks()
        if pooled is not None:
            out.update(precision=_round(pooled.precision), recall=_round(pooled.recall),
                       **asdict(pooled))
        return out

    def pooled_masks(self) -> MaskCounts | None:
        counts = [s.masks for s in self.images if s.masks is not None]
        return sum(counts, MaskCounts()) if counts else None

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean(), "images": [s.as_dict() for s in self.images],
                "unscored": self.unscored}


def summary_lines(summary: ScoreSummary, per_image: bool) -> list[str]:
    """Plain aligned lines for stderr when it is not a terminal (and for logs)."""
    detection = summary.pooled_masks() is not None
    head = f"{'image':30} {'PSNR dB':>8} {'SSIM':>7} {'MSE %':>9}"
    head += f" {'prec.':>6} {'recall':>6}" if detection else ""
    lines = [head + "  compared with"]
    rows = list(summary.images) if per_image else []
    for item in rows:
        lines.append(_line(item.name, item.psnr, item.ssim, item.mse_pct, item.masks, detection,
                           item.compared))
    mean = summary.mean()
    if summary.images:
        pooled = summary.pooled_masks()
        lines.append(_line(f"mean of {mean['images']}", mean["psnr"], _nan(mean["ssim"]),
                           mean["mse_pct"], pooled, detection, ", ".join(mean["compared"])))
    if summary.unscored:
        lines.append(f"not scored: {len(summary.unscored)} frame(s), e.g. {summary.unscored[0]}")
    return lines


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _line(name: str, psnr: float, ssim: float, mse_pct: float, masks: MaskCounts | None,
          detection: bool, compared: str) -> str:
    text = f"{name[-30:]:30} {psnr:8.2f} {ssim:7.4f} {mse_pct:9.4f}"
    if detection:
        text += (f" {masks.precision:6.3f} {masks.recall:6.3f}" if masks is not None
                 else f" {'-':>6} {'-':>6}")
    return text + f"  {compared}"


def print_summary(summary: ScoreSummary, per_image: bool) -> None:
    """A rich table on a terminal, plain lines otherwise; always on stderr."""
    if not sys.stderr.isatty():
        for line in summary_lines(summary, per_image):
            print(line, file=sys.stderr)
        return
    from rich.table import Table

    from oldphoto.console import rich_console

    detection = summary.pooled_masks() is not None
    table = Table(title="oldphoto score", title_justify="left")
    for column in ("image", "PSNR dB", "SSIM", "MSE %", *(("precision", "recall")
                                                           if detection else ()), "compared with"):
        table.add_column(column, justify="left" if column in ("image", "compared with")
                         else "right")
    lines = summary_lines(summary, per_image)
    for item in summary.images if per_image else []:
        table.add_row(*_cells(item.name, item.psnr, item.ssim, item.mse_pct, item.masks,
                              detection, item.compared))
    if summary.images:
        mean = summary.mean()
        table.add_row(*_cells(f"mean of {mean['images']}", mean["psnr"], _nan(mean["ssim"]),
                              mean["mse_pct"], summary.pooled_masks(), detection,
                              ", ".join(mean["compared"])), style="bold")
    console = rich_console()
    console.print(table)
    if summary.unscored:
        console.print(lines[-1], markup=False, highlight=False)


def _cells(name: str, psnr: float, ssim: float, mse_pct: float, masks: MaskCounts | None,
           detection: bool, compared: str) -> list[str]:
    cells = [name, f"{psnr:.2f}", f"{ssim:.4f}", f"{mse_pct:.4f}"]
    if detection:
        cells += [f"{masks.precision:.3f}", f"{masks.recall:.3f}"] if masks else ["-", "-"]
    return [*cells, compared]


class ScoreFilter(Filter):
    """Prints PSNR, SSIM and MSE (percent, on [0, 1]) of each frame against its
    `original` plane, and detection precision and recall where `true_mask` and
    `noise_mask` are both present; the means come after the last frame. Grey
    pixels are compared with the grey of a colour original (and the report says
    so). Frames pass on unchanged, so score can sit anywhere in a pipe.
    """

    name = "score"
    passes_through = True
    summary = "Measure each frame against the original `age --keep-original` kept; pass it on."
    options = (
        Option("json", str, None, "Also write every score and the means to this JSON file."),
        Option("per_image", bool, True, "Print one line per image (the mean is always printed)."),
    )

    def setup(self) -> None:
        self.results = ScoreSummary()

    def process_frame(self, frame: Frame) -> Frame:
        try:
            self.results.images.append(score_frame(frame))
        except ValueError as err:
            self.results.unscored.append(f"{frame.name}: {err}")
        return frame

    def finish(self) -> None:
        print_summary(self.results, self.params.per_image)
        if self.params.json:
            write_json(self.params.json, self.results.as_dict())


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write a report atomically (NaN becomes null, so any JSON reader takes it)."""
    import json
    from pathlib import Path

    from oldphoto.codecs import write_atomically

    write_atomically(Path(path), (json.dumps(data, indent=2) + "\n").encode())


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(ScoreFilter)
