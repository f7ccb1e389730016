"""Scores a colouriser against the grey baseline on the same images, in one pass.

PSNR and MSE are per image on RGB in [0, 1] (then averaged over images);
colourfulness is Hasler and Suesstrunk's, on 0-255. "gray" keeps the input's
L* and sets a*b* to 0, so every claim is relative to doing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from oldphoto.metrics import colourfulness, mse, psnr


@dataclass
class Scores:
    """Running per-image sums for the model, the grey baseline and the truth."""

    count: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, estimate: np.ndarray, grey: np.ndarray, truth: np.ndarray) -> None:
        values = {
            "psnr": psnr(estimate, truth),
            "mse_pct": 100.0 * mse(estimate, truth),
            "colourfulness": colourfulness(estimate),
            "gray_psnr": psnr(grey, truth),
            "gray_mse_pct": 100.0 * mse(grey, truth),
            "truth_colourfulness": colourfulness(truth),
        }
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def summary(self) -> dict[str, float]:
        """Means over images, the gain over gray, and colourfulness relative to the truth."""
        if not self.count:
            return {}
        means = {key: value / self.count for key, value in self.sums.items()}
        means["gain_db"] = means["psnr"] - means["gray_psnr"]
        truth = means["truth_colourfulness"]
        means["colourfulness_ratio"] = means["colourfulness"] / truth if truth else 0.0
        means["images"] = float(self.count)
        return {key: round(value, 4) for key, value in means.items()}
