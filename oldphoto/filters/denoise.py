"""``denoise-lr`` (the paper's regression, made strong) and the classical baselines.

The work is :func:`oldphoto.denoise.denoise_lr` and :mod:`oldphoto.denoise.classical`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from oldphoto.denoise.functions import denoise_lr, detect_noise, load_lr_model, per_channel
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter, Option
from oldphoto.frame import NOISE_MASK, Frame
from oldphoto.hookspecs import hookimpl


def frame_mask(frame: Frame) -> np.ndarray:
    """The upstream ``noise_mask`` plane, or the default detector's mask when there is none."""
    mask = frame.planes.get(NOISE_MASK)
    if mask is None:
        return detect_noise(frame.pixels)
    mask = np.asarray(mask, bool)
    if mask.shape[:2] != frame.shape:
        raise OldphotoError(
            f"{frame.name}: noise_mask is {mask.shape[:2]}, the picture {frame.shape}"
        )
    return mask


class DenoiseLRFilter(Filter):
    """Replaces only the flagged pixels (the frame's noise_mask, else the detector's),
    each by a linear regression over its window; colour works channel by channel.
    """

    name = "denoise-lr"
    summary = "Remove impulse noise with the paper's window linear regression, made strong."
    options = (
        Option("variant", str, "default",
               "default: pre-filled window, extra features, per-density models, three rounds; "
               "paper: the paper's 66 features on the raw window.",
               choices=("default", "paper")),
        Option("window", int, 5, "Window size (3, 5 or 7).", min=3, max=7),
        Option("weights", Path, None,
               "Weights file from `oldphoto train denoise-lr` (default: shipped)."),
    )

    def setup(self) -> None:
        load_lr_model(self.params.variant, self.params.window, self.params.weights)  # fail early

    def process_frame(self, frame: Frame) -> Frame:
        mask = frame_mask(frame)
        pixels = denoise_lr(frame.pixels, mask, variant=self.params.variant,
                            window=self.params.window, weights=self.params.weights)
        return frame.replace(pixels=pixels, **{NOISE_MASK: mask})


class MedianFilter(Filter):
    """Every pixel becomes the median of its 3x3 window: blurs, and fails past ~20% noise."""

    name = "denoise-median"
    summary = "Classical 3x3 median filter (a fast baseline)."

    def process_frame(self, frame: Frame) -> Frame:
        from oldphoto.denoise.classical import median3

        return frame.replace(pixels=per_channel(frame.pixels, None, median3))


class AdaptiveMedianFilter(Filter):
    """Hwang and Haddad's adaptive median: grows the window until its median is not an impulse."""

    name = "denoise-amf"
    summary = "Classical adaptive median filter (window up to --max-window)."
    options = (Option("max_window", int, 7, "Largest window (odd).", min=3, max=21),)

    def process_frame(self, frame: Frame) -> Frame:
        from oldphoto.denoise.classical import adaptive_median

        size = self.params.max_window | 1

        def clean(grey: np.ndarray) -> np.ndarray:
            return adaptive_median(grey, size)

        return frame.replace(pixels=per_channel(frame.pixels, None, clean))


class DAMFFilter(Filter):
    """Erkan et al. 2018: pure black/white pixels get the median of the noise-free pixels
    in the smallest window (3x3 .. 21x21) holding any; a second pass fills those the
    first could not reach, and beyond that the 21x21 window's median (a white sky stays white).
    """

    name = "denoise-damf"
    summary = "Different Applied Median Filter (Erkan et al. 2018), a strong classical baseline."
    options = (
        Option("use_mask", bool, False,
               "Replace the frame's noise_mask pixels instead of DAMF's own pure black/white."),
    )

    def process_frame(self, frame: Frame) -> Frame:
        from oldphoto.denoise.classical import damf

        mask = frame.planes.get(NOISE_MASK) if self.params.use_mask else None
        if mask is None:
            return frame.replace(pixels=per_channel(frame.pixels, None, damf))
        return frame.replace(pixels=per_channel(frame.pixels, np.asarray(mask, bool), damf))


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(DenoiseLRFilter)
    register(MedianFilter)
    register(AdaptiveMedianFilter)
    register(DAMFFilter)
