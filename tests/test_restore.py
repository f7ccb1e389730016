"""``restore`` and ``denoise-grain``: blind level, clean photos kept, damage found and beaten."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, invoke

from oldphoto.aging import apply_damage, realistic_at
from oldphoto.denoise.detect import precision_recall
from oldphoto.denoise.images import read_grey
from oldphoto.metrics import psnr
from oldphoto.restore.estimate import block_noise, estimate_noise
from oldphoto.restore.pipeline import RestoreSettings, restore

CAMERA = ROOT / "samples" / "photos" / "camera.png"

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return read_grey(CAMERA)


@pytest.mark.parametrize("sigma", [10.0, 25.0, 50.0, 75.0, 100.0])
def test_noise_estimate_tracks_a_known_sigma(camera: np.ndarray, sigma: float) -> None:
    """Within 15%, also past the noise the learned estimator was trained on (55), where its
    reading levels off and falls (38 under noise of 100) and the blocks' must stand."""
    noisy = camera + np.random.default_rng(1).normal(0, sigma / 255, camera.shape).astype(np.float32)
    assert abs(estimate_noise(noisy) * 255 - sigma) < 0.15 * sigma


def test_a_clean_photo_comes_out_nearly_the_same(camera: np.ndarray) -> None:
    out, info, _ = restore(camera)
    assert psnr(out, camera) >= 38.0
    assert info["noise_estimate"] < 3.0


@pytest.fixture(scope="module")
def textures() -> dict[str, np.ndarray]:
    """Two clean photos with no flat area, shipped with scikit-image (no download)."""
    from skimage import data

    return {name: getattr(data, name)().astype(np.float32) / 255.0 for name in ("grass", "gravel")}


@pytest.mark.parametrize("name", ["grass", "gravel"])
def test_a_clean_textured_photo_is_not_taken_for_grain(textures: dict, name: str) -> None:
    """The classical reading takes the texture for grain of 10-14 levels, and restore used to
    smooth it; the learned estimator says clean: nothing is smoothed, and at most a few
    pixels the finder is sure of are filled."""
    photo = textures[name]
    assert block_noise(photo) * 255 > 8.0  # what restore went by before
    out, info, found = restore(photo)
    assert info["noise_estimate"] < 2.0 and found.mean() < 0.001
    assert np.array_equal(out[~found], photo[~found])
    assert psnr(out, photo) >= 38.0


@pytest.mark.parametrize("sigma", [10.0, 25.0])
@pytest.mark.parametrize("name", ["grass", "gravel"])
def test_grain_on_a_textured_photo_is_still_seen(textures: dict, name: str, sigma: float) -> None:
    """On a grainy textured photo the level is still at least the grain's strength, and
    closer to it than the blocks' reading, which counts the texture as grain too."""
    photo = textures[name]
    noisy = photo + np.random.default_rng(3).normal(0, sigma / 255, photo.shape).astype(np.float32)
    level = estimate_noise(noisy) * 255
    assert level >= 0.9 * sigma
    assert abs(level - sigma) < abs(block_noise(noisy) * 255 - sigma)


def test_restore_names_the_pictures_it_took_for_clean_photos(tmp_path: Path, textures: dict) -> None:
    """A light scan read as clean keeps its dust: the run says which pictures were read so, and
    --strength makes restore treat them as scans."""
    import imageio.v3 as iio

    grass = tmp_path / "grass.png"
    iio.imwrite(grass, np.rint(textures["grass"] * 255).astype(np.uint8))
    aged = tmp_path / "aged.png"
    noisy, _ = apply_damage(read_grey(CAMERA), realistic_at(1.0), np.random.default_rng(6))
    iio.imwrite(aged, np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8))
    result = invoke("restore", str(grass), str(aged), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    said = result.stderr.decode()
    assert "took 1 of 2 pictures for clean photos" in said and "grass.png" in said
    assert "aged.png" not in said.split("took")[1].split("\n")[0]
    forced = invoke("restore", "--strength", "5", str(grass), "-o", str(tmp_path / "forced.png"))
    assert forced.returncode == 0 and "clean photos" not in forced.stderr.decode()


def test_on_a_grainless_photo_only_what_the_finder_is_sure_of_is_filled() -> None:
    """A clean photo with sharp dark dots and a thin light line: the rules flag the dots and
    the line, and on a grainy scan restore fills what the finder flags at 0.3. Read as a clean
    photo (or a light scan), only what the finder is sure of (0.95) may be filled, and nothing
    else in the picture changes."""
    from scipy.ndimage import binary_dilation

    from oldphoto.restore.damage import damage_mask
    from oldphoto.restore.damage_net import damage_probability, finder
    from oldphoto.restore.pipeline import CLEAN_PHOTO_THRESHOLD, DAMAGE_LEVEL

    rng = np.random.default_rng(2)
    photo = np.tile(np.linspace(0.35, 0.65, 256, dtype=np.float32), (256, 1))
    rows, cols = rng.integers(8, 248, (2, 60))
    photo[rows, cols] = 0.03  # dark dots, one pixel each
    photo[40:200, 120] = 0.97  # a thin light line
    marks = np.zeros(photo.shape, bool)
    marks[rows, cols] = True
    marks[40:200, 120] = True
    assert damage_mask(photo, grainy=False).any()
    out, info, found = restore(photo)
    assert info["strength"] < DAMAGE_LEVEL * 255
    sure = damage_probability(finder()[0], photo, photo, DAMAGE_LEVEL) > CLEAN_PHOTO_THRESHOLD
    assert np.array_equal(found, sure & found) and found.sum() == info["damaged_pixels"]
    assert not (found & ~binary_dilation(marks, iterations=1)).any()  # never the gradient
    assert np.array_equal(out[~found], photo[~found])


def test_a_light_scan_read_as_clean_still_loses_its_dust_and_scratches(camera: np.ndarray) -> None:
    """age --realistic at half strength: its faint grain, after JPEG, reads as a clean photo's;
    the dust and scratches the finder is sure of are filled all the same."""
    aged, truth = apply_damage(camera, realistic_at(0.5), np.random.default_rng(0))
    out, info, found = restore(aged)
    assert info["strength"] < 3.0  # taken for a clean photo
    precision, recall = precision_recall(found, truth, changed=np.abs(aged - camera) > 0.15)
    assert precision > 0.95 and recall > 0.75, (precision, recall)
    assert psnr(out, camera) > psnr(aged, camera) + 2.0


def test_a_clean_photo_keeps_its_frame_line() -> None:
    """A one-pixel dark frame round a clean photo looks like four scratches to the finder;
    lying along the edge, it is the frame, and stays."""
    photo = np.tile(np.linspace(0.35, 0.65, 200, dtype=np.float32), (160, 1))
    photo[[0, -1], :] = photo[:, [0, -1]] = 0.02
    out, info, found = restore(photo)
    assert not found.any()
    assert info["damaged_pixels"] == 0 and np.array_equal(out, photo)


def _median_nlm(noisy: np.ndarray) -> np.ndarray:
    from oldphoto.bench.restore import _median_nlm

    return _median_nlm(noisy, estimate_noise(noisy))


def test_restore_beats_median_and_nlm_on_realistic_damage(camera: np.ndarray) -> None:
    clean = camera[96:352, 96:352]
    aged, _ = apply_damage(clean, realistic_at(2.0), np.random.default_rng(4))
    ours = psnr(restore(aged)[0], clean)
    baseline = psnr(_median_nlm(aged), clean)
    assert ours > baseline + 0.5, (ours, baseline)


def test_dust_and_scratch_mask_matches_the_true_mask(camera: np.ndarray) -> None:
    """restore's finder against the true mask, and against the rules it replaced, in one run:
    it must find far more of the damage and give a better picture once filled."""
    from oldphoto.restore.damage import damage_mask, fill_masked
    from oldphoto.restore.pipeline import denoise

    aged, truth = apply_damage(camera, realistic_at(2.0), np.random.default_rng(5))
    restored, info, found = restore(aged)
    changed = np.abs(aged - camera) > 0.15
    precision, recall = precision_recall(found, truth, changed=changed)
    assert precision > 0.7 and recall > 0.85, (precision, recall)
    denoised = denoise(aged, info["noise_estimate"] / 255.0)
    rules = damage_mask(denoised, grainy=True)
    _, rules_recall = precision_recall(rules, truth, changed=changed)
    assert recall > rules_recall + 0.2, (recall, rules_recall)
    with_rules = psnr(np.clip(fill_masked(denoised, rules), 0, 1), camera)
    assert psnr(restored, camera) > with_rules + 0.3, (psnr(restored, camera), with_rules)


def test_detect_scratches_flags_what_restore_fills(camera: np.ndarray) -> None:
    from oldphoto.filters.detect import DetectFilter
    from oldphoto.frame import NOISE_MASK, Frame

    aged, truth = apply_damage(camera[:256, :256], realistic_at(2.0), np.random.default_rng(9))
    detect = DetectFilter(scratches=True)
    detect.setup()
    flagged = detect.process_frame(Frame(aged)).planes[NOISE_MASK]
    _, _, filled = restore(aged)
    assert filled.any() and not (filled & ~flagged).any()
    _, recall = precision_recall(flagged, truth, changed=np.abs(aged - camera[:256, :256]) > 0.15)
    assert recall > 0.5, recall


def test_without_finder_weights_restore_falls_back_to_the_rules(
        camera: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from oldphoto.restore import pipeline
    from oldphoto.restore.damage import damage_mask

    aged, _ = apply_damage(camera[:256, :256], realistic_at(2.0), np.random.default_rng(8))
    monkeypatch.setattr(pipeline, "finder", lambda: None)
    _, info, found = restore(aged)
    level = info["noise_estimate"] / 255.0
    assert found.any()
    assert np.array_equal(found, damage_mask(pipeline.denoise(aged, level), grainy=True))


def test_finder_checkpoints_load_strictly_and_fail_in_one_line(tmp_path: Path) -> None:
    import torch

    from oldphoto.errors import OldphotoError
    from oldphoto.restore.damage_net import DamageNet
    from oldphoto.restore.model import GrainArch, load_net, save_net

    path = tmp_path / "finder.pth"
    model = DamageNet(GrainArch(fine=8, coarse=8, body=1))
    save_net(path, model, {"threshold": 0.4})
    loaded, record = load_net(DamageNet, path)
    assert record["threshold"] == 0.4
    scan = torch.rand(1, 1, 32, 32)
    level = torch.full((1, 1, 1, 1), 0.05)
    assert torch.allclose(loaded(scan, scan, level), model.eval()(scan, scan, level))
    payload = torch.load(path, weights_only=True)
    payload["state"]["head.0.weightx"] = payload["state"].pop("head.0.weight")
    torch.save(payload, path)
    with pytest.raises(OldphotoError, match="malformed damage finder checkpoint"):
        load_net(DamageNet, path)
    grain = tmp_path / "grain.pth"
    from oldphoto.restore.model import GrainNet

    save_net(grain, GrainNet(GrainArch(fine=8, coarse=8, body=1)), {})
    with pytest.raises(OldphotoError, match="not an oldphoto damage finder checkpoint"):
        load_net(DamageNet, grain)


def test_no_scratches_only_denoises_and_strength_is_recorded(camera: np.ndarray) -> None:
    aged, _ = apply_damage(camera[:128, :128], realistic_at(1.0), np.random.default_rng(6))
    _, info, mask = restore(aged, RestoreSettings(scratches=False, level=12 / 255))
    assert not mask.any() and info["strength"] == 12.0


def test_restore_filter_handles_colour_and_records_meta(photo: Path) -> None:
    from test_age import frames_of

    result = invoke("restore", "--levels", str(photo))
    assert result.returncode == 0, result.stderr
    (frame,) = frames_of(result.stdout)
    assert frame.pixels.ndim == 3
    assert set(frame.meta["restore"]) >= {"noise_estimate", "strength"}


@pytest.mark.parametrize("args, message", [
    (("--strength", "soft"), "neither auto nor a number"),
    (("--strength", "300"), "must lie in"),
    (("--weights", "README.md"), "not a readable grain denoiser checkpoint"),
])
def test_bad_options_are_one_line_errors(photo: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke("restore", *args, str(photo))
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def _tiny_folder(folder: Path) -> Path:
    import imageio.v3 as iio

    folder.mkdir()
    grey = np.rint(read_grey(CAMERA) * 255).astype(np.uint8)
    for index in range(3):
        iio.imwrite(folder / f"{index}.png", grey[index * 128:index * 128 + 160, :160])
    return folder


def test_tiny_training_writes_a_loadable_checkpoint_and_resumes(tmp_path: Path) -> None:
    from oldphoto.restore.model import load_grain

    data = _tiny_folder(tmp_path / "data")
    out = tmp_path / "grain.pt"
    common = ("train", "denoise-grain", "-o", str(out), "--data", str(data), "--check", str(data),
              "--fine", "8", "--coarse", "8", "--body", "1", "--batch-size", "2", "--crop", "32",
              "--save-every", "2", "--no-progress")
    result = invoke(*common, "--steps", "2")
    assert result.returncode == 0, result.stderr
    model, record = load_grain(out)
    assert record["steps"] == 2 and model.arch.fine == 8
    assert Path(str(out) + ".state").is_file()
    result = invoke(*common, "--steps", "4", "--resume", str(out))
    assert result.returncode == 0, result.stderr
    _, record = load_grain(out)
    assert record["steps"] == 4 and len(record["history"]) == 2
    assert " ; " in record["command"]  # both commands are recorded


def test_tiny_finder_training_writes_a_loadable_checkpoint_with_its_threshold(tmp_path: Path) -> None:
    from oldphoto.restore.damage_net import FINDER_ARCH, DamageNet
    from oldphoto.restore.finder_training import THRESHOLDS
    from oldphoto.restore.model import load_net

    data = _tiny_folder(tmp_path / "data")
    out = tmp_path / "finder.pth"
    result = invoke("train", "damage-finder", "-o", str(out), "--data", str(data), "--check", str(data),
                    "--steps", "2", "--batch-size", "2", "--crop", "32", "--save-every", "2",
                    "--calibrate-on", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    model, record = load_net(DamageNet, out)
    assert model.arch == FINDER_ARCH
    assert record["steps"] == 2 and record["threshold"] in THRESHOLDS
    assert set(record["validation"]) == {"precision", "recall"}
    sweep = record["calibration"]["sweep"]
    assert {"realistic x1", "grain only x1"} <= set(sweep)
    assert all(len(row) == len(THRESHOLDS) for row in sweep.values())


def test_tiny_level_training_writes_a_loadable_checkpoint_that_reads_pictures(tmp_path: Path) -> None:
    from oldphoto.restore.level_net import LEVEL_ARCH, LevelNet, learned_noise
    from oldphoto.restore.model import load_net

    data = _tiny_folder(tmp_path / "data")
    out = tmp_path / "level.pth"
    result = invoke("train", "noise-level", "-o", str(out), "--data", str(data), "--check", str(data),
                    "--steps", "2", "--batch-size", "3", "--save-every", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    model, record = load_net(LevelNet, out)
    assert model.arch == LEVEL_ARCH and record["steps"] == 2
    assert set(record["validation"]) == {"clean_reads", "grain_error"}
    reading = learned_noise(read_grey(CAMERA), model)
    assert reading is not None and np.isfinite(reading) and reading >= 0.0


def test_level_training_targets_are_the_grain_that_was_added() -> None:
    """Clean crops must read 0, noised ones the std added, aged ones their grain's std
    (not their dust and scratches, nor their fading)."""
    import torch

    from oldphoto.restore.level_training import level_batch

    rng = np.random.default_rng(0)
    clean = torch.from_numpy(np.stack([read_grey(CAMERA)[r:r + 64, 64:128] for r in range(0, 384, 32)]))
    images, target = level_batch(clean[:, None], rng)
    level = torch.expm1(target) / 255.0
    untouched = (images == clean[:, None]).flatten(1).all(1)
    assert untouched.any() and (level[untouched] == 0).all()
    grainy = level > 0
    added = (images - clean[:, None]).flatten(1).std(1)
    noised = grainy & torch.isclose(level, added, rtol=1e-4)
    aged = grainy & ~noised  # their fading and dust change more than the grain they read
    assert noised.any() and aged.any()
    assert ((level[aged] >= 4 / 255 - 1e-6) & (level[aged] <= 25 / 255 + 1e-6)).all()


@pytest.mark.parametrize("kind, trainer", [("GrainNet", "denoise-grain"),
                                           ("DamageNet", "damage-finder"), ("LevelNet", "noise-level")])
def test_each_shipped_restore_network_records_how_it_was_trained(kind: str, trainer: str) -> None:
    from oldphoto.restore import damage_net, level_net, model

    network = {"GrainNet": model.GrainNet, "DamageNet": damage_net.DamageNet,
               "LevelNet": level_net.LevelNet}[kind]
    _, record = model.load_net(network)
    assert record["command"].split(" ; ")[-1].startswith(f"oldphoto train {trainer}")
    assert record["steps"] >= 1000 and record["seconds"] > 0 and record["validation"]
    assert "float16" in record["exported"]


def test_bench_restore_runs_on_a_tiny_set(tmp_path: Path) -> None:
    _tiny_folder(tmp_path / "tiny")
    result = invoke("bench", "restore", "--data", str(tmp_path), "--sets", "tiny", "--sigmas", "25",
                    "--strengths", "1", "--realistic-on", "tiny", "--bm3d-on", "", "--limit", "1",
                    "--json", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    import json

    table = json.loads((tmp_path / "b.json").read_text())["sets"]["tiny"]["table"]
    assert set(table) == {"sigma 25", "realistic x1"}
    assert {"median + NLM", "restore", "total variation"} <= set(table["sigma 25"])
    for row in ("denoise-grain, sigma given", "denoise-grain --thorough",
                "denoise-grain --thorough, sigma given"):
        assert row in table["sigma 25"] and row not in table["realistic x1"]  # Gaussian only


def test_thorough_averages_the_eight_flips_and_turns_and_beats_one_pass(camera: np.ndarray) -> None:
    """--thorough is the plain mean of the network on the 8 flipped and turned copies, and
    on a noisy photo that mean is closer to the truth than one pass."""
    from oldphoto.restore.infer import denoise_grey
    from oldphoto.restore.pipeline import grain_model

    net = grain_model()
    clean = camera[100:292, 180:372]
    noisy = clean + np.random.default_rng(4).normal(0, 25 / 255, clean.shape).astype(np.float32)
    level = 25 / 255
    copies = []
    for quarter_turns in range(4):
        for flip in (False, True):
            turned = np.rot90(noisy, quarter_turns)
            turned = turned[:, ::-1] if flip else turned
            out = denoise_grey(net, np.ascontiguousarray(turned), level)
            out = out[:, ::-1] if flip else out
            copies.append(np.rot90(out, -quarter_turns))
    thorough = denoise_grey(net, noisy, level, passes=8)
    np.testing.assert_allclose(thorough, np.mean(copies, 0), atol=1e-5)
    assert psnr(thorough, clean) > psnr(copies[0], clean) + 0.05
    with pytest.raises(ValueError):
        denoise_grey(net, noisy, level, passes=3)


def test_a_third_level_grows_onto_trained_weights_without_changing_them(tmp_path: Path) -> None:
    """train denoise-grain --init --deep N: the grown network first computes exactly what
    its source did, trains on, and records where it started; other widths are refused."""
    import torch

    from oldphoto.errors import OldphotoError
    from oldphoto.restore.model import GrainArch, GrainNet, load_grain, save_net
    from oldphoto.restore.training import grow_from

    torch.manual_seed(0)
    source = GrainNet(GrainArch(fine=8, coarse=8, body=2)).eval()
    save_net(tmp_path / "small.pth", source, {"command": "made here", "steps": 7})
    grown = GrainNet(GrainArch(fine=8, coarse=8, body=2, deep=2, deep_width=16)).eval()
    assert grow_from(grown, tmp_path / "small.pth")["steps"] == 7
    noisy, level = torch.rand(2, 1, 64, 64), torch.full((2, 1, 1, 1), 0.1)
    with torch.no_grad():
        assert torch.equal(grown(noisy, level), source(noisy, level))
    with pytest.raises(OldphotoError, match="do not fit"):
        grow_from(GrainNet(GrainArch(fine=16, coarse=8, body=2, deep=2)), tmp_path / "small.pth")

    data = _tiny_folder(tmp_path / "data")
    out = tmp_path / "grown.pth"
    result = invoke("train", "denoise-grain", "-o", str(out), "--data", str(data), "--check", str(data),
                    "--init", str(tmp_path / "small.pth"), "--fine", "8", "--coarse", "8", "--body", "2",
                    "--deep", "2", "--deep-width", "16", "--steps", "2", "--batch-size", "2",
                    "--crop", "32", "--save-every", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    model, record = load_grain(out)
    assert model.arch.deep == 2 and record["grown_from"]["command"] == "made here"
    assert not torch.equal(model.deep[-1].weight, torch.zeros_like(model.deep[-1].weight))


def test_vivid_specks_on_a_colour_picture_are_its_own_detail_not_dust() -> None:
    """Dust and scratches are neutral on a colour scan; a flagged speck of vivid colour
    (a printed dot) is left alone, in restore and in detect --scratches."""
    from oldphoto.restore.guards import neutral_only
    from oldphoto.restore.pipeline import scratch_mask

    rng = np.random.default_rng(5)
    picture = np.full((192, 192, 3), 0.25, np.float32)
    white, green = np.zeros((192, 192), bool), np.zeros((192, 192), bool)
    for index, (y, x) in enumerate(rng.integers(10, 182, (24, 2))):
        (white if index % 2 else green)[y - 1:y + 2, x - 1:x + 2] = True
    picture[white] = 1.0
    picture[green] = (0.2, 1.0, 0.2)
    assert np.array_equal(neutral_only(white | green, picture), white)
    assert np.array_equal(neutral_only(white | green, picture[..., 0]), white | green)  # grey: all

    noisy = np.clip(picture + rng.normal(0, 8 / 255, (192, 192, 1)), 0, 1).astype(np.float32)
    _, info, found = restore(noisy)
    assert info["noise_estimate"] >= 3  # grainy enough that restore looks for dust
    assert found[white].mean() > 0.8 and found[green].mean() < 0.05
    assert scratch_mask(noisy)[green].mean() < 0.05


def test_first_share_draws_that_share_of_crops_from_the_first_folder() -> None:
    """--first-share 0.5 with 10 images in the first folder and 90 in the second: about half
    the crops come from the first; 0 keeps every image alike."""
    from oldphoto.restore.training import crops, picking_chances

    chances = picking_chances([10, 90], 0.5)
    assert chances is not None and np.isclose(chances.sum(), 1.0)
    assert picking_chances([10, 90], 0.0) is None and picking_chances([10], 0.5) is None
    images = [np.full((8, 8), 0 if index < 10 else 255, np.uint8) for index in range(100)]
    drawn = crops(images, 2000, 8, np.random.default_rng(0), chances)
    share = float((drawn.flatten(1).mean(1) == 0).float().mean())
    assert abs(share - 0.5) < 0.04
    uniform = crops(images, 2000, 8, np.random.default_rng(0))
    assert abs(float((uniform.flatten(1).mean(1) == 0).float().mean()) - 0.1) < 0.03


def test_tiles_join_without_seams_and_the_edges_are_mirrored(camera: np.ndarray,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut into small tiles, a picture comes out as it does in one tile; and at its edges the
    network sees the picture mirrored (padding by repeating the edge row cost 0.2 dB at
    sigma 50 on BSD68's 481x321 photos): no worse than the network run on the whole picture."""
    import torch

    from oldphoto.restore import infer
    from oldphoto.restore.pipeline import grain_model

    net = grain_model()
    clean = camera[:296, :456]
    noisy = clean + np.random.default_rng(6).normal(0, 50 / 255, clean.shape).astype(np.float32)
    whole = infer.denoise_grey(net, noisy, 50 / 255, fast=False)
    monkeypatch.setattr(infer, "TILE", 192)
    tiled = infer.denoise_grey(net, noisy, 50 / 255, fast=False)
    assert np.abs(tiled - whole).max() < 1e-4
    with torch.no_grad():
        direct = net(torch.from_numpy(noisy)[None, None], torch.full((1, 1, 1, 1), 50 / 255))
    assert psnr(whole, clean) >= psnr(direct.clamp(0, 1)[0, 0].numpy(), clean) - 0.05


@pytest.mark.parametrize("name", ["restore", "denoise-grain"])
def test_the_grain_filters_run_on_the_device_asked_for(tmp_path: Path, name: str) -> None:
    """Their networks go to --device like the colourisers' (they used to stay on the CPU
    whatever was asked): where CUDA is absent, --device cuda is refused in one line and
    nothing is written; --device cpu gives the library's own pictures."""
    import torch

    import oldphoto

    out = tmp_path / "out.png"
    if not torch.cuda.is_available():
        refused = invoke(name, str(CAMERA), "--device", "cuda", "-o", str(out))
        assert refused.returncode == 2 and not out.exists()
        assert refused.stderr.decode().strip().splitlines() == [
            f"oldphoto {name}: --device cuda: no CUDA device is available (try --device auto)"]
    result = invoke(name, str(CAMERA), "--device", "cpu", "--strength", "12", "-o", str(out))
    assert result.returncode == 0, result.stderr
    expected = oldphoto.run(name, read_grey(CAMERA), strength="12").pixels
    assert psnr(read_grey(out), expected) > 50.0


def test_the_device_path_gives_the_cpu_picture(camera: np.ndarray) -> None:
    """Off the CPU path (a copy of each network moved to the device, float32 tiles sent
    there and back), here exercised as the torch device "cpu:0": the same restored scan
    as the CPU path, within float rounding (the CPU path may run in bfloat16)."""
    aged = apply_damage(camera, realistic_at(1.0), np.random.default_rng(0))[0]
    usual, info, mask = restore(aged)
    moved, moved_info, moved_mask = restore(aged, RestoreSettings(device="cpu:0"))
    assert {k: moved_info[k] for k in ("strength", "clean_photo")} == {
        k: info[k] for k in ("strength", "clean_photo")}
    assert psnr(moved, usual) > 50.0
    assert (moved_mask != mask).mean() < 0.001
