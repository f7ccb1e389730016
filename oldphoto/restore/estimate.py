"""Blind estimate of a scan's noise level: the std of grain and noise, on [0, 1].

Two readings are combined. The classical one (:func:`block_noise`): the image
is cut into 8x8 blocks; each block's variance around its best-fitting plane is
noise plus texture, so the flattest blocks tell the noise. A low quantile of the
block variances, divided by the same quantile of the chi-square law that pure
noise would give, estimates the noise variance. Unlike the wavelet (finest-band
MAD) estimate, it sees correlated grain at its full strength, which is what the
denoiser is told. Blocks touching black or white are left out: clipping hides
noise there. It cannot tell fine texture from grain, so a clean photo with no
flat area reads as grainy. The learned one (:mod:`oldphoto.restore.level_net`)
was trained to tell them apart. The picture's level is the smaller of the
two: on texture the blocks over-read and the network does not; under plain
Gaussian noise the blocks read 5-10% high and the network a little low, so
the smaller is the closer there too (docs/restore.md). Beyond the noise the
network was trained on, the blocks' reading stands.
"""

from __future__ import annotations

import numpy as np

BLOCK, QUANTILE = 8, 0.03
#: At most this many blocks down and across are used (160 x 160 = 25,600 blocks).
MAX_SIDE = 160
#: From this classical reading on, the noise is past what the learned estimator was trained
#: on (std up to 55/255): its reading levels off near 54 and then falls (49 under noise of
#: 75, 38 under 100), so the classical reading stands. No texture reads this high.
LEARNED_RANGE = 45.0 / 255.0


def _plane_residual_variance(blocks: np.ndarray) -> np.ndarray:
    """Variance of each (N, B, B) block around its least-squares plane (3 dof removed)."""
    size = blocks.shape[1]
    axis = np.arange(size, dtype=np.float32) - (size - 1) / 2
    ys, xs = np.meshgrid(axis, axis, indexing="ij")
    flat = blocks.reshape(len(blocks), -1)
    centred = flat - flat.mean(1, keepdims=True)
    residual = centred
    for basis in (ys.ravel(), xs.ravel()):  # orthogonal on the centred grid
        residual = residual - np.outer(centred @ basis / (basis @ basis), basis)
    return (residual**2).sum(1) / (size * size - 3)


def estimate_noise(grey: np.ndarray) -> float:
    """Noise std of a grey float image on [0, 1] (0.0 for one too small to tell): the
    smaller of the classical reading and the learned one (where its weights are shipped),
    within the learned one's range (LEARNED_RANGE)."""
    from oldphoto.restore.level_net import learned_noise, level_net

    classical = block_noise(grey)
    estimator = level_net()
    if estimator is None or not 0.0 < classical < LEARNED_RANGE:
        return classical
    learned = learned_noise(grey, *estimator)
    return classical if learned is None else min(classical, learned)


def chroma_noise(pixels: np.ndarray, luma: np.ndarray | None = None) -> float:
    """Noise std in a colour picture's chroma (each channel minus the luma, given or
    computed; the largest of the three classical readings; 0.0 for a grey picture). A clean
    photo's chroma is mostly smooth (at most 2.4/255 on 163 clean CBSD68 and scenes/val
    photos, though a vivid fine pattern reads 3.7), while a noisy colour scan carries noise
    there too (3.6/255 and up under channel noise of 5/255, unless JPEG's chroma
    subsampling has smoothed it): a hint the luma's reading cannot give."""
    pixels = np.asarray(pixels, np.float32)
    if pixels.ndim == 2:
        return 0.0
    if luma is None:
        from oldphoto.aging import to_grey

        luma = to_grey(pixels)
    # centred on mid-grey, so block_noise's clipping guard keeps the blocks
    return max(block_noise(pixels[..., c] - luma + 0.5) for c in range(3))


def block_noise(grey: np.ndarray) -> float:
    """The classical reading: noise std from the flattest 8x8 blocks (0.0 when too small)."""
    from scipy.stats import chi2

    grey = np.asarray(grey, np.float32)
    rows, cols = grey.shape[0] // BLOCK, grey.shape[1] // BLOCK
    if rows * cols < 16:
        return 0.0
    # a big scan: a spread of block rows and columns tells as much as every block
    step_r, step_c = max(1, rows // MAX_SIDE), max(1, cols // MAX_SIDE)
    tiles = grey[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK)
    blocks = np.ascontiguousarray(tiles[::step_r, :, ::step_c].swapaxes(1, 2)).reshape(-1, BLOCK, BLOCK)
    lo, hi = blocks.min((1, 2)), blocks.max((1, 2))
    usable = (lo > 0.02) & (hi < 0.98)
    if usable.sum() < 16:
        usable = np.ones(len(blocks), bool)
    variances = _plane_residual_variance(blocks[usable])
    dof = BLOCK * BLOCK - 3
    scale = chi2.ppf(QUANTILE, dof) / dof
    return float(np.sqrt(max(np.quantile(variances, QUANTILE), 0.0) / scale))
