"""The damage the restore networks learn from, made on the fly for a batch of crops.

:func:`degrade` is what the grain denoiser learns to remove; :func:`scan_damage`
is what the damage finder learns to find (grain plus dust and scratches, with
the true mask).

Real film and scanners add more than white Gaussian noise: grain that is
brighter in the highlights (signal-dependent, Poisson-like), grain that is
slightly correlated between neighbours, and JPEG compression of the scan.
Every crop gets its own random mix; the level the network is told is the
measured standard deviation of what was added, jittered a little so that a
blind estimate that is a bit off still works.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch.nn import functional as F

#: Largest Gaussian sigma trained on (55 on the 0..255 scale).
MAX_SIGMA = 55.0 / 255.0


def _blur(noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of each sample by its own sigma (0: none), renormalised to unit std."""
    radius = 2
    taps = torch.arange(-radius, radius + 1, dtype=noise.dtype)
    safe = sigma.clamp(min=1e-3)[:, None]
    kernel = torch.exp(-0.5 * (taps[None] / safe) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)
    batch = noise.shape[0]
    x = noise.reshape(1, batch, *noise.shape[2:])
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=batch)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel[:, None, :, None], groups=batch)
    x = x.reshape(noise.shape)
    x = x / x.flatten(1).std(1).clamp(min=1e-6)[:, None, None, None]
    return torch.where((sigma > 0.05)[:, None, None, None], x, noise)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """One grey crop through JPEG and back."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer), np.float32) / 255.0


def degrade(clean: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy copies of clean (N,1,H,W) crops on [0,1] and the level (N,1,1,1) to tell the network."""
    batch = clean.shape[0]
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    sigma = torch.from_numpy(rng.uniform(0.0, MAX_SIGMA, batch).astype(np.float32))
    # a fifth of the crops are nearly clean: the network must leave those alone
    sigma = torch.where(torch.from_numpy(rng.random(batch) < 0.2), sigma * 0.1, sigma)
    white = torch.randn(clean.shape, generator=gen)
    corr = torch.from_numpy(np.where(rng.random(batch) < 0.5, rng.uniform(0.3, 1.0, batch), 0.0)
                            .astype(np.float32))
    grain = _blur(white, corr)
    # signal-dependent share: std grows with the square root of brightness
    share = torch.from_numpy((rng.random(batch) * (rng.random(batch) < 0.5)).astype(np.float32))
    shape = (1 - share)[:, None, None, None] + share[:, None, None, None] * torch.sqrt(
        clean.clamp(min=0.0) / clean.mean((1, 2, 3), keepdim=True).clamp(min=0.05))
    noisy = clean + sigma[:, None, None, None] * grain * shape
    noisy = noisy.clamp(0.0, 1.0) if rng.random() < 0.5 else noisy
    compress = rng.random(batch) < 0.25
    if compress.any():
        for index in np.flatnonzero(compress):
            noisy[index, 0] = torch.from_numpy(jpeg(noisy[index, 0].numpy(), rng.integers(60, 96)))
    level = (noisy - clean).flatten(1).std(1)
    jitter = torch.from_numpy(rng.uniform(0.9, 1.1, batch).astype(np.float32))
    return noisy, (level * jitter)[:, None, None, None]


#: Differences from the clean photo below this are invisible damage: neither right nor wrong.
VISIBLE = 0.06


def scan_damage(clean: torch.Tensor, rng: np.random.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clean (N,1,H,W) crops aged as ``age --realistic`` ages a scan, each with its own mix:
    grain 4-25 levels of 255 (film grain, or in a third of the crops white scanner noise
    over the dust), blur, fading, JPEG, and dust and scratches in varying number (none in
    a quarter of the crops, so that grain and texture alone teach "no damage").
    Returns the damaged crops, the true damage mask and a per-pixel loss weight that is 0
    where the damage left the pixel as it was (a dark speck on a dark patch)."""
    damaged = np.empty(clean.shape, np.float32)
    truth = np.zeros(clean.shape, np.float32)
    for index, crop in enumerate(clean[:, 0].numpy()):
        damaged[index, 0], truth[index, 0], _ = scan_aged(crop, rng)
    damaged_t, truth_t = torch.from_numpy(damaged), torch.from_numpy(truth)
    weight = 1.0 - truth_t * ((damaged_t - clean).abs() < VISIBLE).float()
    return damaged_t, truth_t, weight


def scan_aged(crop: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """One grey crop aged with its own random mix (see :func:`scan_damage`): the aged crop,
    its true damage mask, and the std of its grain (film grain or white scanner noise)."""
    from oldphoto.aging import Damage, apply_damage

    marked = rng.random() >= 0.25
    grain = float(rng.uniform(4.0, 25.0)) / 255.0
    white = rng.random() < 1 / 3
    mix = Damage(grain=0.0 if white else grain,
                 dust=float(rng.uniform(0.0005, 0.008)) if marked else 0.0,
                 scratches=int(rng.integers(1, 4)) if marked and rng.random() < 0.7 else 0,
                 fade=float(rng.uniform(0.0, 0.3)), blur=float(rng.uniform(0.0, 1.0)),
                 jpeg_quality=int(rng.integers(70, 96)) if rng.random() < 0.5 else 0)
    aged, mask = apply_damage(crop, mix, rng)
    if white:
        aged = aged + rng.normal(0.0, grain, crop.shape).astype(np.float32)
    return aged, mask, grain
