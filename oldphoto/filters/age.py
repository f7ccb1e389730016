"""``oldphoto age``: make photos look old, reproducibly, and optionally keep the truth."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from oldphoto.aging import REALISTIC, Damage, apply_damage
from oldphoto.filter import Filter, Option
from oldphoto.frame import ORIGINAL, Frame
from oldphoto.hookspecs import hookimpl


class AgeFilter(Filter):
    """Grey conversion plus the paper's sparse black-and-white noise, and, on request,
    the damage real old prints show: grain, dust, scratches, fading, sepia, blur and
    JPEG re-compression. With --seed every image gets its own noise, derived from the
    seed and its name, so a folder ages the same way in any order.
    """

    name = "age"
    summary = "Make photos look old: grey, salt-and-pepper noise, optional real damage."
    options = (
        Option("density", float, 0.1, "Fraction of pixels hit by salt-and-pepper noise.",
               min=0.0, max=1.0),
        Option("salt_vs_pepper", float, 0.5, "Share of the noise that is white (salt).",
               min=0.0, max=1.0),
        Option("seed", int, None, "Seed for reproducible noise (default: fresh each run)."),
        Option("realistic", bool, False,
               "Add a realistic mix of grain, dust, scratches, fade, blur and JPEG."),
        Option("grain", float, 0.0, "Film grain strength (std on [0, 1]).", min=0.0, max=0.5),
        Option("dust", float, 0.0, "Fraction of pixels covered by 1-3 px dust specks.",
               min=0.0, max=0.5),
        Option("scratches", int, 0, "Number of thin scratches.", min=0, max=1000),
        Option("fade", float, 0.0, "Fading: lifted blacks and dimmed whites (0..1).",
               min=0.0, max=1.0),
        Option("sepia", float, 0.0, "Sepia toning strength (0..1); output becomes colour.",
               min=0.0, max=1.0),
        Option("blur", float, 0.0, "Gaussian blur sigma in pixels.", min=0.0, max=20.0),
        Option("jpeg_quality", int, 0, "Re-compress as JPEG at this quality (0: off).",
               min=0, max=100),
        Option("keep_original", bool, False,
               "Carry the clean input and the true noise mask as planes, for scoring."),
    )

    def setup(self) -> None:
        params = self.params
        asked = Damage(
            density=params.density, salt_vs_pepper=params.salt_vs_pepper, grain=params.grain,
            dust=params.dust, scratches=params.scratches, fade=params.fade,
            sepia=params.sepia, blur=params.blur, jpeg_quality=params.jpeg_quality,
        )
        if params.realistic:  # the preset fills in only what the user left at zero
            asked = replace(asked, **{
                key: getattr(REALISTIC, key) for key in
                ("grain", "dust", "scratches", "fade", "blur", "jpeg_quality")
                if not getattr(asked, key)
            })
        self.damage = asked

    def rng_for(self, frame: Frame) -> np.random.Generator:
        if self.params.seed is None:
            return np.random.default_rng()
        return np.random.default_rng([self.params.seed, zlib.crc32(frame.name.encode())])

    def process_frame(self, frame: Frame) -> Frame:
        aged, mask = apply_damage(frame.pixels, self.damage, self.rng_for(frame))
        if not self.params.keep_original:
            return frame.replace(pixels=aged, noise_mask=None)
        original = frame.planes.get(ORIGINAL, frame.pixels)
        return frame.replace(pixels=aged, original=original, true_mask=mask, noise_mask=None)


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(AgeFilter)
