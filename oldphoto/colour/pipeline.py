"""The shared colour pipeline: any-size image in, the model's a*b* over the input's own L*.

The network only sees a small aspect-preserving resize of L* (padded, never
stretched); its a*b* is cropped back, upsampled smoothly to the full size and
recombined with the full-resolution L*, so detail and tone are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto.cielab import photo_lightness, photo_rgb
from oldphoto.colour.grading import widen_spread
from oldphoto.colour.lab import mean_chroma
from oldphoto.colour.models.checkpoint import load_model, resolve_weights


@dataclass
class Prepared:
    """One image's full-res L* and its padded working-size copy."""

    lightness: torch.Tensor  # (1, 1, H, W) in L* units
    work: torch.Tensor  # (1, 1, h_pad, w_pad) normalised to [0, 1]
    valid: tuple[int, int]  # (h, w) of the unpadded working image
    small: bool = False  # short side within the checkpoint's small-photo read-out


#: The longest a working image may be, in multiples of the working size (panoramas).
MAX_WORKING_ASPECT = 4
#: The most a small photo is enlarged for the network: the scene colourisers learned
#: objects from 32-64 px photos enlarged 2-4x, and more only adds pixels to compute.
MAX_UPSCALE = 4


def working_shape(
    height: int, width: int, size: int, fit_inside: bool = False
) -> tuple[int, int]:
    """The aspect-preserving size at which the network sees an image.

    The models learn colour at the scale of ``size``-px square photos, so a
    non-square photo is scaled until its *short* side is ``size``: scaling the
    long side instead would shrink a 3:2 photo's content to two thirds of the
    scale the model knows. The long side is capped at ``MAX_WORKING_ASPECT``
    times ``size``, and a small photo is enlarged at most ``MAX_UPSCALE`` times.
    ``fit_inside`` (fixed-input models) scales the long side.
    """
    if fit_inside:
        scale = size / max(height, width)
    else:
        scale = min(size / min(height, width), MAX_WORKING_ASPECT * size / max(height, width),
                    MAX_UPSCALE)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _pad_to(height: int, width: int, fixed: int | None, multiple: int) -> tuple[int, int]:
    if fixed:
        return fixed, fixed
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


@dataclass
class SmallReadout:
    """The gain and annealing temperature used for photos whose short side is at most ``max_short_side``."""

    max_short_side: int
    saturation: float
    temperature: float | None

    @classmethod
    def from_record(cls, entry: dict[str, Any] | None, saturation: float, temperature: float,
                    usual_saturation: float, usual_temperature: float | None) -> SmallReadout | None:
        """The checkpoint's small-photo read-out; what the user set explicitly overrides it."""
        if not entry:
            return None
        return cls(
            int(entry["max_short_side"]),
            usual_saturation if saturation >= 0 else float(entry["saturation"]),
            usual_temperature if temperature >= 0 or usual_temperature is None
            else float(entry["temperature"]),
        )


class Colouriser:
    """A loaded colourisation network plus the pre- and post-processing around it."""

    def __init__(
        self, weights: str | Path, kind: str | None = None, device: str = "cpu",
        size: int = 0, saturation: float = -1.0, gate: float = -1.0, flip_average: bool = True,
        detector: str = "none", min_chroma: float = -1.0, spread: float = -1.0,
        temperature: float = -1.0,
    ):
        self.path = resolve_weights(str(weights))
        model, payload = load_model(self.path, kind)
        self.model = model.to(device).eval()
        self.device = device
        self.kind = payload["kind"]
        self.arch = payload["arch"]
        self.classes: list[str] = list(payload["record"].get("classes", []))
        self.fixed = getattr(self.model, "fixed_size", None)
        self.multiple = getattr(self.model, "multiple", 8)
        self.size = int(
            self.fixed or size or payload["record"].get("work_size") or self.arch.get("work_size", 32)
        )
        #: a*b* gain; -1 takes the checkpoint's calibrated value (record["saturation"]).
        self.saturation = float(payload["record"].get("saturation", 1.0)) if saturation < 0 else saturation
        #: faint-colour gate; -1 takes the checkpoint's calibrated value (0 = always colour).
        record = payload["record"]
        self.min_chroma = float(record.get("min_chroma", 0.0)) if min_chroma < 0 else min_chroma
        #: extra colour spread per photo (grading.widen_spread); -1 takes the checkpoint's.
        self.spread = float(record.get("spread", 0.0)) if spread < 0 else spread
        self.flip_average = flip_average
        #: annealed-mean read-out of a bin colouriser (how bold where it hesitates)
        if hasattr(self.model, "temperature"):
            self.model.temperature = (
                float(record.get("temperature", self.model.temperature)) if temperature < 0 else temperature
            )
        #: a read-out calibrated apart for thumbnails (record["small_photos"]), where the
        #: model is less sure; a gain or temperature given by the user applies to every size.
        self.small = SmallReadout.from_record(record.get("small_photos"), saturation, temperature,
                                              self.saturation, getattr(self.model, "temperature", None))
        self.detector, self.gate = self._load_detector(detector, gate)

    def prepare(self, pixels: np.ndarray) -> Prepared:
        """Full-resolution L* (kept on the CPU) and the padded working copy (on the device)."""
        lightness = photo_lightness(torch.from_numpy(np.asarray(pixels)))[None, None]
        height, width = lightness.shape[-2:]
        h, w = working_shape(height, width, self.size, fit_inside=bool(self.fixed))
        small = self.small is not None and min(height, width) <= self.small.max_short_side
        work = lightness / 100.0
        if (h, w) != (height, width):
            work = F.interpolate(work, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        pad_h, pad_w = _pad_to(h, w, self.fixed, self.multiple)
        work = F.pad(work, (0, pad_w - w, 0, pad_h - h), mode="replicate")
        return Prepared(lightness, work.to(self.device), (h, w), small)

    @torch.no_grad()
    def colourise(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        """RGB (H, W, 3) float32 for each grey or colour input, with class and confidence."""
        prepared = [self.prepare(image) for image in images]
        results: list[Any] = [None] * len(images)
        groups: dict[tuple[int, int, bool], list[int]] = {}
        for index, item in enumerate(prepared):
            groups.setdefault((*item.work.shape[-2:], item.small), []).append(index)
        for (_, _, small), members in groups.items():
            batch = torch.cat([prepared[i].work for i in members])
            ab, logits, _ = self._predict_at(batch, small)
            probs = torch.softmax(logits, 1) if logits is not None else None
            p_grey = self._bw_probability(batch)
            if p_grey is not None:
                ab = ab * (p_grey < self.gate).to(ab.dtype)[:, None, None, None]
            for row, index in enumerate(members):
                info = self._class_info(None if probs is None else probs[row])
                h, w = prepared[index].valid
                chroma = float(mean_chroma(ab[row : row + 1, :, :h, :w])[0])
                info["mean_chroma"] = round(chroma, 3)
                info["left_grey"] = chroma < self.min_chroma
                if p_grey is not None:
                    info["bw_original"] = round(float(p_grey[row]), 4)
                    info["left_grey"] = info["left_grey"] or bool(p_grey[row] >= self.gate)
                item_ab = ab[row : row + 1] * (0.0 if info["left_grey"] else 1.0)
                results[index] = (self._finish(prepared[index], item_ab), info)
        return results

    def _load_detector(self, name: str, gate: float) -> tuple[torch.nn.Module | None, float]:
        """The B&W-original detector and its gate (its own validated threshold unless given)."""
        if not name or name == "none" or gate > 1.0:
            return None, 2.0
        detector, payload = load_model(resolve_weights(name), "bw-detector")
        default = float(payload["record"].get("val", {}).get("gate", 2.0))
        return detector.to(self.device).eval(), default if gate < 0 else gate

    def _bw_probability(self, batch: torch.Tensor) -> torch.Tensor | None:
        """P(the photo was black-and-white to begin with), averaged with its mirror image."""
        if self.detector is None:
            return None
        from oldphoto.colour.models.resnet import grey_for_resnet

        grey = grey_for_resnet(batch, self.detector.input_size)
        logits = self.detector(grey) + self.detector(grey.flip(3))
        return torch.softmax(0.5 * logits, 1)[:, 1]

    def _predict_at(
        self, batch: torch.Tensor, small: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``_predict`` under the small-photo temperature where it applies."""
        if not small or self.small is None or self.small.temperature is None:
            return self._predict(batch)
        usual, self.model.temperature = self.model.temperature, self.small.temperature
        try:
            return self._predict(batch)
        finally:
            self.model.temperature = usual

    def _predict(
        self, batch: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The model's output averaged with that of the mirrored image (cheap variance cut)."""
        ab, logits, grey = self.model(batch)
        if not self.flip_average:
            return ab, logits, grey
        ab_m, logits_m, grey_m = self.model(batch.flip(3))
        ab = 0.5 * (ab + ab_m.flip(3))
        if logits is not None:
            logits = 0.5 * (logits + logits_m)
        if grey is not None:
            grey = 0.5 * (grey + grey_m)
        return ab, logits, grey

    def _finish(self, item: Prepared, ab: torch.Tensor) -> np.ndarray:
        h, w = item.valid
        gain = self.small.saturation if item.small and self.small is not None else self.saturation
        ab = widen_spread(ab[:, :, :h, :w] * gain, self.spread).cpu()
        ab = F.interpolate(ab, size=item.lightness.shape[-2:], mode="bilinear", align_corners=False)
        return photo_rgb(item.lightness[0, 0], ab[0]).numpy()

    def _class_info(self, probs: torch.Tensor | None) -> dict[str, Any]:
        info: dict[str, Any] = {"weights": self.path.name, "model": self.kind}
        if probs is not None:
            best = int(probs.argmax())
            name = self.classes[best] if best < len(self.classes) else str(best)
            info.update({"class": name, "confidence": round(float(probs[best]), 4)})
        return info
