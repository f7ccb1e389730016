"""The paper's MLP baseline: 32x32 grey (1024) -> sigmoid hidden layer(s) -> 3072 RGB.

Sigmoid units with batch norm and Xavier initialisation, as the paper settled
on after vanishing gradients; L2 is applied by the trainer as weight decay.
Only the a*b* of its RGB output is used by the pipeline.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto.colour.lab import rgb_to_lab


class ColourMLP(nn.Module):
    """Fully connected colouriser on a fixed square input."""

    def __init__(
        self, size: int = 32, hidden: int = 512, layers: int = 1, dropout: float = 0.0,
        grey_head: bool = False,
    ):
        super().__init__()
        self.size = size
        self.fixed_size = size
        blocks: list[nn.Module] = []
        width = size * size
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.Sigmoid()]
            if dropout:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        self.hidden = nn.Sequential(*blocks)
        self.output = nn.Sequential(
            nn.Linear(width, 3 * size * size), nn.BatchNorm1d(3 * size * size), nn.Sigmoid()
        )
        #: Not in the paper: a logit that the original was black-and-white (see pipeline).
        self.grey_head = nn.Linear(width, 1) if grey_head else None
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_rgb(self, lightness: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], (N, 3, S, S), straight from the output layer."""
        flat = self.output(self.hidden(lightness.flatten(1)))
        return flat.view(-1, 3, self.size, self.size)

    def forward(self, lightness: torch.Tensor) -> tuple[torch.Tensor, None, torch.Tensor | None]:
        features = self.hidden(lightness.flatten(1))
        rgb = self.output(features).view(-1, 3, self.size, self.size)
        grey = self.grey_head(features)[:, 0] if self.grey_head is not None else None
        return rgb_to_lab(rgb)[:, 1:], None, grey
