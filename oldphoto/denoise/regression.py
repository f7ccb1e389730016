"""The window linear regression that replaces flagged pixels, and its weights file.

Two variants share one model:

- ``paper``: the 66 features of the raw noisy window, as in the paper. Other
  impulses inside the window poison the features, which is why it falls apart
  at high density.
- ``default``: the same features, computed after the flagged pixels were
  pre-filled with the median of their clean neighbours (DAMF's fill), plus a
  few fill estimates a linear map cannot form (:mod:`oldphoto.denoise.extras`:
  edge-directed means, clean-pixel means), with one weight vector per
  noise-density band, applied in ``stages`` rounds (each round's output is the
  next round's window).

Prediction gathers all flagged pixels and makes one matrix-vector product per
round, with the weights folded onto the window's pixels (the same linear map;
see :func:`oldphoto.denoise.features.fold_weights`), accumulated one window
offset at a time in cache-sized blocks (:func:`oldphoto.denoise.windows.windowed_dot_at`).
The pre-fill gives DAMF's fill exactly, but only looks at the flagged pixels
(:func:`prefill`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.denoise.classical import clean_neighbour_median, fill_from_clean_at
from oldphoto.denoise.extras import EXTRA_RADIUS, EXTRAS, extra_count, extra_features
from oldphoto.denoise.features import feature_count, fold_weights, window_features
from oldphoto.denoise.windows import (
    flat_nonzero,
    gather,
    padded,
    padded_index,
    refresh_mirror,
    window_offsets,
    windowed_dot_at,
)
from oldphoto.errors import OldphotoError

VARIANTS = ("paper", "default")
FORMAT = "oldphoto-denoise-lr/1"


@dataclass
class LinearDenoiser:
    """Weights shaped (stages, bands, features); ``band_edges`` split the flagged fraction.

    The features are the paper's for the window, then the ``extras`` named.
    """

    window: int
    variant: str
    weights: np.ndarray
    band_edges: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)
    extras: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, np.float32)
        if self.weights.ndim == 1:
            self.weights = self.weights[None, None, :]
        self.band_edges = np.asarray(self.band_edges, np.float64)
        if self.variant not in VARIANTS:
            raise OldphotoError(f"unknown denoise-lr variant {self.variant!r}")
        self.extras = tuple(self.extras)
        unknown = sorted(set(self.extras) - set(EXTRAS))
        if unknown:
            raise OldphotoError(f"unknown extra features {unknown}; known: {', '.join(EXTRAS)}")
        _, bands, features = self.weights.shape
        base = feature_count(self.window)
        if features != base + extra_count(self.extras):
            raise OldphotoError(
                f"weights have {features} features, window {self.window} with "
                f"extras {list(self.extras)} needs {base + extra_count(self.extras)}"
            )
        if self.band_edges.shape != (bands + 1,):
            raise OldphotoError("weights file: band_edges do not match the number of bands")
        self.folded = fold_weights(self.weights[..., :base], self.window).astype(np.float32)
        self.extra_weights = self.weights[..., base:]
        copy = np.zeros(self.folded.shape[-1], np.float32)
        copy[1 + (self.window * self.window) // 2] = 1.0
        #: (stages, bands): rounds that only copy the centre, skipped by :meth:`denoise`.
        self.copies = np.all(self.folded == copy, axis=-1) & ~np.any(self.extra_weights, axis=-1)

    @property
    def radius(self) -> int:
        """Padding every window and extra feature needs."""
        return max(self.window // 2, EXTRA_RADIUS if self.extras else 0)

    @property
    def stages(self) -> int:
        return int(self.weights.shape[0])

    def band(self, density: float) -> int:
        """Index of the density band a flagged fraction falls in."""
        inner = self.band_edges[1:-1]
        return int(np.searchsorted(inner, density, side="right"))

    def denoise(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Replace the flagged pixels of one grey image; the others are returned untouched.

        Everything happens in one mirror-padded copy of the image, at the flat
        indices of the flagged pixels only: the pre-fill, then each round's
        estimates, written back in place for the next round to read.
        """
        image = np.asarray(image, np.float32)
        mask = np.asarray(mask, bool)
        flagged = np.count_nonzero(mask)
        if flagged == 0:
            return image.copy()
        band = self.band(flagged / mask.size)
        radius = self.radius
        source = padded(image, radius)
        centres = padded_index(flat_nonzero(mask), mask.shape[1], radius)
        if self.variant == "default":
            prefill(source, image, mask, centres, radius)
        clean = padded(~mask, radius) if self.extras else None
        offsets = window_offsets(self.window, source.shape[1])
        flat = source.ravel()
        for stage in range(self.stages):
            if self.copies[stage, band]:
                continue
            folded = self.folded[stage, band]
            estimate = windowed_dot_at(source, centres, offsets, folded[1:], folded[0])
            if clean is not None and np.any(self.extra_weights[stage, band]):
                extra = extra_features(source, clean, centres, self.extras)
                estimate += extra @ self.extra_weights[stage, band]
            np.clip(estimate, 0.0, 1.0, out=estimate)
            flat[centres] = estimate
            refresh_mirror(source, radius)
        return np.ascontiguousarray(source[radius:-radius, radius:-radius])

    def save(self, path: Path) -> None:
        """Write the weights and the JSON record of how they were made."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {**self.record, "format": FORMAT, "window": self.window, "variant": self.variant,
                  "extras": list(self.extras)}
        with path.open("wb") as handle:
            np.savez(
                handle,
                weights=self.weights.astype(np.float32),
                band_edges=self.band_edges,
                record=np.array(json.dumps(record, sort_keys=True)),
            )


def prefill(
    source: np.ndarray, image: np.ndarray, mask: np.ndarray, centres: np.ndarray, radius: int
) -> None:
    """Write :func:`fill_from_clean`'s values at ``centres`` into ``source`` (``image``
    mirror-padded by ``radius``; ``centres`` flat indices into it), the same numbers faster.

    Almost every flagged pixel has a clean neighbour, and those take the fast
    3x3 median (flagged pixels marked +inf meanwhile); the rest grow their
    windows as DAMF does.
    """
    if centres.size == mask.size:  # nothing clean anywhere: fill_from_clean's grey
        source[...] = 0.5
        return
    flat = source.ravel()
    flat[centres] = np.inf
    refresh_mirror(source, radius)
    values, found = clean_neighbour_median(source, centres)
    if not found.all():
        rows, cols = np.divmod(centres[~found], source.shape[1])
        values[~found] = fill_from_clean_at(image, mask, rows - radius, cols - radius, first=5)
    flat[centres] = values
    refresh_mirror(source, radius)


def stage_features(
    source: np.ndarray, rows: np.ndarray, cols: np.ndarray, window: int,
    extras: tuple[str, ...] = (), mask: np.ndarray | None = None,
) -> np.ndarray:
    """Design matrix of the windows of ``source`` centred on the given pixels: the paper's
    features, then the ``extras`` (which read the detection ``mask``), as :meth:`denoise` sees them."""
    radius = max(window // 2, EXTRA_RADIUS if extras else 0)
    source_padded = padded(source, radius)
    design = window_features(gather(source_padded, rows, cols, window, radius))
    if not extras:
        return design
    if mask is None:
        raise ValueError("extra features need the detection mask")
    centres = (rows.astype(np.int64) + radius) * source_padded.shape[1] + cols + radius
    extra = extra_features(source_padded, padded(~mask, radius), centres, tuple(extras))
    return np.concatenate([design, extra], axis=1)


def load_denoiser(path: Path) -> LinearDenoiser:
    """Read a weights file written by :meth:`LinearDenoiser.save` (no pickles)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = np.array(data["weights"])
            band_edges = np.array(data["band_edges"])
            record = json.loads(str(data["record"]))
    except FileNotFoundError as err:
        raise OldphotoError(f"{path}: weights file not found") from err
    except (KeyError, ValueError, OSError, json.JSONDecodeError) as err:
        raise OldphotoError(f"{path}: not a denoise-lr weights file ({err})") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise OldphotoError(f"{path}: not a denoise-lr weights file (format {found})")
    window = record.get("window")
    if not isinstance(window, int) or isinstance(window, bool) or window not in (3, 5, 7, 9, 11):
        raise OldphotoError(f"{path}: malformed denoise-lr weights (window {window!r})")
    if weights.ndim not in (1, 3) or weights.dtype.kind != "f" or band_edges.ndim != 1:
        raise OldphotoError(f"{path}: malformed denoise-lr weights (shape {weights.shape})")
    extras = record.get("extras", [])
    if not isinstance(extras, list) or not all(isinstance(name, str) for name in extras):
        raise OldphotoError(f"{path}: malformed denoise-lr weights (extras {extras!r})")
    try:
        return LinearDenoiser(window=window, variant=str(record.get("variant")), weights=weights,
                              band_edges=band_edges, record=record, extras=tuple(extras))
    except OldphotoError as err:
        raise OldphotoError(f"{path}: {err}") from None


def shipped_weights(variant: str, window: int) -> Path:
    """Path of the weights that come with oldphoto for a variant and window."""
    base = Path(__file__).resolve().parents[1] / "weights"
    suffix = "" if window == 5 else f"-w{window}"
    return base / f"denoise-lr-{variant}{suffix}.npz"
