"""Plain-torch ResNets used as a frozen semantic prior (no torchvision needed).

Two families: the CIFAR ResNet-(6n+2) with parameter-free "option A" shortcuts,
whose key names match the widely shared CIFAR-10 ``.th`` files, and ResNet-18
with torchvision's key names, so a user's own ``state_dict`` loads as is.
Both expect RGB normalised with ImageNet's mean and std.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.colour.lab import lab_to_rgb
from oldphoto.errors import OldphotoError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Block(nn.Module):
    """The basic residual block both ResNet families share; subclasses pick the shortcut.

    Attribute names (conv1, bn1, conv2, bn2) are the keys of the external
    state_dicts, so they must not change.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _OptionABlock(_Block):
    """CIFAR basic block; the shortcut subsamples and zero-pads channels (no weights)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, stride)
        self.pad = (c_out - c_in) // 2 if (stride != 1 or c_in != c_out) else -1

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad < 0:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: 3 stages of n blocks, widths w, 2w, 4w."""

    def __init__(self, depth: int = 20, classes: int = 10, width: int = 16):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        self.arch = {"family": "cifar", "depth": depth, "classes": classes, "width": width}
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        widths = [width, 2 * width, 4 * width]
        stages, c_in = [], width
        for index, c_out in enumerate(widths):
            stride = 1 if index == 0 else 2
            layers = [_OptionABlock(c_in, c_out, stride)]
            layers += [_OptionABlock(c_out, c_out, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(4 * width, classes)
        self.feature_dim = 4 * width
        self.input_size = 32
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x))


class _BasicBlock(_Block):
    """torchvision's BasicBlock, with its key names (a 1x1 convolution shortcut)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, stride)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)


class ResNet18(nn.Module):
    """ImageNet ResNet-18 whose ``state_dict`` keys match torchvision's."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.arch = {"family": "resnet18", "classes": classes}
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in, stages = 64, []
        for index, c_out in enumerate([64, 128, 256, 512]):
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(_BasicBlock(c_in, c_out, stride), _BasicBlock(c_out, c_out, 1)))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, classes)
        self.feature_dim = 512
        self.input_size = 224

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def build_resnet(arch: dict) -> CifarResNet | ResNet18:
    """Rebuild a backbone from the ``arch`` dict it recorded."""
    if arch["family"] == "cifar":
        return CifarResNet(arch["depth"], arch["classes"], arch.get("width", 16))
    if arch["family"] == "resnet18":
        return ResNet18(arch["classes"])
    raise OldphotoError(f"unknown ResNet family {arch['family']!r}")


def resnet_from_state_dict(state: dict[str, torch.Tensor], source: str) -> CifarResNet | ResNet18:
    """Recognise a CIFAR ``.th`` or torchvision ResNet-18 state dict and load it."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "linear.weight" in state:
        blocks = len({k.split(".")[1] for k in state if k.startswith("layer1.")})
        width = int(state["conv1.weight"].shape[0])
        model: CifarResNet | ResNet18 = CifarResNet(
            6 * blocks + 2, int(state["linear.weight"].shape[0]), width
        )
    elif "fc.weight" in state and "layer4.1.conv2.weight" in state:
        model = ResNet18(int(state["fc.weight"].shape[0]))
    else:
        raise OldphotoError(f"{source}: not a CIFAR ResNet or torchvision ResNet-18 state dict")
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise OldphotoError(f"{source}: ResNet weights do not fit ({len(missing)} missing keys)")
    return model


def load_external_resnet(path: Path) -> CifarResNet | ResNet18:
    """Load ``*.th`` / ``*.pth`` ResNet weights safely (tensors only, no pickle code)."""
    from oldphoto.colour.models.external import read_state_dict

    return resnet_from_state_dict(read_state_dict(path, "ResNet"), str(path))


def grey_for_resnet(lightness: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised lightness (N,1,H,W) -> the grey RGB a ResNet expects, ImageNet-normalised.

    The short side is scaled to ``size`` keeping the aspect ratio, the scale the
    ResNets were trained at (they pool globally, so no square stretching is needed).
    """
    lab = torch.cat([lightness * 100.0, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], 1)
    rgb = lab_to_rgb(lab)
    scale = size / min(rgb.shape[-2:])
    if abs(scale - 1.0) > 1e-6:
        rgb = F.interpolate(
            rgb, scale_factor=scale, mode="bilinear", align_corners=False, antialias=scale < 1
        )
    mean = torch.tensor(IMAGENET_MEAN, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std
