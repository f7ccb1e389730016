"""``restore`` (real scans: grain, dust, scratches, fading) and ``denoise-grain`` (the grain only).

The work is :func:`oldphoto.restore.pipeline.restore`; the network is
:mod:`oldphoto.restore.model`, trained by ``oldphoto train denoise-grain``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter, Option
from oldphoto.frame import NOISE_MASK, Frame
from oldphoto.hookspecs import hookimpl


def parse_strength(text: str) -> float | None:
    """'auto' -> None (estimate per image); a number is the noise std on the 0..255 scale."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise OldphotoError(f"--strength: {text!r} is neither auto nor a number") from None
    if not 0.0 <= value <= 100.0:
        raise OldphotoError(f"--strength: {value} must lie in [0, 100] (noise std on 0..255)")
    return value / 255.0


class _GrainFilter(Filter):
    """Shared setup: parse --strength, pick the device, load the weights once (and fail
    early)."""

    uses_accelerator = True

    def setup(self) -> None:
        from oldphoto.device import resolve_device
        from oldphoto.restore.pipeline import grain_model

        self.level = parse_strength(self.params.strength)
        self.torch_device = resolve_device(self.device)
        grain_model(self.params.weights)


WEIGHTS = Option("weights", Path, None,
                 "Checkpoint from `oldphoto train denoise-grain` (default: shipped).")
_STRENGTH_HELP = "Noise std on the 0..255 scale, or auto: estimated per image (recorded in meta)"
STRENGTH = Option("strength", str, "auto", _STRENGTH_HELP + ".")
#: restore's --strength: auto also keeps part of a faint grain.
RESTORE_STRENGTH = Option("strength", str, "auto",
                          _STRENGTH_HELP + "; under 10, auto takes out only part of the grain (half "
                          "at 3), since fine texture reads as faint grain.")
THOROUGH = Option("thorough", bool, False,
                  "Average the network over 8 flips and turns of the picture: about +0.15 dB "
                  "on strong noise, 8x the time.")
#: Network passes with and without --thorough.
PASSES = {False: 1, True: 8}


class RestoreFilter(_GrainFilter):
    """Blind grain and noise removal by a small network, then dust specks and thin
    scratches found by a second one (on the scan and its cleaned copy) and filled
    from their surroundings. A third tells a clean photo (left as it is but for
    unmistakable dust; named on stderr) from a scan; give --strength to restore a light
    scan it took for clean.
    See docs/restore.md for the measurements.
    """

    name = "restore"
    summary = "Restore a real scan: remove grain and noise, fill dust and scratches."
    options = (
        RESTORE_STRENGTH,
        THOROUGH,
        Option("scratches", bool, True, "Find and fill dust specks and scratches "
               "(--no-scratches: denoise only)."),
        Option("levels", bool, False, "Also undo fading: stretch black and white points "
               "(changes the tones, so off by default)."),
        Option("colour", str, "luma", "Colour scans: network on luma, chroma smoothed where it is noisy; "
               "or the network on each channel (3x slower).", choices=("luma", "channels")),
        WEIGHTS,
    )

    def setup(self) -> None:
        super().setup()
        self._seen = 0
        self._taken_for_clean: list[str] = []

    def process_frame(self, frame: Frame) -> Frame:
        from oldphoto.restore.pipeline import RestoreSettings, restore

        p = self.params
        settings = RestoreSettings(level=self.level, scratches=p.scratches, levels=p.levels,
                                   colour=p.colour, weights=p.weights, passes=PASSES[p.thorough],
                                   device=self.torch_device)
        pixels, info, mask = restore(frame.pixels, settings)
        self._seen += 1
        if self.level is None and info["clean_photo"]:
            self._taken_for_clean.append(str(frame.meta.get("name") or f"frame {self._seen}"))
        new = frame.replace(pixels=pixels, **{NOISE_MASK: mask})
        new.meta["restore"] = info
        return new

    def report(self) -> str | None:
        """Name the pictures read as clean photos rather than scans: a light scan read so keeps
        its grain and its fainter dust, and the user should know how to insist."""
        if not self._taken_for_clean:
            return None
        names = self._taken_for_clean
        return (f"took {len(names)} of {self._seen} pictures for clean photos, not scans: almost no "
                f"grain, so they were barely smoothed and only unmistakable dust and scratches were filled "
                f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}); --strength 5 restores "
                "a light scan as a scan")


class DenoiseGrainFilter(_GrainFilter):
    """The grain network alone, on grey or on each colour channel, at the estimated
    (or given) level; leaves dust and scratches to ``detect --scratches`` and a filler.
    """

    name = "denoise-grain"
    summary = "Remove film grain and scanner noise with a small network (blind by default)."
    options = (STRENGTH, THOROUGH, WEIGHTS)

    def process_frame(self, frame: Frame) -> Frame:
        from oldphoto.restore.pipeline import RestoreSettings, restore

        settings = RestoreSettings(level=self.level, scratches=False, colour="channels",
                                   weights=self.params.weights, passes=PASSES[self.params.thorough],
                                   device=self.torch_device, partial_grain=False)
        pixels, info, _ = restore(frame.pixels, settings)
        new = frame.replace(pixels=pixels)
        new.meta["restore"] = {key: info[key] for key in ("noise_estimate", "strength")}
        return new


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(RestoreFilter)
    register(DenoiseGrainFilter)
