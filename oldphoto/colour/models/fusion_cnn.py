"""The fusion colouriser: encoder, global branch with class head, fusion, decoder.

``variant="paper"`` is the paper's network for 32x32 input: 6 strided 3x3
convolutions to 8x8x128, a global branch of 4 convolutions and 2 FC layers to a
128-d vector (plus a class head), tiling fusion to 8x8x256, and a decoder of
convolutions with nearest-neighbour upsampling ending in a sigmoid.

``variant="unet"`` is the shipped default: the same four parts, but fully
convolutional (the global branch ends in average pooling, so any size and
aspect ratio works) with skip connections that keep edges sharp, and an
optional external prior vector (a frozen ResNet's features) added at fusion.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto.colour.models.layers import conv_bn_relu, sigmoid_to_ab, tile


class PaperFusionCNN(nn.Module):
    """The paper's architecture on a fixed 32x32 input."""

    def __init__(self, classes: int = 10, prior_dim: int = 0, size: int = 32):
        super().__init__()
        self.fixed_size = size
        self.encoder = nn.Sequential(
            conv_bn_relu(1, 64, 2),
            conv_bn_relu(64, 128),
            conv_bn_relu(128, 128, 2),
            conv_bn_relu(128, 256),
            conv_bn_relu(256, 128),
            conv_bn_relu(128, 128),
        )
        self.global_convs = nn.Sequential(
            conv_bn_relu(128, 128, 2),
            conv_bn_relu(128, 128),
            conv_bn_relu(128, 128, 2),
            conv_bn_relu(128, 128),
        )
        grid = size // 16
        self.global_fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * grid * grid, 256),
            nn.BatchNorm1d(256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(128, classes) if classes else None
        self.prior = nn.Linear(prior_dim, 128) if prior_dim else None
        self.decoder = nn.Sequential(
            conv_bn_relu(256, 128),
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv_bn_relu(128, 64),
            conv_bn_relu(64, 64),
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv_bn_relu(64, 32),
            nn.Conv2d(32, 2, 3, padding=1),
        )

    def forward(
        self, lightness: torch.Tensor, prior: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, None]:
        mid = self.encoder(lightness)
        vector = self.global_fc(self.global_convs(mid))
        if self.prior is not None and prior is not None:
            vector = vector + self.prior(prior)
        logits = self.head(vector) if self.head is not None else None
        fused = torch.cat([mid, tile(vector, mid)], dim=1)
        return sigmoid_to_ab(self.decoder(fused)), logits, None


class UNetFusionCNN(nn.Module):
    """Fully convolutional fusion colouriser with skips; input sides divisible by 8."""

    multiple = 8
    fixed_size = None

    def __init__(
        self, width: int = 32, classes: int = 10, prior_dim: int = 0, grey_head: bool = False
    ):
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn_relu(1, w), conv_bn_relu(w, w))
        self.down1 = nn.Sequential(conv_bn_relu(w, 2 * w, 2), conv_bn_relu(2 * w, 2 * w))
        self.down2 = nn.Sequential(
            conv_bn_relu(2 * w, 4 * w, 2), conv_bn_relu(4 * w, 4 * w), conv_bn_relu(4 * w, 4 * w)
        )
        self.global_convs = nn.Sequential(
            conv_bn_relu(4 * w, 4 * w, 2),
            conv_bn_relu(4 * w, 4 * w),
            conv_bn_relu(4 * w, 4 * w, 2),
            conv_bn_relu(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.global_fc = nn.Sequential(
            nn.Linear(4 * w, 256), nn.ReLU(inplace=True), nn.Linear(256, 128), nn.ReLU(inplace=True)
        )
        self.head = nn.Linear(128, classes) if classes else None
        #: Logit that the original was already black-and-white (see colour/pipeline.py).
        self.grey_head = nn.Linear(128, 1) if grey_head else None
        self.fuse = nn.Sequential(nn.Conv2d(4 * w + 128, 4 * w, 1), nn.ReLU(inplace=True))
        self.prior = nn.Linear(prior_dim, 4 * w) if prior_dim else None
        if self.prior is not None:
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)
        self.mid = conv_bn_relu(4 * w, 4 * w)
        self.up1 = nn.Sequential(conv_bn_relu(6 * w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.up2 = nn.Sequential(conv_bn_relu(3 * w, w), conv_bn_relu(w, w))
        self.out = nn.Conv2d(w, 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, lightness: torch.Tensor, prior: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        full = self.stem(lightness - 0.5)
        half = self.down1(full)
        quarter = self.down2(half)
        vector = self.global_fc(self.global_convs(quarter))
        logits = self.head(vector) if self.head is not None else None
        grey = self.grey_head(vector)[:, 0] if self.grey_head is not None else None
        fused = self.fuse(torch.cat([quarter, tile(vector, quarter)], dim=1))
        if self.prior is not None and prior is not None:
            fused = fused + tile(self.prior(prior), fused)
        x = self.mid(fused)
        x = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.up1(torch.cat([x, half], dim=1))
        x = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.up2(torch.cat([x, full], dim=1))
        return sigmoid_to_ab(self.out(x)), logits, grey
