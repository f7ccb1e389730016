"""Differentiable sRGB <-> CIE L*a*b* (D65) in torch, so losses can be taken on RGB.

Tensors are channel-first: RGB in [0, 1] shaped (N, 3, H, W); Lab with L* in
[0, 100] and a*, b* roughly in [-110, 110]. Matches scikit-image to ~1e-3.
Outside the colour package so that :mod:`oldphoto.metrics` can score the grey
baseline without importing the package it serves.
"""

from __future__ import annotations

import torch

_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_EPS = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0

def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] -> Lab, channel-first."""
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_RGB_TO_XYZ, linear) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp_min(_EPS) ** (1.0 / 3.0), _KAPPA * xyz + 4.0 / 29.0)
    lightness = 116.0 * f[:, 1:2] - 16.0
    a = 500.0 * (f[:, 0:1] - f[:, 1:2])
    b = 200.0 * (f[:, 1:2] - f[:, 2:3])
    return torch.cat([lightness, a, b], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> sRGB clipped to [0, 1], channel-first; differentiable almost everywhere."""
    fy = (lab[:, 0:1] + 16.0) / 116.0
    fx = fy + lab[:, 1:2] / 500.0
    fz = fy - lab[:, 2:3] / 200.0
    f = torch.cat([fx, fy, fz], dim=1)
    xyz = torch.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA)
    xyz = xyz * _WHITE.to(lab).view(1, 3, 1, 1)
    linear = _mix(torch.linalg.inv(_RGB_TO_XYZ).to(lab), xyz).clamp(0.0, 1.0)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055, 12.92 * linear
    )
    return rgb.clamp(0.0, 1.0)


#: Rows converted at a time by :func:`photo_lightness` and :func:`photo_rgb`: bounded
#: temporaries on 12 MP scans, and chunks that stay in cache.
CHUNK_ROWS = 256


def photo_lightness(pixels: torch.Tensor) -> torch.Tensor:
    """L* (H, W) of a grey (H, W) or RGB (H, W, C) photo in [0, 1], channel-last, by row chunks.

    Only the luminance row of the sRGB matrix is needed for L*, so a full
    3-channel Lab copy of a large photo is never made.
    """
    out = torch.empty(pixels.shape[:2], dtype=torch.float32)
    y_row = _RGB_TO_XYZ[1]
    for top in range(0, pixels.shape[0], CHUNK_ROWS):
        part = pixels[top : top + CHUNK_ROWS].float().clamp(0.0, 1.0)
        linear = torch.where(part > 0.04045, ((part + 0.055) / 1.055) ** 2.4, part / 12.92)
        luminance = linear if linear.ndim == 2 else linear[..., :3] @ y_row
        f = torch.where(
            luminance > _EPS, luminance.clamp_min(_EPS) ** (1.0 / 3.0), _KAPPA * luminance + 4.0 / 29.0
        )
        out[top : top + CHUNK_ROWS] = 116.0 * f - 16.0
    return out


def photo_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """sRGB (H, W, 3) from L* (H, W) and a*b* (2, H, W), by row chunks (see :func:`photo_lightness`)."""
    out = torch.empty((*lightness.shape, 3), dtype=torch.float32)
    for top in range(0, lightness.shape[0], CHUNK_ROWS):
        rows = slice(top, top + CHUNK_ROWS)
        lab = torch.cat([lightness[None, None, rows], ab[None, :, rows]], dim=1)
        out[rows] = lab_to_rgb(lab)[0].permute(1, 2, 0)
    return out
