"""The ResNet variant: a fusion CNN whose global prior also gets a frozen ResNet's features.

The paper fed its CNN with a fixed pretrained ResNet; here the ResNet's pooled
features enter the fusion layer through a zero-initialised projection, so a
colouriser fine-tuned from a trained fusion CNN starts exactly where it was.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto.colour.models.resnet import grey_for_resnet


class ResNetColouriser(nn.Module):
    """``cnn(L, prior=resnet.features(grey(L)))`` with the ResNet frozen in eval mode."""

    def __init__(
        self, cnn: nn.Module, backbone: nn.Module, prior_dropout: float = 0.0,
        prior_only: bool = False,
    ):
        super().__init__()
        self.cnn = cnn
        #: In training, the share of photos whose prior is withheld (zeroed), so the CNN
        #: keeps its own judgement for photos where the ResNet's classes say nothing.
        self.prior_dropout = prior_dropout
        #: Train only the prior's projection: the CNN keeps the weights it started from
        #: (batch-norm statistics included), so the ResNet can add to its colour but not
        #: make it unlearn what it knew about photos unlike the ResNet's classes.
        self.prior_only = prior_only
        self.backbone = backbone
        self.backbone.requires_grad_(False)
        if prior_only:
            self.cnn.requires_grad_(False)
            self.cnn.prior.requires_grad_(True)
        self.fixed_size = getattr(cnn, "fixed_size", None)
        self.multiple = getattr(cnn, "multiple", 8)

    def train(self, mode: bool = True) -> ResNetColouriser:
        super().train(mode)
        self.backbone.eval()
        if self.prior_only:
            self.cnn.eval()
        return self

    def forward(
        self, lightness: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        with torch.no_grad():
            prior = self.backbone.features(grey_for_resnet(lightness, self.backbone.input_size))
            if self.training and self.prior_dropout > 0:
                keep = torch.rand(prior.shape[0], 1, device=prior.device) >= self.prior_dropout
                prior = prior * keep.to(prior.dtype)
        return self.cnn(lightness, prior)
