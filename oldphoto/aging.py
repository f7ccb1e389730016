"""Numeric damage models behind ``oldphoto age``: each takes and returns float32 in [0, 1].

Every function takes a ``numpy.random.Generator`` so a whole run is reproducible
from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, as the paper's 'grayscale' (same weights as scikit-image)."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32, copy=True)
    weights = np.array([0.2125, 0.7154, 0.0721], np.float32)
    return np.clip(pixels[..., :3] @ weights, 0.0, 1.0).astype(np.float32)


def salt_and_pepper(
    image: np.ndarray,
    density: float,
    rng: np.random.Generator,
    salt_vs_pepper: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Set a ``density`` fraction of pixels to pure white (salt) or black (pepper).

    Returns the noisy image and the boolean mask of corrupted pixels. For
    colour input the same pixel is hit in every channel, as a speck of dust
    would be.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    height, width = image.shape[:2]
    mask = rng.random((height, width)) < density
    salt = rng.random((height, width)) < salt_vs_pepper
    noisy = image.astype(np.float32, copy=True)
    values = np.where(salt, 1.0, 0.0).astype(np.float32)
    if noisy.ndim == 3:
        noisy[mask] = values[mask][:, None]
    else:
        noisy[mask] = values[mask]
    return noisy, mask


@dataclass(frozen=True)
class Damage:
    """How old a photo should look. Zero turns an effect off.

    ``density`` and ``salt_vs_pepper`` are the paper's salt-and-pepper noise;
    the rest are the damage real prints and scans show.
    """

    density: float = 0.0
    salt_vs_pepper: float = 0.5
    grain: float = 0.0  # std of film grain, on [0, 1]
    dust: float = 0.0  # fraction of pixels covered by 1-3 px specks
    scratches: int = 0  # number of thin scratches
    fade: float = 0.0  # 0..1: lifted blacks, dimmed whites
    sepia: float = 0.0  # 0..1: brown toning (output becomes colour)
    blur: float = 0.0  # Gaussian sigma in pixels
    jpeg_quality: int = 0  # re-compress at this quality; 0 = off


#: The mix ``oldphoto age --realistic`` and ``bench --noise realistic`` use.
REALISTIC = Damage(grain=0.025, dust=0.002, scratches=4, fade=0.15, blur=0.6, jpeg_quality=85)


def apply_damage(
    image: np.ndarray, damage: Damage, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Age a photo: grey, then optical, chemical and mechanical damage, in that order.

    Returns the aged image and the mask of impulsive damage (salt-and-pepper,
    dust, scratches): the pixels a detector should find. Grain, blur and JPEG
    artefacts touch every pixel, so they are not in the mask.
    """
    grey = to_grey(image)
    height, width = grey.shape
    if damage.blur > 0:
        from scipy.ndimage import gaussian_filter

        grey = gaussian_filter(grey, damage.blur, mode="reflect")
    if damage.fade > 0:
        grey = damage.fade * 0.25 + grey * (1.0 - damage.fade * 0.45)
    if damage.grain > 0:
        from scipy.ndimage import gaussian_filter

        grey = grey + film_grain(grey, damage.grain, rng)
    grey = np.clip(grey, 0.0, 1.0).astype(np.float32)
    if damage.jpeg_quality > 0:
        grey = jpeg_roundtrip(grey, damage.jpeg_quality)
    mask = np.zeros((height, width), bool)
    if damage.dust > 0:
        grey, dust_mask = add_dust(grey, damage.dust, rng)
        mask |= dust_mask
    if damage.scratches > 0:
        grey, scratch_mask = add_scratches(grey, damage.scratches, rng)
        mask |= scratch_mask
    if damage.density > 0:
        grey, sp_mask = salt_and_pepper(grey, damage.density, rng, damage.salt_vs_pepper)
        mask |= sp_mask
    if damage.sepia > 0:
        return sepia_tone(grey, damage.sepia), mask
    return grey, mask


def film_grain(grey: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Grain of std ``strength``: slightly correlated (blur 0.5-0.9 px) and stronger in the
    mid-tones and highlights than in the shadows, as silver grain and scanner noise are."""
    from scipy.ndimage import gaussian_filter

    grain = gaussian_filter(rng.standard_normal(grey.shape).astype(np.float32),
                            float(rng.uniform(0.5, 0.9)))
    grain *= 0.6 + 0.8 * np.sqrt(np.clip(grey, 0.0, 1.0))
    return grain * (strength / max(float(grain.std()), 1e-6))


def realistic_at(strength: float) -> Damage:
    """The realistic preset with grain, dust and scratches scaled (1: the preset itself)."""
    return replace(REALISTIC, grain=REALISTIC.grain * strength, dust=REALISTIC.dust * strength,
                   scratches=max(1, round(REALISTIC.scratches * strength)))


def realistic_damage(
    image: np.ndarray, rng: np.random.Generator, density: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The realistic preset plus salt-and-pepper at ``density`` (for benches)."""
    return apply_damage(image, replace(REALISTIC, density=density), rng)


def jpeg_roundtrip(grey: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG, as a scan saved by an old camera would be (grey or RGB)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(grey * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), np.float32) / 255.0


#: Dust speck radii (pixels) and how often each occurs: many tiny specks, few big ones.
DUST_RADII = (0.5, 1.0, 1.5, 2.0, 3.0)
DUST_ODDS = (0.35, 0.3, 0.18, 0.12, 0.05)


def _disc(radius: float, stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of an ellipse of that radius, stretched across by ``stretch``."""
    reach = int(np.ceil(radius * max(stretch, 1.0)))
    dy, dx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    inside = (dy / max(radius, 0.5)) ** 2 + (dx / max(radius * stretch, 0.5)) ** 2 <= 1.0
    return dy[inside], dx[inside]


def add_dust(
    grey: np.ndarray, coverage: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Specks from 1 to 7 pixels across, round or oval, dark or light, rarely pure black or white.

    Sizes follow :data:`DUST_ODDS`; each size class is drawn at once (no per-pixel loop).
    """
    height, width = grey.shape
    mean_area = sum(o * max(1.0, np.pi * r * r) for r, o in zip(DUST_RADII, DUST_ODDS, strict=True))
    count = max(1, int(coverage * height * width / mean_area))
    mask = np.zeros((height, width), bool)
    values = np.zeros((height, width), np.float32)
    kinds = rng.choice(len(DUST_RADII), count, p=DUST_ODDS)
    for kind, radius in enumerate(DUST_RADII):  # five size classes, each vectorised
        picked = int(np.count_nonzero(kinds == kind))
        if not picked:
            continue
        dy, dx = _disc(radius, float(rng.uniform(0.7, 1.6)))
        rows = rng.integers(0, height, picked)[:, None] + dy[None]
        cols = rng.integers(0, width, picked)[:, None] + dx[None]
        dark = rng.random(picked) < 0.6
        shades = np.where(dark, rng.uniform(0.0, 0.2, picked), rng.uniform(0.8, 1.0, picked))
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        mask[rows[inside], cols[inside]] = True
        values[rows[inside], cols[inside]] = np.broadcast_to(shades[:, None], rows.shape)[inside]
    out = np.where(mask, values, grey).astype(np.float32)
    return out, mask


def _scratch_path(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centre-line pixels of one scratch: a long near-vertical line (as film scratched along
    its length) or, one time in three, a short curved hairline in any direction."""
    if rng.random() < 2 / 3:
        length = int(rng.integers(height // 4, height + 1))
        top = int(rng.integers(0, height - length + 1))
        rows = np.arange(top, top + length)
        start = rng.uniform(0, width)
        slope = rng.normal(0, 0.05)
        wobble = np.cumsum(rng.normal(0, 0.15, length))
        cols = np.rint(start + slope * (rows - top) + wobble)
        return rows, cols
    length = int(rng.integers(12, max(13, min(height, width) // 3)))
    angle = rng.uniform(0, np.pi) + np.cumsum(rng.normal(0, 0.04, length))  # gently curving
    rows = rng.uniform(0, height) + np.cumsum(np.sin(angle))
    cols = rng.uniform(0, width) + np.cumsum(np.cos(angle))
    return np.rint(rows), np.rint(cols)


def add_scratches(
    grey: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Thin lines, 1 px wide (one in five 2 px), long and near-vertical or short and curved,
    light or dark, their shade drifting along their length."""
    height, width = grey.shape
    mask = np.zeros((height, width), bool)
    values = np.zeros((height, width), np.float32)
    for _ in range(count):  # a handful of lines; each is drawn vectorised
        rows, cols = _scratch_path(height, width, rng)
        if rng.random() < 0.2:  # a wider scratch: the line and its right neighbour
            rows, cols = np.concatenate([rows, rows]), np.concatenate([cols, cols + 1])
        light = rng.random() < 0.7
        drift = np.cumsum(rng.normal(0, 0.01, len(rows)))
        shade = (np.clip(rng.uniform(0.85, 1.0) - np.abs(drift), 0.78, 1.0) if light
                 else np.clip(rng.uniform(0.0, 0.15) + np.abs(drift), 0.0, 0.22))
        keep = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        r, c = rows[keep].astype(int), cols[keep].astype(int)
        mask[r, c] = True
        values[r, c] = shade[keep]
    return np.where(mask, values, grey).astype(np.float32), mask


def sepia_tone(grey: np.ndarray, strength: float) -> np.ndarray:
    """Brown toning of a grey print, blended with the neutral grey by ``strength``."""
    tone = np.array([1.07, 0.74, 0.43], np.float32)
    toned = np.clip(grey[..., None] * tone / tone.max() * 1.1, 0.0, 1.0)
    neutral = np.repeat(grey[..., None], 3, axis=2)
    return (neutral * (1.0 - strength) + toned * strength).astype(np.float32)
