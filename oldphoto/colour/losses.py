"""The colour losses, and the batch tensors they are computed on.

Lab is computed per batch in torch from uint8 images, so the data stay small
in memory (see :mod:`oldphoto.colour.data`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.colour.lab import AB_SCALE, lab_to_rgb, mean_chroma, uint8_to_lab
from oldphoto.errors import OldphotoError

#: Mean |a*b*| below which an image counts as a black-and-white original.
GREY_CHROMA = 0.5
#: The values of ``--loss`` a colouriser trains with.
COLOUR_LOSSES = ("ab", "rgb", "psnr", "rgb-direct")


class LossSettings(Protocol):
    """The part of a run's config the colour loss reads."""

    loss: str
    alpha: float
    beta: float
    colour_reward: float
    reward_cap: float


def batch_tensors(
    images: np.ndarray, device: str, flip: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 (N,S,S,3) -> normalised L (N,1,S,S), a*b* (N,2,S,S) and RGB truth (N,3,S,S)."""
    batch = torch.from_numpy(images).to(device)
    if flip is not None and flip.any():
        index = torch.from_numpy(np.flatnonzero(flip)).to(device)
        batch[index] = batch[index].flip(2)
    lab = uint8_to_lab(batch)
    rgb = batch.permute(0, 3, 1, 2).float() / 255.0
    return lab[:, :1] / 100.0, lab[:, 1:], rgb


def recombine(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """RGB from normalised L and a*b*: the image the user finally sees."""
    return lab_to_rgb(torch.cat([lightness * 100.0, ab], dim=1))


def colourfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler and Suesstrunk's colourfulness per image of (N, 3, H, W) RGB in [0, 1], on 0-255.

    The benchmark's measure (``oldphoto.metrics.colourfulness``), differentiable,
    so training can be paid for the colour a person sees.
    """
    rgb = rgb * 255.0
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    spread = (rg.var(dim=(1, 2), correction=0) + yb.var(dim=(1, 2), correction=0) + 1e-6).sqrt()
    mean = (rg.mean(dim=(1, 2)).pow(2) + yb.mean(dim=(1, 2)).pow(2) + 1e-6).sqrt()
    return spread + 0.3 * mean


def check_loss_settings(config: LossSettings) -> None:
    """Refuse combinations of options that would silently do nothing."""
    if config.loss not in COLOUR_LOSSES:
        raise OldphotoError(f"--loss {config.loss}: expected ab, rgb, psnr or rgb-direct")
    if config.colour_reward > 0 and config.loss != "psnr":
        raise OldphotoError(f"--colour-reward works with --loss psnr, not --loss {config.loss}")
    if config.reward_cap > 0 and config.colour_reward <= 0:
        raise OldphotoError("--reward-cap needs --colour-reward")


def colour_loss(
    model: nn.Module, config: LossSettings, lightness: torch.Tensor, ab: torch.Tensor,
    rgb: torch.Tensor, labels: torch.Tensor | None,
) -> torch.Tensor:
    """The chosen colour loss, + α CE on the class head, + β BCE on the grey-original head.

    ``ab``: the paper's MSE on a*b* scaled to [0, 1]; ``rgb``: MSE on the recombined
    RGB; ``psnr``: minus the per-image PSNR of the recombined RGB over colour
    originals (the benchmark's own measure); ``rgb-direct``: the MLP's RGB output.
    """
    grey_logit = logits = None
    if config.loss == "rgb-direct":
        loss = F.mse_loss(model.forward_rgb(lightness), rgb)
    else:
        predicted, logits, grey_logit = model(lightness)
        if config.loss == "ab":
            loss = F.mse_loss(predicted / (2 * AB_SCALE), ab / (2 * AB_SCALE))
        elif config.loss == "rgb":
            loss = F.mse_loss(recombine(lightness, predicted), rgb)
        elif config.loss == "psnr":
            loss = _psnr_loss(config, recombine(lightness, predicted), ab, rgb)
        else:
            raise OldphotoError(f"--loss {config.loss}: expected ab, rgb, psnr or rgb-direct")
    if config.alpha > 0 and logits is not None and labels is not None:
        loss = loss + config.alpha * F.cross_entropy(logits, labels)
    if config.beta > 0 and grey_logit is not None:
        is_grey = (mean_chroma(ab) < GREY_CHROMA).float()
        loss = loss + config.beta * F.binary_cross_entropy_with_logits(grey_logit, is_grey)
    return loss


def _psnr_loss(config: LossSettings, result: torch.Tensor, ab: torch.Tensor,
               rgb: torch.Tensor) -> torch.Tensor:
    """Minus the mean per-image PSNR over colour originals, less the colour reward."""
    per_image = (result - rgb).pow(2).mean(dim=(1, 2, 3))
    coloured = mean_chroma(ab) >= GREY_CHROMA
    weights = coloured.float() / coloured.float().sum().clamp_min(1.0)
    loss = (10.0 * torch.log10(per_image + 1e-5) * weights).sum()
    if config.colour_reward > 0:
        paid = colourfulness(result)
        if config.reward_cap > 0:  # no pay for colour beyond the photo's own
            paid = torch.minimum(paid, config.reward_cap * colourfulness(rgb))
        loss = loss - config.colour_reward * (paid * weights).sum()
    return loss
