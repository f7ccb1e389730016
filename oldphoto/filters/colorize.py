"""The three colourisers as filters: ``colorize-mlp``, ``colorize-cnn``, ``colorize-resnet``.

torch is imported in :meth:`setup` only, so listing or running other filters
never pays for it. All three share :class:`oldphoto.colour.pipeline.Colouriser`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from oldphoto.filter import Filter, Option
from oldphoto.frame import Frame
from oldphoto.hookspecs import hookimpl


def _options(default_weights: str) -> tuple[Option, ...]:
    return (
        Option("weights", str, default_weights, "Shipped weights name or a checkpoint path."),
        Option("recolour", bool, False,
               "Colourise photos that already carry real colour too (by default they pass "
               "unchanged, named on stderr); grey and toned (sepia, cyanotype) photos are "
               "always colourised."),
        Option("size", int, 0,
               "Working size of the model: the short side, long side at most 4x "
               "(0 = the checkpoint's).",
               min=0, max=1024),
        Option("saturation", float, -1.0,
               "Scale the predicted a*b* (-1 = the checkpoint's calibrated gain; 1 = raw).",
               min=-1.0, max=4.0),
        Option("temperature", float, -1.0,
               "How bold colour is where the model hesitates, for bin colourisers: lower is "
               "bolder (-1 = the checkpoint's calibrated value; 1 = the plain mean).",
               min=-1.0, max=2.0),
        Option("spread", float, -1.0,
               "Widen each photo's colour about its own mean by this much mean |a*b*| (bolder "
               "colour for a little PSNR; -1 = the checkpoint's calibrated value; 0 = the "
               "model's own).",
               min=-1.0, max=20.0),
        Option("min_chroma", float, -1.0,
               "Leave a photo grey when the mean |a*b*| of its prediction is below this: faint "
               "colour gains little and costs much on black-and-white originals "
               "(-1 = the checkpoint's calibrated value; 0 = always colour).",
               min=-1.0, max=100.0),
        Option("bw_detector", str, "none",
               "Leave photos that look black-and-white to begin with grey, judged by this "
               "detector (e.g. bw-detector); none = always colour (default)."),
        Option("bw_gate", float, -1.0,
               "Leave a photo grey when the detector's P(black-and-white original) reaches this "
               "(-1 = the detector's validated threshold; 2 = always colour).",
               min=-1.0, max=2.0),
    )


class _Colorize(Filter):
    """Predict a*b* at the model's working size; keep the input's full-resolution L*."""

    kind: ClassVar[str]
    batch_size: ClassVar[int] = 16
    uses_accelerator: ClassVar[bool] = True

    def __init__(self, device: str = "cpu", **values: Any) -> None:
        super().__init__(device, **values)
        self._seen = 0
        self._left_grey: list[str] = []
        self._kept_colour: list[str] = []

    def setup(self) -> None:
        from oldphoto.colour.pipeline import Colouriser
        from oldphoto.device import resolve_device

        self._colouriser = Colouriser(
            self.params.weights, self.kind, resolve_device(self.device), self.params.size,
            self.params.saturation, self.params.bw_gate, detector=self.params.bw_detector,
            min_chroma=self.params.min_chroma, spread=self.params.spread,
            temperature=self.params.temperature,
        )

    def process(self, frames: list[Frame]) -> list[Frame]:
        from oldphoto.colour.toning import colour_kind

        kinds = [colour_kind(frame.pixels) for frame in frames]
        todo = [i for i, kind in enumerate(kinds) if kind != "colour" or self.params.recolour]
        results = dict(zip(todo, self._colouriser.colourise([frames[i].pixels for i in todo]),
                           strict=True))
        out = []
        for index, frame in enumerate(frames):
            self._seen += 1
            name = str(frame.meta.get("name") or f"frame {self._seen}")
            if index not in results:
                new = frame.replace()
                new.meta["colorize"] = {"input": "colour", "kept_colour": True}
                self._kept_colour.append(name)
                out.append(new)
                continue
            rgb, info = results[index]
            new = frame.replace(pixels=rgb)
            new.meta["colorize"] = {**info, "input": kinds[index]}
            if info.get("left_grey"):
                self._left_grey.append(name)
            out.append(new)
        return out

    def report(self) -> str | None:
        """Say which photos stayed grey or kept their colour, so neither is a silent surprise."""
        lines = []
        if self._kept_colour:
            lines.append(
                f"kept {len(self._kept_colour)} of {self._seen} photos unchanged: already in colour "
                f"({_names(self._kept_colour)}); --recolour colourises them from their L* anyway")
        if self._left_grey:
            lines.append(
                f"left {len(self._left_grey)} of {self._seen} photos grey, their predicted colour "
                f"too faint to trust ({_names(self._left_grey)}); --min-chroma 0 colours every photo")
        return "; ".join(lines) or None


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


class ColorizeMLP(_Colorize):
    """The paper's MLP baseline (32x32, fully connected); blurry, near-grey colour."""

    name = "colorize-mlp"
    summary = "Colourise with the paper's MLP (baseline)."
    kind = "colorize-mlp"
    options = _options("colorize-mlp")


class ColorizeCNN(_Colorize):
    """The fusion CNN (encoder, global class prior, fusion, decoder) with skip connections."""

    name = "colorize-cnn"
    summary = "Colourise with the fusion CNN (global class prior + local features)."
    kind = "colorize-cnn"
    options = _options("colorize-cnn")


class ColorizeResNet(_Colorize):
    """The paper's pretrained global prior, made real: a decoder over a frozen
    ImageNet-pretrained EfficientNet-Lite0 on the grey picture, colour as classes over
    a*b* bins, at a 224 px working size. The best of the three on real photos. The
    paper's configuration, with its CIFAR-10 ResNet, is --weights colorize-resnet-paper."""

    name = "colorize-resnet"
    summary = "Colourise with a frozen ImageNet-pretrained prior (best on real photos)."
    kind = "colorize-resnet"
    options = _options("colorize-resnet")


@hookimpl
def register_filters(register: Any) -> None:
    for cls in (ColorizeMLP, ColorizeCNN, ColorizeResNet):
        register(cls)
