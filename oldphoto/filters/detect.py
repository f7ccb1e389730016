"""``oldphoto detect``: add the ``noise_mask`` plane, or show it as the picture.

The work is :func:`oldphoto.denoise.detect_noise`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.denoise.detect import DEFAULT_THRESHOLD
from oldphoto.denoise.functions import detect_noise
from oldphoto.filter import Filter, Option
from oldphoto.frame import NOISE_MASK, Frame
from oldphoto.hookspecs import hookimpl

OVERLAY_COLOUR = np.array([1.0, 0.0, 0.0], np.float32)


class DetectFilter(Filter):
    """The paper's 4-neighbour test plus an extreme-value rule that spares genuine
    pure black/white regions; see docs/detect.md for the measured precision and recall.
    """

    name = "detect"
    summary = "Find noisy pixels: adds the noise_mask plane (--show: the mask as the picture)."
    options = (
        Option("threshold", float, DEFAULT_THRESHOLD,
               "4-neighbour test: flag a pixel whose smallest difference to its 4 "
               "neighbours exceeds this (on [0, 1]).", min=0.0, max=1.0),
        Option("auto_threshold", bool, False,
               "Choose the threshold per image: the 99.9th percentile of its pixels' "
               "smallest neighbour difference, within [0.15, 0.6] (ignores --threshold)."),
        Option("extreme", bool, True,
               "Extreme-value rule: flag pure black/white pixels outside genuine "
               "black/white regions."),
        Option("specks", bool, False,
               "Speck rule: also flag dust specks and thin scratches (3x3 top-hat); "
               "for real scans, costs precision on plain salt-and-pepper."),
        Option("scratches", bool, False,
               "Also flag dust and scratches as `restore` does: its learned finder, on "
               "the luma and its grain-denoised copy (for real scans)."),
        Option("channels", str, "luma", "Detect on luminance (one mask) or on each channel.",
               choices=("luma", "each")),
        Option("show", bool, False, "Emit the mask (or an overlay) as the picture."),
        Option("show_as", str, "mask", "With --show: the bare mask, or flagged pixels "
               "painted red over the photo.", choices=("mask", "overlay")),
    )

    def process_frame(self, frame: Frame) -> Frame:
        p = self.params
        mask = detect_noise(frame.pixels, threshold=None if p.auto_threshold else p.threshold,
                            extreme=p.extreme, specks=p.specks, per_channel=p.channels == "each")
        if p.scratches:
            from oldphoto.restore.pipeline import scratch_mask

            found = scratch_mask(frame.pixels)
            mask = mask | (found[..., None] if mask.ndim == 3 else found)
        if not self.params.show:
            return frame.replace(**{NOISE_MASK: mask})
        return frame.replace(pixels=render_mask(frame.pixels, mask, self.params.show_as),
                             **{NOISE_MASK: mask})


def render_mask(pixels: np.ndarray, mask: np.ndarray, style: str) -> np.ndarray:
    """The mask as a white-on-black picture, or painted red over a grey copy of the photo."""
    if style == "mask":
        return mask.astype(np.float32)
    grey = to_grey(pixels)
    overlay = np.repeat(grey[..., None], 3, axis=2)
    flagged = mask if mask.ndim == 2 else mask.any(axis=2)
    overlay[flagged] = OVERLAY_COLOUR
    return overlay


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(DetectFilter)
