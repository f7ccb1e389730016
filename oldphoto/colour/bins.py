"""Colour as a class: a*b* quantised into bins, soft targets, rebalancing and the read-out.

An averaging loss (MSE) answers "brown" wherever a colour is uncertain, since
brown is the mean of red, green and blue guesses. Zhang, Isola and Efros
(2016) instead predict a distribution over quantised a*b*, weight rare colours
up so the model is paid for naming them, and read out an *annealed mean*:
the mean of the distribution sharpened by a temperature, which keeps vivid
modes without the speckle of taking the single most likely bin.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

#: Width of a bin in a*b* units, and the a*b* range the grid covers.
BIN_WIDTH = 10.0
AB_RANGE = 110.0


def grid_centres(width: float = BIN_WIDTH, extent: float = AB_RANGE) -> np.ndarray:
    """Every bin centre of the square a*b* grid, (Q, 2)."""
    steps = np.arange(-extent + width / 2, extent, width)
    a, b = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def nearest_bin(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centre for each pixel of (N, 2, H, W) -> (N, H, W)."""
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    index = torch.cdist(flat, centres.to(flat)).argmin(dim=1)
    return index.view(ab.shape[0], ab.shape[2], ab.shape[3])


def occupied_centres(ab_samples: torch.Tensor, min_share: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """The bins that real photos use (in gamut), and their empirical share.

    ``ab_samples`` is (M, 2) of a*b* values from training photos; bins holding
    less than ``min_share`` of them are dropped, so the head never spends
    capacity on colours sRGB cannot show.
    """
    grid = torch.from_numpy(grid_centres()).float()
    index = torch.cdist(ab_samples.float(), grid).argmin(dim=1)
    counts = torch.bincount(index, minlength=len(grid)).double()
    share = counts / counts.sum()
    keep = share >= min_share
    kept = share[keep]
    return grid[keep].numpy(), (kept / kept.sum()).numpy()


def rebalancing_weights(share: np.ndarray, centres: np.ndarray, mix: float = 0.5,
                        sigma: float = 5.0) -> np.ndarray:
    """Per-bin loss weights: ``1 / ((1 - mix) * smoothed share + mix / Q)``, mean 1 under the data.

    ``mix`` is Zhang et al.'s lambda: 0 weights each colour by its rarity, 1 is
    plain cross-entropy. The share is smoothed with a Gaussian over a*b*.
    """
    dist2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-dist2 / (2 * sigma**2))
    smoothed = kernel @ share
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1.0 - mix) * smoothed + mix / len(share))
    return weights / (share * weights).sum()


def soft_targets(ab: torch.Tensor, centres: torch.Tensor, neighbours: int = 5,
                 sigma: float = 5.0) -> torch.Tensor:
    """Soft-encode (N, 2, H, W) a*b* over its ``neighbours`` nearest bins -> (N, Q, H, W)."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    dist = torch.cdist(flat, centres.to(flat))
    near, index = dist.topk(neighbours, dim=1, largest=False)
    weight = torch.softmax(-near.pow(2) / (2 * sigma**2), dim=1)
    target = torch.zeros_like(dist).scatter_(1, index, weight)
    return target.view(n, h, w, -1).permute(0, 3, 1, 2)


def rebalanced_cross_entropy(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor,
                             weights: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s loss: soft-target cross-entropy, each pixel weighted by its colour's rarity.

    ``ab`` is the truth at the logits' resolution.
    """
    target = soft_targets(ab, centres)
    pixel_weight = weights.to(logits)[nearest_bin(ab, centres)]
    per_pixel = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
    return (per_pixel * pixel_weight).sum() / pixel_weight.sum().clamp_min(1e-6)


#: The hue-aware loss looks at pixels whose true chroma is at least this (the hit rate's floor) ...
HUE_CHROMA = 15.0
#: ... and asks the read-out there for at least this chroma (a hit's floor) ...
HUE_MIN_CHROMA = 7.0
#: ... reading it out at the shipped checkpoints' calibrated temperature.
HUE_TEMPERATURE = 0.5


def hue_loss(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor,
             temperature: float = HUE_TEMPERATURE) -> torch.Tensor:
    """A hue-aware term for the bins' cross-entropy: on the truly colourful pixels (chroma >=
    HUE_CHROMA), 1 - cos of the angle between the read-out's a*b* and the truth's, plus a
    hinge that asks for HUE_MIN_CHROMA. The cross-entropy rewards putting mass near the
    true bin, but a pixel torn between two far hues reads out as their grey-brown mean
    at no extra cost; this term charges the read-out itself. 0 when no pixel is colourful.
    ``ab`` is the truth at the logits' resolution."""
    truth_chroma = ab.norm(dim=1)
    colourful = truth_chroma >= HUE_CHROMA
    if not colourful.any():
        return logits.sum() * 0.0
    read = annealed_mean(logits, centres, temperature)
    read_chroma = read.norm(dim=1)
    cosine = (read * ab).sum(dim=1) / (read_chroma * truth_chroma).clamp_min(1e-3)
    faint = F.relu(HUE_MIN_CHROMA - read_chroma) / HUE_MIN_CHROMA
    return ((1.0 - cosine) + faint)[colourful].mean()


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float) -> torch.Tensor:
    """The read-out: a*b* = sum_q softmax(logits / T)_q * centre_q, (N, Q, H, W) -> (N, 2, H, W).

    T = 1 is the plain mean (safe, faint); T -> 0 is the mode (vivid, speckled).
    """
    probs = torch.softmax(logits / max(temperature, 1e-3), dim=1)
    return torch.einsum("nqhw,qc->nchw", probs, centres.to(probs))
