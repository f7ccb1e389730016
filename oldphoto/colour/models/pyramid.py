"""The scene colourisers: an encoder pyramid, a fusion decoder, and a*b* as classes over bins.

Two encoders share one decoder, so the comparison is the paper's:

- ``colorize-cnn``: :class:`ScratchEncoder`, trained from nothing, with its own
  global branch and a class head (the paper's class-aware prior);
- ``colorize-resnet``: :class:`PretrainedEncoder`, a frozen ImageNet
  EfficientNet-Lite on the grey picture, whose pooled head vector is the
  global prior.

The decoder fuses the global vector into the coarsest map (the paper's fusion
layer), climbs back to stride 4 through skip connections, and predicts a
distribution over quantised a*b* (:mod:`oldphoto.colour.bins`) there. The
read-out is an annealed mean, upsampled to the working size; the pipeline
then puts it under the photo's full-resolution L*.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.colour.bins import annealed_mean
from oldphoto.colour.models.efficientnet import EfficientNetLite, grey_for_efficientnet
from oldphoto.colour.models.layers import conv_bn_relu


class ScratchEncoder(nn.Module):
    """A plain strided CNN to stride 32, with a global branch and an optional class head."""

    def __init__(self, widths: tuple[int, ...] = (32, 48, 96, 160, 256), classes: int = 0,
                 global_dim: int = 256):
        super().__init__()
        stages, c_in = [], 1
        for width in widths:
            stages.append(nn.Sequential(conv_bn_relu(c_in, width, 2), conv_bn_relu(width, width)))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.global_fc = nn.Sequential(nn.Linear(widths[-1], global_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(global_dim, classes) if classes else None
        self.tap_channels = list(widths[1:])
        self.global_dim = global_dim

    def forward(
        self, lightness: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
        x, features = lightness - 0.5, []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index > 0:
                features.append(x)
        vector = self.global_fc(x.mean(dim=(2, 3)))
        logits = self.head(vector) if self.head is not None else None
        return features, vector, logits


class PretrainedEncoder(nn.Module):
    """An EfficientNet-Lite on the grey picture, frozen but for its top ``tuned_blocks``
    blocks and head (its batch norms stay in eval mode: their ImageNet statistics)."""

    def __init__(self, backbone: EfficientNetLite, tuned_blocks: int = 0):
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        self.frozen_blocks = len(backbone._blocks) - max(0, min(tuned_blocks, len(backbone._blocks)))
        if tuned_blocks > 0:
            for part in (*backbone._blocks[self.frozen_blocks:], backbone._conv_head, backbone._bn1):
                part.requires_grad_(True)
        self.tap_channels = backbone.tap_channels
        self.global_dim = backbone.arch["head"]

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, lightness: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, None]:
        features, pooled = self.backbone.pyramid(grey_for_efficientnet(lightness), self.frozen_blocks)
        return features, pooled, None


class FusionDecoder(nn.Module):
    """Global vector fused at stride 32, then skips at 16, 8 and 4; logits over the bins."""

    def __init__(self, tap_channels: list[int], global_dim: int, bins: int,
                 widths: tuple[int, int, int, int] = (256, 192, 128, 96)):
        super().__init__()
        c4, c8, c16, c32 = tap_channels
        w32, w16, w8, w4 = widths
        self.top = nn.Sequential(
            nn.Conv2d(c32, w32, 1, bias=False), nn.BatchNorm2d(w32), nn.ReLU(inplace=True)
        )
        self.fuse = nn.Linear(global_dim, w32)
        self.up16 = conv_bn_relu(w32 + c16, w16)
        self.up8 = conv_bn_relu(w16 + c8, w8)
        self.up4 = nn.Sequential(conv_bn_relu(w8 + c4, w4), conv_bn_relu(w4, w4))
        self.logits = nn.Conv2d(w4, bins, 1)

    @staticmethod
    def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([x, skip], dim=1)

    def forward(self, features: list[torch.Tensor], vector: torch.Tensor) -> torch.Tensor:
        f4, f8, f16, f32 = features
        x = F.relu(self.top(f32) + self.fuse(vector)[:, :, None, None])
        x = self.up16(self._up_cat(x, f16))
        x = self.up8(self._up_cat(x, f8))
        x = self.up4(self._up_cat(x, f4))
        return self.logits(x)


class BinColouriser(nn.Module):
    """L* (N, 1, H, W) in [0, 1] -> a*b* (N, 2, H, W), class logits, None.

    Sides must be multiples of 32 (the pipeline pads). ``temperature`` is the
    annealed-mean read-out, calibrated after training and kept in the record.
    """

    multiple = 32
    fixed_size = None

    def __init__(self, encoder: nn.Module, centres: torch.Tensor, temperature: float = 0.5):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("centres", centres.float().clone())
        self.decoder = FusionDecoder(encoder.tap_channels, encoder.global_dim, len(centres))
        self.temperature = temperature

    def bin_logits(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits over the bins at stride 4, and the class logits (if the encoder has a head)."""
        features, vector, classes = self.encoder(lightness)
        return self.decoder(features, vector), classes

    def forward(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, None]:
        logits, classes = self.bin_logits(lightness)
        ab = annealed_mean(logits, self.centres, self.temperature)
        ab = F.interpolate(ab, size=lightness.shape[-2:], mode="bilinear", align_corners=False)
        return ab, classes, None


def build_bin_colouriser(arch: dict[str, Any]) -> BinColouriser:
    """Rebuild from a checkpoint's ``arch`` (weights come from its state afterwards)."""
    encoder_arch = arch["encoder"]
    if encoder_arch["kind"] == "efficientnet":
        blocks = encoder_arch["blocks"]
        encoder: nn.Module = PretrainedEncoder(EfficientNetLite(
            blocks, encoder_arch.get("classes", 1000), encoder_arch.get("stem", 32),
            encoder_arch.get("head", 1280),
        ))
    elif encoder_arch["kind"] == "scratch":
        encoder = ScratchEncoder(tuple(encoder_arch["widths"]), encoder_arch.get("classes", 0))
    else:
        raise ValueError(f"unknown encoder {encoder_arch['kind']!r}")
    centres = torch.tensor(arch["centres"], dtype=torch.float32)
    return BinColouriser(encoder, centres, float(arch.get("temperature", 0.5)))
