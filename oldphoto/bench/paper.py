"""``oldphoto bench paper``: the paper's Table 1 on CIFAR-10 test, beside baselines and defaults.

Every row runs on the same images and the same noise. The paper's unit is
"average squared error": mean squared error on [0, 1], in percent. De-noising
rows are scored against the grey truth, colour rows against the RGB truth.
Paper rows feed the colourisers the truth's L* (as the paper did); the
"full pipe" rows start from the aged grey photo, as a user would.

Rows whose filter or weights are not there are printed as ``missing: ...``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.aging import salt_and_pepper, to_grey
from oldphoto.errors import OldphotoError

CIFAR_TEST = Path("data") / "cifar10" / "test"


class Missing(Exception):
    """A row that cannot run here; the message names what is missing."""


@dataclass(frozen=True)
class RowSpec:
    """One row: what it is, the paper's figure if any, and what it is scored against."""

    key: str
    label: str
    group: str  # paper | baseline | shipped | pipe
    target: str  # grey | rgb
    paper: float | None = None


ROWS = (
    RowSpec("lr-paper", "LR de-noising (paper variant, 5x5)", "paper", "grey", 0.12),
    RowSpec("mlp", "MLP", "paper", "rgb", 3.41),
    RowSpec("mlp-l2", "MLP + L2", "paper", "rgb", 3.30),
    RowSpec("cnn-mse", "CNN (MSE)", "paper", "rgb", 0.69),
    RowSpec("cnn-ce", "CNN (MSE + CE)", "paper", "rgb", 0.61),
    RowSpec("cnn-resnet", "CNN + ResNet", "paper", "rgb", 0.72),
    RowSpec("noisy", "noisy input (no de-noising)", "baseline", "grey"),
    RowSpec("damf", "DAMF (Erkan et al. 2018)", "baseline", "grey"),
    RowSpec("lr-default", "denoise-lr (shipped default)", "shipped", "grey"),
    RowSpec("gray", "gray: truth's L*, a*b* = 0", "baseline", "rgb"),
    RowSpec("mlp-default", "colorize-mlp (shipped default)", "shipped", "rgb"),
    RowSpec("cnn-default", "colorize-cnn (shipped default)", "shipped", "rgb"),
    RowSpec("resnet-default", "colorize-resnet (shipped default)", "shipped", "rgb"),
    RowSpec("pipe-gray", "pipe: aged -> denoise-lr -> grey as RGB", "pipe", "rgb"),
    RowSpec("pipe-cnn", "pipe: aged -> denoise-lr -> colorize-cnn", "pipe", "rgb"),
)

#: The paper-configuration checkpoints: file names first, then what a checkpoint's
#: record must say, so a differently named file is still found.
PAPER_CHECKPOINTS: dict[str, tuple[tuple[str, ...], Callable[[dict], bool]]] = {
    "mlp": (("colorize-mlp-paper.pt", "mlp-paper.pt"),
            lambda p: _paper_mlp(p) and not _config(p, "l2")),
    "mlp-l2": (("colorize-mlp-paper-l2.pt", "mlp-paper-l2.pt"),
               lambda p: _paper_mlp(p) and bool(_config(p, "l2"))),
    "cnn-mse": (("colorize-cnn-paper-mse.pt", "cnn-paper-mse.pt"),
                lambda p: _kind(p, "colorize-cnn") and _model(p) == "paper-cnn"
                and not _config(p, "alpha")),
    "cnn-ce": (("colorize-cnn-paper-mse-ce.pt", "cnn-paper-mse-ce.pt"),
               lambda p: _kind(p, "colorize-cnn") and _model(p) == "paper-cnn"
               and bool(_config(p, "alpha"))),
    "cnn-resnet": (("colorize-resnet-paper.pt", "resnet-paper.pt"),
                   lambda p: _kind(p, "colorize-resnet")
                   and p.get("arch", {}).get("cnn", {}).get("model") == "paper-cnn"),
}


def _paper_mlp(payload: dict) -> bool:
    """The paper's MLP predicts RGB directly; the shipped default predicts a*b*."""
    return _kind(payload, "colorize-mlp") and _config(payload, "loss") == "rgb-direct"


def _kind(payload: dict, kind: str) -> bool:
    return payload.get("kind") == kind


def _config(payload: dict, key: str) -> Any:
    return payload.get("record", {}).get("config", {}).get(key)


def _model(payload: dict) -> str | None:
    return payload.get("arch", {}).get("model")


@dataclass
class BenchData:
    """The images every row sees: RGB truth, its grey, and the grey with noise."""

    truth: np.ndarray  # (N, H, W, 3) float32 in [0, 1]
    grey: np.ndarray  # (N, H, W): BT.601 luma, the paper's grayscale
    noisy: np.ndarray  # (N, H, W): grey with salt-and-pepper noise
    source: str
    cache: dict[str, list[np.ndarray]] = field(default_factory=dict)
    weights_dir: Path | None = None  # searched first for the paper checkpoints


@dataclass
class RowResult:
    """A row's scores (means over images), or why it could not run."""

    spec: RowSpec
    mse_pct: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    colourfulness: float | None = None
    truth_colourfulness: float | None = None
    missing: str | None = None
    weights: str | None = None
    seconds: float = 0.0

    @property
    def colourfulness_ratio(self) -> float | None:
        if self.colourfulness is None or not self.truth_colourfulness:
            return None
        return self.colourfulness / self.truth_colourfulness

    def as_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "key": spec.key, "label": spec.label, "group": spec.group,
            "compared_with": "grey truth" if spec.target == "grey" else "RGB truth",
            "paper_mse_pct": spec.paper, "mse_pct": _r(self.mse_pct, 4), "psnr": _r(self.psnr, 2),
            "ssim": _r(self.ssim, 4), "colourfulness": _r(self.colourfulness, 2),
            "truth_colourfulness": _r(self.truth_colourfulness, 2),
            "colourfulness_ratio": _r(self.colourfulness_ratio, 3),
            "weights": self.weights, "missing": self.missing, "seconds": round(self.seconds, 2),
        }


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


# --------------------------------------------------------------------------- data


def default_data() -> Path:
    """../shared/data/cifar10/test beside the project (OLDPHOTO_SHARED overrides ../shared)."""
    import os

    root = Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("OLDPHOTO_SHARED", root.parent / "shared"))
    return shared / CIFAR_TEST


def load_truth(folder: Path, limit: int) -> np.ndarray:
    """RGB float32 images; with ``limit``, the first images of each class in turn (balanced)."""
    from oldphoto.colour.data import load_image_set

    folder = Path(folder)
    if not folder.exists():
        raise OldphotoError(f"--data {folder}: no such folder")
    per_class = 0
    if limit and folder.is_dir():
        classes = [p for p in folder.iterdir() if p.is_dir()]
        per_class = math.ceil(limit / len(classes)) if classes else 0
    images = load_image_set(folder, 32, limit_per_class=per_class)
    order = np.arange(len(images))
    if limit and (images.labels >= 0).all():  # interleave classes, then cut
        rank = np.zeros(len(images), np.int64)
        for label in np.unique(images.labels):
            members = np.flatnonzero(images.labels == label)
            rank[members] = np.arange(members.size)
        order = np.lexsort((images.labels, rank))
    if limit:
        order = order[:limit]
    return images.images[order].astype(np.float32) / 255.0


def make_data(folder: Path, limit: int, density: float, seed: int) -> BenchData:
    """Load the truth, grey it and add the noise once, so every row sees the same pixels."""
    truth = load_truth(folder, limit)
    grey = np.stack([to_grey(image) for image in truth])
    noisy = np.stack([salt_and_pepper(g, density, np.random.default_rng([seed, index]))[0]
                      for index, g in enumerate(grey)])
    return BenchData(truth, grey, noisy, str(folder))


# --------------------------------------------------------------------------- running rows


def run_filter(name: str, images: list[np.ndarray], **options: Any) -> list[np.ndarray]:
    """Run a registered filter in this process, in its own batch size, as the CLI would."""
    from oldphoto.frame import Frame
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(name)
    if info is None:
        raise Missing(f"missing: filter {name}")
    try:
        filt = info.cls(device="cpu", **options)
        filt.setup()
    except (OldphotoError, ValueError, FileNotFoundError) as err:
        raise Missing(f"missing: {_short(err)}") from None
    size = max(1, info.cls.batch_size)
    out: list[np.ndarray] = []
    for start in range(0, len(images), size):
        frames = [Frame(image, {}, {"name": f"{start + i}.png"})
                  for i, image in enumerate(images[start : start + size])]
        out.extend(frame.pixels for frame in filt.process(frames))
    filt.finish()
    return out


def _short(err: Exception) -> str:
    """The first line of an error, without its parenthetical detail or the install path."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    text = text.split(" (")[0]
    return text.replace(str(Path(__file__).resolve().parents[1]) + "/", "oldphoto/")


def find_checkpoint(key: str, extra: Path | None = None) -> Path:
    """A paper-configuration checkpoint, by name or by what its record says.

    ``extra`` (``--weights-dir``) is searched before the shipped weights, so
    checkpoints can be benched before they ship.
    """
    from oldphoto.colour.models.checkpoint import PAPER_WEIGHTS_DIR, WEIGHTS_DIR, read_checkpoint

    names, matches = PAPER_CHECKPOINTS[key]
    folders = [f for f in (extra, PAPER_WEIGHTS_DIR, WEIGHTS_DIR) if f is not None]
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    for folder in folders:
        for path in sorted(folder.glob("*.pt"), key=lambda p: ("paper" not in p.name, p.name)):
            try:
                if matches(read_checkpoint(path)):
                    return path
            except OldphotoError:
                continue
    raise Missing(f"missing: oldphoto/weights/paper/{names[0]}")


def _shown(path: Path) -> str:
    """A weights path as the report shows it: shipped ones by name, others relative."""
    from oldphoto.colour.models.checkpoint import PAPER_WEIGHTS_DIR, WEIGHTS_DIR

    if path.parent.resolve() in (WEIGHTS_DIR.resolve(), PAPER_WEIGHTS_DIR.resolve()):
        return path.name
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def denoised_default(data: BenchData) -> list[np.ndarray]:
    """denoise-lr with its defaults on the noisy grey (computed once, shared by the pipe rows)."""
    if "lr-default" not in data.cache:
        data.cache["lr-default"] = run_filter("denoise-lr", list(data.noisy))
    return data.cache["lr-default"]


def estimates_for(spec: RowSpec, data: BenchData) -> tuple[list[np.ndarray], str | None]:
    """Run one row; returns its outputs and the weights file it used, if any."""
    key = spec.key
    if key == "noisy":
        return list(data.noisy), None
    if key == "lr-paper":
        return (run_filter("denoise-lr", list(data.noisy), variant="paper", window=5),
                lr_weights("paper"))
    if key == "damf":
        return run_filter("denoise-damf", list(data.noisy)), None
    if key == "lr-default":
        return denoised_default(data), lr_weights("default")
    if key == "gray":
        from oldphoto.metrics import grey_baseline

        return list(grey_baseline(data.truth)), None
    if key in PAPER_CHECKPOINTS:
        path = find_checkpoint(key, data.weights_dir)
        kind = "colorize-mlp" if key.startswith("mlp") else (
            "colorize-resnet" if key == "cnn-resnet" else "colorize-cnn")
        # the truth is a colour photo, which the filter would keep as it is (issue 13's
        # colour check); the paper coloured its L*, so these rows force it
        return run_filter(kind, list(data.truth), weights=str(path), recolour=True), _shown(path)
    if key.endswith("-default"):
        name = "colorize-" + key.removesuffix("-default")
        options, shown = colour_defaults(name, data.weights_dir)
        return run_filter(name, list(data.truth), recolour=True, **options), shown
    if key == "pipe-gray":
        return [np.repeat(g[..., None], 3, axis=2) for g in denoised_default(data)], None
    if key == "pipe-cnn":
        options, shown = colour_defaults("colorize-cnn", data.weights_dir)
        return run_filter("colorize-cnn", denoised_default(data), **options), shown
    raise OldphotoError(f"unknown bench row {key}")


def colour_defaults(filter_name: str, weights_dir: Path | None) -> tuple[dict[str, Any], str]:
    """Options of a colouriser's default row, and its weights as the report names them.

    ``--weights-dir``'s NAME.pt stands in for the shipped default when it is there.
    """
    from oldphoto.plugins import registered_filters

    candidate = weights_dir / f"{filter_name}.pt" if weights_dir else None
    if candidate is not None and candidate.is_file():
        return {"weights": str(candidate)}, _shown(candidate)
    info = registered_filters().get(filter_name)
    shown = next((str(o.default) for o in (info.cls.options if info else ())
                  if o.name == "weights" and o.default), filter_name)
    return {}, shown


def lr_weights(variant: str) -> str | None:
    """The shipped denoise-lr weights of a variant, with how they were trained."""
    try:
        from oldphoto.denoise.regression import load_denoiser, shipped_weights

        path = shipped_weights(variant, 5)
        record = load_denoiser(path).record
    except (ImportError, OldphotoError):
        return None
    data = Path(str(record.get("data", "?"))).name
    return f"{path.name} ({record.get('solver', '?')}, {data})"


# --------------------------------------------------------------------------- scoring


def score_row(spec: RowSpec, estimates: list[np.ndarray], data: BenchData) -> RowResult:
    """Means over images of MSE %, PSNR, SSIM and (colour rows) colourfulness."""
    from oldphoto.metrics import colourfulness, psnr_from_mse, ssim

    truth = data.grey if spec.target == "grey" else data.truth
    stack = np.stack([np.asarray(e, np.float32) for e in estimates])
    if stack.shape != truth.shape:
        raise OldphotoError(f"{spec.label}: outputs shaped {stack.shape[1:]}, "
                            f"truth {truth.shape[1:]}")
    axes = tuple(range(1, truth.ndim))
    errors = np.mean((stack.astype(np.float64) - truth) ** 2, axis=axes)
    psnrs = psnr_from_mse(errors)
    result = RowResult(spec, mse_pct=100 * float(errors.mean()), psnr=float(psnrs.mean()),
                       ssim=float(np.mean([ssim(e, t) for e, t in zip(stack, truth, strict=True)])))
    if spec.target == "rgb":
        result.colourfulness = float(np.mean([colourfulness(e) for e in stack]))
        result.truth_colourfulness = float(np.mean([colourfulness(t) for t in truth]))
    return result


def run_rows(data: BenchData, rows: tuple[RowSpec, ...] = ROWS,
             progress: Callable[[str], None] | None = None) -> list[RowResult]:
    """Every row in turn; a row that cannot run is reported, never fatal."""
    results = []
    for spec in rows:
        started = time.perf_counter()
        try:
            estimates, weights = estimates_for(spec, data)
            result = score_row(spec, estimates, data)
            result.weights = weights
        except Missing as gap:
            result = RowResult(spec, missing=str(gap))
        result.seconds = time.perf_counter() - started
        results.append(result)
        if progress:
            progress(f"{spec.label}: " + (result.missing or f"{result.mse_pct:.3f}% "
                                          f"({result.seconds:.1f} s)"))
    return results
