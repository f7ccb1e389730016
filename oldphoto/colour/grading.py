"""Grading of a predicted a*b*: how bold the colour a person finally sees is.

A model trained on an MSE-type loss predicts the conditional mean, which is
faint wherever it is unsure: the colour is right in kind but timid. Two
knobs, both calibrated per checkpoint on the validation split (see
``calibration.calibrate_output``): a uniform gain (``saturation``) and a
``spread`` that widens each photo's colour about its own mean.
"""

from __future__ import annotations

import torch

#: Most a photo's deviations from its mean colour may be scaled by ``widen_spread``.
MAX_SPREAD_GAIN = 2.0


def colour_spread(ab: torch.Tensor) -> torch.Tensor:
    """Mean |a*b* - the image's mean a*b*| per image of (N, 2, H, W): how varied its colour is."""
    deviation = ab - ab.mean(dim=(2, 3), keepdim=True)
    return deviation.norm(dim=1).mean(dim=(1, 2))


def widen_spread(ab: torch.Tensor, amount: float, max_gain: float = MAX_SPREAD_GAIN) -> torch.Tensor:
    """Widen each image's a*b* about its own mean so its ``colour_spread`` grows by ``amount``.

    Colourfulness (Hasler and Suesstrunk) is mostly the spread of colour within
    a photo, and the PSNR cost of a change is about its squared size. So equal
    extra spread for every photo buys more colourfulness per dB than a uniform
    gain, which gives most to photos that are already colourful. The mean
    colour is kept, and the gain is capped so that a near-flat prediction is
    not blown up into noise.
    """
    if amount <= 0:
        return ab
    mean = ab.mean(dim=(2, 3), keepdim=True)
    spread = colour_spread(ab).view(-1, 1, 1, 1)
    gain = (1.0 + amount / spread.clamp_min(1e-3)).clamp(max=max_gain)
    return mean + gain * (ab - mean)
