"""The learned dust and scratch finder behind ``restore`` and ``detect --scratches``.

Rules on a top-hat (:mod:`oldphoto.restore.damage`) found only about half of the
damaged pixels at 93% precision, and loosening them flagged texture: on
BSD68 with ``age --realistic`` damage, filling the *true* mask would have
beaten median + non-local means by 2.1-2.4 dB where the rules' mask gave
0.8-1.5. A network sees what rules cannot weigh together: a speck's shape,
its contrast against the grain, whether a line runs on. It is the grain
denoiser's two-level body with two inputs (the scan and its denoised copy) and
the estimated grain level, and one logit out per pixel; it is trained on
``age --realistic``-style damage with its true mask (``oldphoto train
damage-finder``), and the probability above which a pixel is filled is
chosen on held-out photos and kept in the checkpoint's record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from oldphoto.restore.infer import on_device, run_tiled
from oldphoto.restore.model import WEIGHTS_DIR, GrainArch, TwoLevelNet, cached_net

#: Widths of the finder: a third of the grain denoiser's arithmetic per pixel.
FINDER_ARCH = GrainArch(fine=24, coarse=48, body=4)
#: Probability above which a pixel counts as damage, when the record holds none.
DEFAULT_THRESHOLD = 0.5


class DamageNet(TwoLevelNet):
    """Scan and denoised scan (N,1,H,W) each, plus level (N,1,1,1) -> damage logits (N,1,H,W)."""

    FORMAT, SHIPPED, WHAT = "oldphoto-damage/1", WEIGHTS_DIR / "damage-finder.pth", "damage finder"

    def __init__(self, arch: GrainArch = FINDER_ARCH):
        super().__init__(arch, inputs=2, outputs=1)

    def forward(self, scan: torch.Tensor, denoised: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return self.map(torch.cat([scan, denoised], 1), level)


def finder(path: Path | None = None) -> tuple[DamageNet, float] | None:
    """The finder and its threshold, read once per process; None when no weights exist."""
    path = Path(path) if path is not None else DamageNet.SHIPPED
    if not path.is_file():
        return None
    model, record = cached_net(DamageNet, path)
    return model, float(record.get("threshold", DEFAULT_THRESHOLD))


def damage_probability(model: DamageNet, scan: np.ndarray, denoised: np.ndarray, level: float,
                       fast: bool = True, device: str = "cpu") -> np.ndarray:
    """Per-pixel probability that a grey scan's pixel is dust or a scratch."""
    network = on_device(model, device)
    level_t = torch.full((1, 1, 1, 1), float(level), device=device)
    planes = np.stack([np.asarray(scan, np.float32), np.asarray(denoised, np.float32)])
    logits = run_tiled(lambda tiles: network(tiles[:, :1], tiles[:, 1:],
                                             level_t.expand(len(tiles), 1, 1, 1)),
                       planes, fast, device)
    return 1.0 / (1.0 + np.exp(-logits))
