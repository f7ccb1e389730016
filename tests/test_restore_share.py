"""``restore --strength auto`` between 3 and 10 levels: part of the grain out, and the chroma
smoothed only where its own reading finds noise, so photos with fine texture stay intact."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from conftest import ROOT

from oldphoto.aging import to_grey
from oldphoto.codecs import read_image
from oldphoto.denoise.images import read_grey
from oldphoto.metrics import psnr
from oldphoto.restore.estimate import chroma_noise
from oldphoto.restore.pipeline import (
    DAMAGE_LEVEL,
    FULL_SHARE_LEVEL,
    GRAIN_SHARE_LOW,
    RestoreSettings,
    grain_share,
    restore,
)

PHOTOS = ROOT / "samples" / "photos"

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _noisy(pixels: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma / 255, pixels.shape)
    return np.clip(pixels + noise, 0, 1).astype(np.float32)


def test_the_share_rises_from_half_to_all_across_the_ambiguous_band() -> None:
    levels = np.linspace(DAMAGE_LEVEL, FULL_SHARE_LEVEL, 8)
    shares = [grain_share(level) for level in levels]
    assert shares[0] == GRAIN_SHARE_LOW and grain_share(FULL_SHARE_LEVEL) == 1.0
    assert all(a < b for a, b in pairwise(shares))
    assert grain_share(DAMAGE_LEVEL * 0.9) == 1.0  # a clean photo or a light scan: as before
    assert grain_share(DAMAGE_LEVEL, confirmed=True) == 1.0


def test_auto_takes_out_part_of_what_the_given_level_takes_out() -> None:
    """On faint grain, auto lands between the scan and the full clean-up at the same level;
    strong grain is removed in full."""
    camera = read_grey(PHOTOS / "camera.png")
    faint = _noisy(camera, 6.0)
    auto, info, _ = restore(faint, RestoreSettings(scratches=False))
    level = info["strength"] / 255.0
    full, full_info, _ = restore(faint, RestoreSettings(level=level, scratches=False))
    share = info["grain_removed"]
    assert GRAIN_SHARE_LOW < share < 1.0 and full_info["grain_removed"] == 1.0
    expected = np.clip(faint + np.float32(grain_share(level)) * (full - faint), 0, 1)
    assert np.abs(auto - expected).max() < 1e-5
    # still a clean-up: nearer the clean photo than the scan is
    assert psnr(auto, camera) > psnr(faint, camera) + 1.0
    _, strong_info, _ = restore(_noisy(camera, 20.0), RestoreSettings(scratches=False))
    assert strong_info["grain_removed"] == 1.0


def test_chroma_reading_tells_a_clean_colour_photo_from_a_noisy_one() -> None:
    coffee = read_image(PHOTOS / "coffee.png").pixels
    assert chroma_noise(coffee) * 255 < 2.0
    for sigma in (5.0, 10.0):
        reading = chroma_noise(_noisy(coffee, sigma)) * 255
        # blue minus luma, the noisiest of the three, carries 1.1 times a channel's noise
        assert 0.9 * sigma < reading < 1.35 * sigma
    assert chroma_noise(to_grey(coffee)) == 0.0


def test_a_colour_photo_keeps_its_chroma_and_a_noisy_scan_loses_its_chroma_noise() -> None:
    coffee = read_image(PHOTOS / "coffee.png").pixels
    out, info, found = restore(coffee)
    assert info["chroma_noise"] < 3.0
    keep = ~found
    chroma_in, chroma_out = (p - to_grey(p)[..., None] for p in (coffee, out))
    unclipped = keep & (out > 0.001).all(-1) & (out < 0.999).all(-1)
    assert np.abs(chroma_out - chroma_in)[unclipped].max() < 1e-4
    noisy = _noisy(coffee, 8.0)
    cleaned, noisy_info, _ = restore(noisy)
    assert noisy_info["chroma_noise"] >= 3.0 and noisy_info["grain_removed"] == 1.0
    truth = coffee - to_grey(coffee)[..., None]
    before = noisy - to_grey(noisy)[..., None]
    after = cleaned - to_grey(cleaned)[..., None]
    assert np.mean((after - truth) ** 2) < 0.5 * np.mean((before - truth) ** 2)


@pytest.mark.parametrize("name", ["BSD68/test036.png", "BSD68/test056.png",
                                  "CBSD68/196073.png", "CBSD68/291000.png"])
def test_sand_and_grass_read_as_faint_grain_stay_above_38_db(shared_dir, name: str) -> None:
    """The photos whose texture both estimators read as grain of 6-7 levels: smoothed in
    full they came out at 34.5-36.9 dB against themselves."""
    path = shared_dir / "data" / "denoise" / name
    photo = read_image(path).pixels if name.startswith("C") else read_grey(path)
    out, info, _ = restore(photo)
    assert DAMAGE_LEVEL * 255 < info["strength"] < FULL_SHARE_LEVEL * 255
    assert psnr(out, photo) >= 38.0


def test_denoise_grain_the_network_alone_takes_out_all_it_finds(tmp_path) -> None:
    """The share is restore's decision; the component filter removes the whole grain at the
    level it reads, as the bench's denoise-grain rows measure it."""
    import imageio.v3 as iio
    from conftest import invoke

    camera = read_grey(PHOTOS / "camera.png")
    scan = tmp_path / "scan.png"
    iio.imwrite(scan, (_noisy(camera, 6.0) * 255).round().astype(np.uint8))
    grainy = read_grey(scan)
    assert invoke("denoise-grain", str(scan), "-o", str(tmp_path / "out.png")).returncode == 0
    out = read_grey(tmp_path / "out.png")
    _, info, _ = restore(grainy, RestoreSettings(scratches=False))
    assert info["grain_removed"] < 1.0  # restore would keep part of it
    whole = restore(grainy, RestoreSettings(level=info["strength"] / 255.0, scratches=False,
                                            colour="channels"))[0]
    assert np.abs(out - whole).max() <= 1.0 / 255 + 1e-6


def test_a_vivid_patterned_photo_taken_for_clean_keeps_its_chroma(shared_dir) -> None:
    """McMaster 16's fine, saturated pattern reads 3.7 levels in the chroma, like channel
    noise of 5; its luma reads clean, so it is left alone (its chroma smoothed: 31.3 dB)."""
    photo = read_image(shared_dir / "data" / "denoise" / "McMaster" / "16.tif").pixels
    out, info, _ = restore(photo)
    assert info["chroma_noise"] >= 3.0 and info["clean_photo"]
    assert psnr(out, photo) >= 38.0
