"""The grain denoiser: a small two-level U-Net in the style of FFDNet.

Like FFDNet it works on a pixel-unshuffled image with a noise-level map as an
extra input, so one network serves every strength and the strength can be set
by hand. A second, coarser level (another unshuffle) widens the receptive field
cheaply: most of the arithmetic runs at a sixteenth of the pixels, which keeps
a 12 MP scan within seconds on a CPU. The network predicts the noise; the output
is the input minus it. An optional third level (an eighth of the side) adds
reach for strong noise at little cost; its last convolution starts at zero, so
it can be grown onto trained weights without changing their output
(``train denoise-grain --init``). The same body, with two inputs and a logit
out, is the learned dust and scratch finder (:mod:`oldphoto.restore.damage_net`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.errors import OldphotoError

FORMAT = "oldphoto-grain/1"
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = WEIGHTS_DIR / "denoise-grain.pth"  # .pth: not one of the colour .pt checkpoints
#: Noise levels the network was trained for are on [0, 1] pixels; the map is scaled by this.
LEVEL_SCALE = 255.0 / 50.0


@dataclass(frozen=True)
class GrainArch:
    """Widths of the levels, the convolutions at the coarse one, and those at the optional
    third level (``deep``, 0 for none) with its width."""

    fine: int = 32
    coarse: int = 64
    body: int = 5
    deep: int = 0
    deep_width: int = 128


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class TwoLevelNet(nn.Module):
    """The two-level body shared by the grain denoiser and the damage finder: (N, inputs, H, W)
    plus a level (N,1,1,1) on [0,1] -> an (N, outputs, H, W) map; H and W divisible by 4
    (by 8 with a third level)."""

    FORMAT: ClassVar[str]
    SHIPPED: ClassVar[Path]
    WHAT: ClassVar[str]

    def __init__(self, arch: GrainArch = GrainArch(), inputs: int = 1, outputs: int = 1):
        super().__init__()
        self.arch = arch
        f, c = arch.fine, arch.coarse
        self.head = nn.Sequential(_conv(4 * inputs + 1, f), nn.ReLU(inplace=True), _conv(f, f),
                                  nn.ReLU(inplace=True))
        body: list[nn.Module] = [_conv(4 * f + 1, c), nn.ReLU(inplace=True)]
        for _ in range(arch.body):
            body += [_conv(c, c), nn.ReLU(inplace=True)]
        body += [_conv(c, 4 * f)]
        self.body = nn.Sequential(*body)
        #: The third level runs between the body's first and second halves.
        self.split = 2 + 2 * (arch.body // 2)
        self.deep: nn.Sequential | None = None
        if arch.deep:
            d = arch.deep_width
            deep: list[nn.Module] = [nn.Conv2d(4 * c, d, 1), nn.ReLU(inplace=True)]
            for _ in range(arch.deep):
                deep += [_conv(d, d), nn.ReLU(inplace=True)]
            last = nn.Conv2d(d, 4 * c, 1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.deep = nn.Sequential(*deep, last)
        self.tail = nn.Sequential(nn.ReLU(inplace=True), _conv(f, f), nn.ReLU(inplace=True),
                                  _conv(f, 4 * outputs))

    def map(self, images: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        level = (level * LEVEL_SCALE).to(images.dtype)
        half = F.pixel_unshuffle(images, 2)
        fine = self.head(torch.cat([half, level.expand(-1, 1, *half.shape[2:])], 1))
        quarter = F.pixel_unshuffle(fine, 2)
        coarse = self._body(torch.cat([quarter, level.expand(-1, 1, *quarter.shape[2:])], 1))
        return F.pixel_shuffle(self.tail(fine + F.pixel_shuffle(coarse, 2)), 2)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """The coarse level, with the third level added halfway if there is one."""
        if self.deep is None:
            return self.body(x)
        x = self.body[:self.split](x)
        x = x + F.pixel_shuffle(self.deep(F.pixel_unshuffle(x, 2)), 2)
        return self.body[self.split:](x)


Net = TypeVar("Net", bound=TwoLevelNet)


class GrainNet(TwoLevelNet):
    """Noisy grey (N,1,H,W) plus level (N,1,1,1) on [0,1] -> denoised; H and W divisible by 4
    (8 with a third level)."""

    FORMAT, SHIPPED, WHAT = FORMAT, SHIPPED, "grain denoiser"

    def __init__(self, arch: GrainArch = GrainArch()):
        super().__init__(arch)

    def forward(self, noisy: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return noisy - self.map(noisy, level)


def macs_per_pixel(arch: GrainArch, inputs: int = 1, outputs: int = 1) -> float:
    """Multiply-adds per input pixel: the budget a 12 MP scan must fit."""
    f, c = arch.fine, arch.coarse
    half = 9 * ((4 * inputs + 1) * f + f * f + f * f + f * 4 * outputs) / 4
    quarter = 9 * ((4 * f + 1) * c + arch.body * c * c + c * 4 * f) / 16
    d = arch.deep_width
    eighth = (2 * 4 * c * d + 9 * arch.deep * d * d) / 64 if arch.deep else 0.0
    return half + quarter + eighth


def save_net(path: Path, model: TwoLevelNet, record: dict[str, Any], half: bool = False) -> None:
    """Write atomically plain tensors and JSON-able data, loadable with weights_only=True."""
    state = {k: (v.detach().cpu().half() if half else v.detach().cpu().clone())
             for k, v in model.state_dict().items()}
    payload = {"format": model.FORMAT, "arch": asdict(model.arch), "state": state, "record": record}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_net(kind: type[Net], path: Path | None = None) -> tuple[Net, dict[str, Any]]:
    """A ``kind`` network in eval mode (float32) and its record; one-line errors for bad files."""
    path = Path(path) if path is not None else kind.SHIPPED
    what = kind.WHAT
    if not path.is_file():
        raise OldphotoError(f"{path}: {what} weights not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise OldphotoError(f"{path}: not a readable {what} checkpoint "
                            "(or it holds pickled code, which oldphoto refuses)") from None
    if not isinstance(payload, dict) or payload.get("format") != kind.FORMAT:
        raise OldphotoError(f"{path}: not an oldphoto {what} checkpoint")
    try:
        arch = GrainArch(**{k: int(v) for k, v in dict(payload["arch"]).items()})
        if max(arch.fine, arch.coarse, arch.body, arch.deep, arch.deep_width) > 1024:
            raise ValueError("sizes out of range")
        model = kind(arch)
        model.load_state_dict({k: v.float() for k, v in payload["state"].items()})
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise OldphotoError(f"{path}: malformed {what} checkpoint ({reason[:120]})") from None
    return model.eval(), dict(payload.get("record", {}))


@lru_cache(maxsize=8)
def _cached(kind: type[TwoLevelNet], path: Path, _mtime: int) -> tuple[TwoLevelNet, dict[str, Any]]:
    return load_net(kind, path)


def cached_net(kind: type[Net], path: Path | None = None) -> tuple[Net, dict[str, Any]]:
    """``load_net``, read once per process (again if the file changes): filters call it per
    image. The record is shared between callers; read it, do not change it."""
    path = Path(path) if path is not None else kind.SHIPPED
    return cast(tuple[Net, dict[str, Any]],
                _cached(kind, path, path.stat().st_mtime_ns if path.is_file() else 0))


def provenance(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """What another record keeps of weights it was made from (grown from, or calibrated
    with): their file, command, steps, time and last check, and their own origin."""
    return {"path": str(path), "command": record.get("command", ""), "steps": record.get("steps"),
            "seconds": record.get("seconds"), "validation": record.get("validation", {}),
            **({"grown_from": record["grown_from"]} if "grown_from" in record else {})}


def load_grain(path: Path | None = None) -> tuple[GrainNet, dict[str, Any]]:
    """The grain denoiser (the shipped one by default) and its record."""
    return load_net(GrainNet, path)
