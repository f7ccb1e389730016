"""The learned grain-level estimator: grain tells itself apart from a photo's own texture.

The classical estimate (:func:`oldphoto.restore.estimate.block_noise`) reads the
grain from a photo's flattest 8x8 blocks. A clean photo with no flat area (rough
stone, a snake's scales, a scaled-down JPEG of foliage) reads as grainy, and
``restore`` then smooths it. This network has seen the difference: it is trained
(``oldphoto train noise-level``) on clean crops of textured photos, which it must
read as 0, beside the same crops with the grain, noise and JPEG that restore's
networks learn from, which it must read at their strength.

It is the grain denoiser's two-level body with two outputs per pixel: a reading
of the log-level, and how far that reading can be trusted. A patch's log-level
is the trust-weighted mean of its readings (a softmax over the patch). A
picture's reading is a low quantile (READING_QUANTILE) of its patches' on a
grid: grain lies evenly over a picture and texture does not, so on a grainy
picture every patch reads the grain, and on a clean one the flat patches read
near zero while textured ones may not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from oldphoto.restore.model import WEIGHTS_DIR, GrainArch, TwoLevelNet, cached_net

#: Widths when none are given (the shipped estimator's are in its checkpoint).
LEVEL_ARCH = GrainArch(fine=16, coarse=32, body=3)
#: Patches are read on a grid of at most GRID x GRID; their side is the crop side the
#: estimator was trained on (its record), PATCH when the record lacks it.
PATCH, GRID = 64, 7
#: The quantile of the patch readings that is the picture's.
READING_QUANTILE = 0.3
#: Pictures with a shorter side than this are not read (the classical estimate alone is used).
SMALLEST = 32


class LevelNet(TwoLevelNet):
    """Grey patches (N,1,h,w) on [0,1] -> log(1 + level on 0..255) of each patch (N,)."""

    FORMAT, SHIPPED, WHAT = "oldphoto-level/1", WEIGHTS_DIR / "noise-level.pth", "noise-level estimator"

    def __init__(self, arch: GrainArch = LEVEL_ARCH):
        super().__init__(arch, inputs=1, outputs=2)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        unknown = patches.new_zeros(len(patches), 1, 1, 1)  # the body's level input: unused here
        reading, trust = self.map(patches - 0.5, unknown).flatten(2).unbind(1)
        # each pixel's reading, weighted by how far it can be trusted: grain shows on flat
        # ground, where no edge or texture can pass for it
        return (reading * torch.softmax(trust, dim=1)).sum(1)


def to_log_level(level: torch.Tensor) -> torch.Tensor:
    """A level on [0, 1] as the network reads it out: log(1 + level * 255)."""
    return torch.log1p(level * 255.0)


def level_net(path: Path | None = None) -> tuple[LevelNet, int] | None:
    """The estimator and its patch side, read once per process; None when no weights exist."""
    path = Path(path) if path is not None else LevelNet.SHIPPED
    if not path.is_file():
        return None
    model, record = cached_net(LevelNet, path)
    return model, int(record.get("config", {}).get("crop", PATCH))


def grid_patches(grey: np.ndarray, side: int = PATCH) -> np.ndarray | None:
    """Up to GRID x GRID patches of ``side`` px (less on a small picture) spread evenly over
    it, as (N, 1, side, side); None for a picture too small to read."""
    height, width = grey.shape
    side = min(side, height, width) // 8 * 8
    if side < SMALLEST:
        return None
    rows = np.linspace(0, height - side, min(GRID, height // side)).round().astype(int)
    cols = np.linspace(0, width - side, min(GRID, width // side)).round().astype(int)
    return np.stack([grey[r:r + side, c:c + side] for r in rows for c in cols])[:, None]


def learned_noise(grey: np.ndarray, model: LevelNet, side: int = PATCH) -> float | None:
    """The network's reading of a grey picture's grain std on [0, 1] (None: too small)."""
    patches = grid_patches(np.asarray(grey, np.float32), side)
    if patches is None:
        return None
    with torch.inference_mode():
        logs = model(torch.from_numpy(np.ascontiguousarray(patches)))
    return max(float(torch.expm1(torch.quantile(logs, READING_QUANTILE))), 0.0) / 255.0
