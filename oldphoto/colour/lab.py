"""Lab for the colourisers: the a*b* scale of the networks, uint8 batches, mean chroma.

The conversions themselves live in :mod:`oldphoto.cielab`.
"""

from __future__ import annotations

import torch

from oldphoto.cielab import lab_to_rgb, rgb_to_lab

__all__ = ["AB_SCALE", "lab_to_rgb", "mean_chroma", "rgb_to_lab", "uint8_to_lab"]

#: Scale that maps a*b* to roughly [-1, 1] for the networks.
AB_SCALE = 110.0


def uint8_to_lab(batch: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 images -> channel-first Lab float32."""
    return rgb_to_lab(batch.permute(0, 3, 1, 2).float() / 255.0)


def mean_chroma(ab: torch.Tensor) -> torch.Tensor:
    """Mean a*b* magnitude per image of (N, 2, H, W): ~0 for black-and-white photos.

    One definition for the B&W-original labels, the faint-colour gate the
    pipeline applies and the calibration that chooses its threshold.
    """
    return ab.norm(dim=1).mean(dim=(1, 2))
