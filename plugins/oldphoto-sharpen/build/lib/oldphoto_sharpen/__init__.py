"""oldphoto-sharpen: unsharp masking as an oldphoto filter (an example plugin)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oldphoto.api import Filter, Frame, Option, hookimpl


def unsharp_mask(pixels: np.ndarray, radius: float, amount: float, threshold: float) -> np.ndarray:
    """Add back ``amount`` times the detail finer than ``radius``, where it exceeds ``threshold``.

    The threshold keeps grain and leftover noise from being amplified.
    """
    from scipy.ndimage import gaussian_filter

    sigma = (radius, radius, 0) if pixels.ndim == 3 else radius
    detail = pixels - gaussian_filter(pixels, sigma=sigma, mode="reflect")
    detail = np.where(np.abs(detail) >= threshold, detail, 0.0)
    return np.clip(pixels + amount * detail, 0.0, 1.0).astype(np.float32)


class SharpenFilter(Filter):
    """Unsharp mask: crisper edges after denoising or upscaling."""

    name = "sharpen"
    summary = "Sharpen with an unsharp mask (radius, amount, threshold)."
    options = (
        Option("radius", float, 1.5, "Blur radius (Gaussian sigma) in pixels.", min=0.1, max=50),
        Option("amount", float, 0.7, "How much detail to add back.", min=0.0, max=5.0),
        Option("threshold", float, 0.01, "Ignore detail smaller than this (on [0, 1]).",
               min=0.0, max=1.0),
    )

    def process_frame(self, frame: Frame) -> Frame:
        params = self.params
        return frame.replace(
            pixels=unsharp_mask(frame.pixels, params.radius, params.amount, params.threshold)
        )


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(SharpenFilter)
