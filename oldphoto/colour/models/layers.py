"""Small building blocks shared by the colourisers."""

from __future__ import annotations

import torch
from torch import nn

from oldphoto.colour.lab import AB_SCALE


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the paper's unit throughout."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def sigmoid_to_ab(raw: torch.Tensor) -> torch.Tensor:
    """The paper's sigmoid output in [0, 1], centred so 0.5 means grey, in Lab units."""
    return (torch.sigmoid(raw) - 0.5) * (2.0 * AB_SCALE)


def tile(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Repeat a (N, C) vector over the spatial grid of ``like``: the fusion layer."""
    return vector[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])
