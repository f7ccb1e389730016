"""Is this photo grey, toned (sepia, cyanotype) or already in colour?

A colouriser keeps only L* and invents a*b*, so a photo that already
carries real colour would lose it. Toned prints are different: their colour
is one hue laid over a grey picture (sepia browns, cyanotype blues), and
colourising them from L* is what the user wants. The two are told apart in
a*b*: a toned print's colour lies along a single direction from grey, while
a colour photo's spreads across hues. :func:`colour_kind` measures that
spread perpendicular to the photo's mean hue.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Kind = Literal["grey", "toned", "colour"]

#: Below this mean |a*b*| a photo is grey (JPEG noise on a grey scan stays under it).
GREY_CHROMA = 3.0
#: Bands of L* within which a toned print has one colour.
TONE_BANDS = 24
#: Spread of a*b* within bands of equal L* (rms, a*b* units) above which a photo is in colour.
COLOUR_SPREAD = 4.5
#: Degrees of hue between bands of L* beyond which no toning explains the colour.
TONE_HUE_RANGE = 30.0
#: Photos are judged on a copy at most this many pixels on the long side.
JUDGE_SIDE = 256


def _lab_sample(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    step = max(1, int(np.ceil(max(rgb.shape[:2]) / JUDGE_SIDE)))
    return rgb2lab(np.clip(np.asarray(rgb, np.float32)[::step, ::step, :3], 0.0, 1.0)).reshape(-1, 3)


def colour_measures(rgb: np.ndarray) -> dict[str, float]:
    """Mean chroma, and the a*b* left once the colour of each L* band is removed (RGB in [0, 1]).

    Only mid-tone pixels count (L* 8-92): clipped shadows and highlights carry
    no reliable colour in a scan.
    """
    if rgb.ndim == 2 or rgb.shape[2] == 1:
        return {"chroma": 0.0, "tone_residual": 0.0, "hue_range": 0.0}
    lab = _lab_sample(rgb)
    lab = lab[(lab[:, 0] > 8) & (lab[:, 0] < 92)]
    if len(lab) == 0:
        return {"chroma": 0.0, "tone_residual": 0.0, "hue_range": 0.0}
    ab = lab[:, 1:]
    chroma = float(np.hypot(ab[:, 0], ab[:, 1]).mean())
    # the colour a toning gives depends on the density (L*) only: remove that, keep the rest
    band = np.clip((lab[:, 0] - 8) / 84 * TONE_BANDS, 0, TONE_BANDS - 1).astype(np.int64)
    counts = np.bincount(band, minlength=TONE_BANDS).clip(min=1)[:, None]
    band_mean = np.stack([np.bincount(band, ab[:, i], TONE_BANDS) for i in (0, 1)], axis=1) / counts
    cross = float(np.sqrt(((ab - band_mean[band]) ** 2).sum(axis=1).mean()))
    hue_range = _band_hue_range(band_mean, counts[:, 0], len(lab))
    return {"chroma": round(chroma, 3), "tone_residual": round(cross, 3), "hue_range": round(hue_range, 1)}


def _band_hue_range(band_mean: np.ndarray, counts: np.ndarray, total: int) -> float:
    """Degrees between the most distant hues of the bands' mean colours (toning drifts little)."""
    chroma = np.hypot(band_mean[:, 0], band_mean[:, 1])
    used = (counts > 0.01 * total) & (chroma > GREY_CHROMA)
    if used.sum() < 2:
        return 0.0
    weighted = (band_mean[used] * counts[used, None]).sum(axis=0)
    reference = np.arctan2(weighted[1], weighted[0])
    offsets = (np.arctan2(band_mean[used, 1], band_mean[used, 0]) - reference + np.pi) % (2 * np.pi) - np.pi
    return float(np.degrees(offsets.max() - offsets.min()))


def colour_kind(rgb: np.ndarray, *, grey_chroma: float = GREY_CHROMA,
                colour_spread: float = COLOUR_SPREAD) -> Kind:
    """``"grey"``, ``"toned"`` (one hue over grey) or ``"colour"`` (real colours to keep).

    Examples
    --------
    >>> import numpy as np
    >>> colour_kind(np.full((8, 8, 3), 0.5))
    'grey'
    """
    measures = colour_measures(rgb)
    if measures["chroma"] < grey_chroma:
        return "grey"
    varied = measures["tone_residual"] >= colour_spread or measures["hue_range"] >= TONE_HUE_RANGE
    return "colour" if varied else "toned"


def tone(grey: np.ndarray, hue_degrees: float = 70.0, chroma: float = 22.0) -> np.ndarray:
    """Tone a grey image (H, W) in [0, 1] like a print: one hue, strongest in the mid-tones.

    Sepia is about 70 degrees (a*b* hue), cyanotype about 250. Used by the
    bench and the tests to make toned photos with known answers.
    """
    from skimage.color import lab2rgb, rgb2lab

    grey = np.clip(np.asarray(grey, np.float64), 0.0, 1.0)
    lightness = rgb2lab(np.repeat(grey[..., None], 3, axis=2))[..., 0]
    strength = chroma * np.sin(np.pi * np.clip(lightness / 100.0, 0.0, 1.0))
    angle = np.radians(hue_degrees)
    lab = np.stack([lightness, strength * np.cos(angle), strength * np.sin(angle)], axis=-1)
    return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32)
