"""The ResNet variant: a fusion CNN whose global prior also gets a frozen ResNet's features.

The paper fed its CNN with a fixed pretrained ResNet; here the ResNet's pooled
features enter the fusion layer through a zero-initialised projection, so a
colouriser fine-tuned from a trained fusion CNN starts exactly where it was.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto.models.resnet import grey_for_resnet


class ResNetColouriser(nn.Module):
    """``cnn(L, prior=resnet.features(grey(L)))`` with the ResNet frozen in eval mode."""

    def __init__(self, cnn: nn.Module, backbone: nn.Module):
        super().__init__()
        self.cnn = cnn
        self.backbone = backbone
        self.backbone.requires_grad_(False)
        self.fixed_size = getattr(cnn, "fixed_size", None)
        self.multiple = getattr(cnn, "multiple", 8)

    def train(self, mode: bool = True) -> ResNetColouriser:
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(
        self, lightness: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        with torch.no_grad():
            prior = self.backbone.features(grey_for_resnet(lightness, self.backbone.input_size))
        return self.cnn(lightness, prior)
