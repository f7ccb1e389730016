"""``restore``: grain and noise out, dust and scratches filled, optionally levels fixed.

The order matters: the grain is removed first (at the blindly estimated level,
or the one asked for), because on a grainy scan a speck's edge is lost in the
grain; dust and scratches are then found on the denoised picture (by a small
network that sees the scan and its denoised copy) and filled from their
neighbours. Colour scans go through luma and chroma: the network
cleans the luma (where grain shows), the chroma is only smoothed, and only
when its own noise reading says it is noisy: film and scanners put little
detail there (measured against per-channel in docs/restore.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.restore.damage import damage_mask, fill_masked
from oldphoto.restore.damage_net import damage_probability, finder
from oldphoto.restore.estimate import chroma_noise, estimate_noise
from oldphoto.restore.guards import neutral_only, not_along_the_edge, not_in_a_row
from oldphoto.restore.infer import denoise_grey
from oldphoto.restore.model import GrainNet, cached_net

#: Below this level (std on [0, 1]) a picture counts as clean: the network is not run.
CLEAN_LEVEL = 1.0 / 255.0
#: From this estimated level on, a picture counts as a grainy scan (see damage_mask).
GRAINY_LEVEL = 2.0 / 255.0
#: Below this level a picture is taken for a clean photo (or a light scan), and ``restore``
#: fills only the dust and scratches the finder is sure of (CLEAN_PHOTO_THRESHOLD): at its
#: usual threshold, what the finder flags on clean photos is texture (snow on rock,
#: embroidery, twigs), which took 37 of BSD68 and Set12's 80 clean photos below 38 dB
#: against themselves. Scans damaged by ``age --realistic`` read 4 levels and more at
#: strength 1. ``detect --scratches`` finds damage at the usual threshold at any level.
DAMAGE_LEVEL = 3.0 / 255.0
#: On a picture read below DAMAGE_LEVEL, only what the finder is this sure of is filled
#: (told the grain is DAMAGE_LEVEL): the unmistakable dust and scratches of a light scan,
#: whose faint grain JPEG has made look like a clean photo's texture. On scenes/val light
#: scans (age --realistic x0.5) it gained 1.65 dB; with the edge guard below, no more of
#: 163 clean photos fell below 38 dB (benchmarks/restore_clean_photos.py).
CLEAN_PHOTO_THRESHOLD = 0.95
#: The chroma is smoothed only when its own noise reading (:func:`chroma_noise`) is this high
#: and the picture is not taken for a clean photo: a clean photo keeps its colour detail
#: (grass, blossom), a noisy colour scan is cleaned.
CHROMA_LEVEL = 3.0 / 255.0
#: Between DAMAGE_LEVEL and this estimated level, fine texture (sand, grass) and faint grain
#: read alike to both estimators, so ``--strength auto`` takes out only part of what the
#: network removes: GRAIN_SHARE_LOW of it at DAMAGE_LEVEL, rising to all of it here. Smoothed
#: in full, BSD68's sand and fence photos fell to 36.0 and 36.9 dB against themselves; with
#: the share, no clean photo of BSD68, CBSD68, Set12 or McMaster is below 38 dB, for 0.1 dB
#: on light scans (texture read above 10 levels is still smoothed: docs/restore.md). Below
#: DAMAGE_LEVEL the share is whole again: there the picture is taken for a clean photo or a
#: light scan, and grain that faint changes it little either way.
FULL_SHARE_LEVEL = 10.0 / 255.0
GRAIN_SHARE_LOW = 0.5


@dataclass(frozen=True)
class RestoreSettings:
    """What ``restore`` does; ``level`` None means estimate it (``--strength auto``)."""

    level: float | None = None
    scratches: bool = True
    levels: bool = False
    colour: str = "luma"
    weights: Path | None = None
    passes: int = 1
    #: Where the grain network and the dust finder run (a torch device: cpu, cuda).
    device: str = "cpu"
    #: With the level estimated, take out only part of a faint grain (:func:`grain_share`);
    #: ``denoise-grain``, the network alone, takes out all it finds.
    partial_grain: bool = True


def grain_model(weights: Path | None = None) -> GrainNet:
    """The grain network, read once per process (again if the file changes)."""
    return cached_net(GrainNet, weights)[0]


def denoise(grey: np.ndarray, level: float, weights: Path | None = None, passes: int = 1,
            device: str = "cpu") -> np.ndarray:
    """The network's output at ``level`` (averaged over ``passes`` flips and turns); the
    input itself when the level says clean."""
    if level < CLEAN_LEVEL:
        return np.asarray(grey, np.float32).copy()
    return denoise_grey(grain_model(weights), grey, level, passes=passes, device=device)


def auto_levels(pixels: np.ndarray, low: float = 0.002, high: float = 0.998) -> np.ndarray:
    """Stretch so the darkest 0.2% become black and the lightest 0.2% white (fading undone)."""
    grey = to_grey(pixels)
    black, white = np.quantile(grey, [low, high])
    if white - black < 0.05:
        return pixels
    return np.clip((pixels - black) / (white - black), 0.0, 1.0).astype(np.float32)


def restore(pixels: np.ndarray, settings: RestoreSettings = RestoreSettings()
            ) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """Restored pixels (same shape), what was decided (for the frame's meta: the level read and
    used, the share of the grain taken out, the chroma's noise reading, whether the picture
    was taken for a clean photo, the pixels filled), and the damage mask."""
    pixels = np.asarray(pixels, np.float32)
    luma = pixels if pixels.ndim == 2 else to_grey(pixels)
    estimated = estimate_noise(luma)
    level = estimated if settings.level is None else settings.level
    chroma_level = chroma_noise(pixels, luma)
    # a picture taken for a clean photo keeps its chroma as it keeps its luma: a vivid,
    # finely patterned one (McMaster 16) reads 3.7 there
    noisy_chroma = level >= DAMAGE_LEVEL and chroma_level >= CHROMA_LEVEL
    share = (grain_share(level, noisy_chroma)
             if settings.level is None and settings.partial_grain else 1.0)
    network = {"weights": settings.weights, "passes": settings.passes, "device": settings.device}
    if pixels.ndim == 2:
        clean_luma = denoise(pixels, level, **network)
        out = _partly(pixels, clean_luma, share)
    elif settings.colour == "channels":
        denoised = np.stack([denoise(pixels[..., c], level, **network) for c in range(3)], -1)
        clean_luma = to_grey(denoised)
        out = _partly(pixels, denoised, share)
    else:
        clean_luma = denoise(luma, level, **network)
        chroma = pixels - luma[..., None]
        if noisy_chroma:
            from scipy.ndimage import gaussian_filter

            chroma = gaussian_filter(chroma, (1.5, 1.5, 0), mode="mirror")
        out = _partly(luma, clean_luma, share)[..., None] + chroma
    mask = (neutral_only(find_damage(luma, clean_luma, level, device=settings.device), pixels)
            if settings.scratches else np.zeros(luma.shape, bool))
    if mask.any():
        out = (fill_masked(out, mask) if out.ndim == 2 else
               np.stack([fill_masked(out[..., c], mask) for c in range(3)], -1))
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    if settings.levels:
        out = auto_levels(out)
    info = {"noise_estimate": round(estimated * 255.0, 2), "strength": round(level * 255.0, 2),
            "grain_removed": round(share, 2), "chroma_noise": round(chroma_level * 255.0, 2),
            "clean_photo": level < DAMAGE_LEVEL, "damaged_pixels": int(mask.sum())}
    return out, info, mask


def grain_share(level: float, confirmed: bool = False) -> float:
    """How much of the grain the network finds ``--strength auto`` takes out at an estimated
    ``level``: all of it, but for a part between DAMAGE_LEVEL and FULL_SHARE_LEVEL where a
    clean photo's fine texture reads as grain; all of it there too when the scan is
    ``confirmed`` grainy (a colour picture with noise in its chroma)."""
    if confirmed or not DAMAGE_LEVEL <= level < FULL_SHARE_LEVEL:
        return 1.0
    rise = (level - DAMAGE_LEVEL) / (FULL_SHARE_LEVEL - DAMAGE_LEVEL)
    return GRAIN_SHARE_LOW + (1.0 - GRAIN_SHARE_LOW) * rise


def _partly(before: np.ndarray, after: np.ndarray, share: float) -> np.ndarray:
    """``before`` moved ``share`` of the way to ``after``."""
    return after if share >= 1.0 else before + np.float32(share) * (after - before)


def find_damage(luma: np.ndarray, clean_luma: np.ndarray, level: float,
                always: bool = False, device: str = "cpu") -> np.ndarray:
    """The dust and scratches ``restore`` fills, given a picture's luma, its denoised copy and
    its grain level (estimated, or given with --strength): what :func:`flagged_damage`
    flags, less the rows of short parallel lines (fence posts), which are left out at any
    level (:func:`~oldphoto.restore.guards.not_in_a_row`)."""
    return not_in_a_row(flagged_damage(luma, clean_luma, level, always, device))


def flagged_damage(luma: np.ndarray, clean_luma: np.ndarray, level: float,
                   always: bool = False, device: str = "cpu") -> np.ndarray:
    """The learned finder's mask, or the rules' (:func:`damage_mask`) without its weights.
    Below DAMAGE_LEVEL (a clean photo, or a light scan), unless ``always``: only what the
    finder is sure of (CLEAN_PHOTO_THRESHOLD) and not along the picture's edge, and
    nothing without the finder."""
    clean_photo = level < DAMAGE_LEVEL and not always
    learned = finder()
    if learned is None:
        if clean_photo:
            return np.zeros(np.shape(clean_luma), bool)
        return damage_mask(clean_luma, grainy=level >= GRAINY_LEVEL)
    model, threshold = learned
    if clean_photo:
        return not_along_the_edge(
            damage_probability(model, luma, clean_luma, DAMAGE_LEVEL, device=device) > CLEAN_PHOTO_THRESHOLD)
    return damage_probability(model, luma, clean_luma, level, device=device) > threshold


def scratch_mask(pixels: np.ndarray, weights: Path | None = None) -> np.ndarray:
    """Dust and scratches as ``restore`` finds them (at any grain level): on the luma, with
    the grain removed; on a colour picture, only the neutral ones."""
    pixels = np.asarray(pixels, np.float32)
    luma = pixels if pixels.ndim == 2 else to_grey(pixels)
    level = estimate_noise(luma)
    return neutral_only(find_damage(luma, denoise(luma, level, weights), level, always=True), pixels)
