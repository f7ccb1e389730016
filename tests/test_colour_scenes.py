"""The scene colourisers: the pretrained prior's loading, colour bins, toning, a tiny training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from oldphoto.colour import bins  # noqa: E402
from oldphoto.colour.models.efficientnet import (  # noqa: E402
    EfficientNetLite,
    efficientnet_from_state,
    load_efficientnet,
)
from oldphoto.colour.toning import colour_kind, tone  # noqa: E402
from oldphoto.errors import OldphotoError  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

#: A miniature EfficientNet-Lite: one block per stage, so every stride is present.
TINY_BLOCKS = [
    {"c_in": 8, "c_out": 4, "expand": 1, "kernel": 3, "stride": 1},
    {"c_in": 4, "c_out": 6, "expand": 2, "kernel": 3, "stride": 2},
    {"c_in": 6, "c_out": 8, "expand": 2, "kernel": 5, "stride": 2},
    {"c_in": 8, "c_out": 10, "expand": 2, "kernel": 3, "stride": 2},
    {"c_in": 10, "c_out": 12, "expand": 2, "kernel": 5, "stride": 1},
    {"c_in": 12, "c_out": 14, "expand": 2, "kernel": 5, "stride": 2},
    {"c_in": 14, "c_out": 16, "expand": 2, "kernel": 3, "stride": 1},
]


def tiny_efficientnet(seed: int = 0) -> EfficientNetLite:
    torch.manual_seed(seed)
    model = EfficientNetLite(TINY_BLOCKS, classes=5, stem=8, head=32).eval()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def test_efficientnet_rebuilds_from_its_state_dict_keys() -> None:
    model = tiny_efficientnet()
    rebuilt = efficientnet_from_state(model.state_dict())
    assert rebuilt.arch["blocks"] == TINY_BLOCKS  # strides read off the shapes
    image = torch.rand(2, 3, 70, 90)
    assert torch.allclose(rebuilt(image), model(image), atol=1e-6)
    features, pooled = rebuilt.pyramid(image)
    assert [f.shape[-2:] for f in features] == [(18, 23), (9, 12), (5, 6), (3, 3)]  # "same" padding
    assert pooled.shape == (2, 32)


@pytest.mark.parametrize("change", ["missing", "extra", "shape"])
def test_efficientnet_refuses_a_state_dict_that_does_not_match(change: str, tmp_path: Path) -> None:
    state = dict(tiny_efficientnet().state_dict())
    if change == "missing":
        del state["_blocks.3._bn1.running_var"]
    elif change == "extra":
        state["_blocks.3.surplus"] = torch.zeros(1)
    else:
        state["_fc.bias"] = torch.zeros(7)
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    with pytest.raises(OldphotoError, match="EfficientNet-Lite"):
        load_efficientnet(path)


def test_bins_round_trip_to_ab() -> None:
    centres = torch.from_numpy(bins.grid_centres()).float()
    found = bins.nearest_bin(centres.T[None, :, :, None], centres)[0, :, 0]
    assert (found == torch.arange(len(centres))).all()
    ab = torch.tensor([[[[30.0, -42.0]], [[-12.0, 55.0]]]])  # (1, 2, 1, 2)
    target = bins.soft_targets(ab, centres)
    assert torch.allclose(target.sum(1), torch.ones(1, 1, 2))
    decoded = bins.annealed_mean(target.clamp_min(1e-12).log(), centres, temperature=1.0)
    assert torch.allclose(decoded, ab, atol=1.0)
    # a sharper read-out moves toward the most likely bin, never away from the data
    sharp = bins.annealed_mean(target.clamp_min(1e-12).log(), centres, temperature=0.2)
    nearest = centres[bins.nearest_bin(ab, centres)].permute(0, 3, 1, 2)
    assert (sharp - nearest).abs().max() < (decoded - nearest).abs().max() + 1e-6


def test_rebalancing_pays_rare_colours_more() -> None:
    centres = bins.grid_centres()[:4]
    share = np.array([0.7, 0.2, 0.09, 0.01])
    weights = bins.rebalancing_weights(share, centres, mix=0.5)
    assert np.all(np.diff(weights) > 0)
    assert (share * weights).sum() == pytest.approx(1.0)
    flat = bins.rebalancing_weights(share, centres, mix=1.0)
    assert np.allclose(flat, 1.0)


def _scene(seed: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A made-up colour photo: smooth blobs of several hues."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    rgb = np.zeros((*size, 3))
    for _ in range(4):
        centre, colour = rng.random(2), rng.random(3)
        rgb += colour * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) * 20)[..., None]
    return np.clip(rgb / rgb.max(), 0, 1).astype(np.float32)


def _scene_folder(tmp_path: Path, count: int) -> Path:
    """A folder of ``count`` made-up scene photos, as PNG files."""
    from PIL import Image

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for seed in range(count):
        Image.fromarray((_scene(seed, (72, 96)) * 255).astype(np.uint8)).save(scenes / f"p{seed}.png")
    return scenes


def test_hue_loss_charges_a_wrong_or_faint_hue_and_its_gradient_mends_it() -> None:
    """The hue-aware term is about 0 when the read-out has the true hue at a hit's chroma,
    high for the opposite hue or a brown compromise, 0 on grey truths, and a gradient step
    on the logits turns a torn pixel toward the true hue."""
    centres = torch.from_numpy(bins.grid_centres()).float()
    truth = torch.tensor([40.0, 30.0]).view(1, 2, 1, 1)  # orange, chroma 50

    def sure_of(ab: tuple[float, float]) -> torch.Tensor:
        logits = torch.full((1, len(centres), 1, 1), -30.0)
        logits[0, bins.nearest_bin(torch.tensor(ab).view(1, 2, 1, 1), centres)[0, 0, 0]] = 30.0
        return logits

    assert bins.hue_loss(sure_of((40.0, 30.0)), truth, centres) < 0.01
    assert bins.hue_loss(sure_of((-40.0, -30.0)), truth, centres) > 1.9  # the opposite hue
    assert bins.hue_loss(sure_of((40.0, 30.0)), torch.zeros(1, 2, 1, 1), centres) == 0.0
    # torn between orange and its opposite: the read-out is their faint mean
    torn = torch.maximum(sure_of((40.0, 30.0)), sure_of((-40.0, -30.0))).requires_grad_()
    before = bins.hue_loss(torn, truth, centres)
    assert before > 0.9
    before.backward()
    assert bins.hue_loss(torn.detach() - 2.0 * torn.grad, truth, centres) < before


def test_toned_grey_and_colour_photos_are_told_apart() -> None:
    rng = np.random.default_rng(3)
    for seed in range(5):
        photo = _scene(seed, (96, 128))
        grey = photo.mean(axis=2)
        noisy_grey = np.clip(grey[..., None] + rng.normal(0, 0.004, photo.shape), 0, 1)
        assert colour_kind(photo) == "colour"
        assert colour_kind(noisy_grey) == "grey"
        assert colour_kind(grey) == "grey"
        assert colour_kind(tone(grey, 70, 22)) == "toned"  # sepia
        assert colour_kind(tone(grey, 250, 25)) == "toned"  # cyanotype


def test_tiny_training_run_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    from oldphoto.colour.pipeline import Colouriser
    from oldphoto.colour.train_bins import BinTrainConfig, train_bins

    scenes = _scene_folder(tmp_path, 6)
    backbone = tmp_path / "lite.pth"
    torch.save(tiny_efficientnet().state_dict(), backbone)
    for kind in ("colorize-cnn", "colorize-resnet"):
        out = tmp_path / f"{kind}.pt"
        config = BinTrainConfig(kind=kind, out=str(out), scenes=[str(scenes)], backbone=str(backbone),
                                crop=64, batch_size=4, steps=4, save_every=2)
        record = train_bins(config, cache=tmp_path / "cache", progress=False)
        assert record["steps_done"] == 4
        colouriser = Colouriser(out, kind)
        rgb, info = colouriser.colourise([_scene(9).mean(axis=2)])[0]
        assert rgb.shape == (48, 64, 3) and np.isfinite(rgb).all()
        assert info["model"] == kind
        # the run goes on from its state, and says how
        config.steps = 6
        record = train_bins(config, resume=True, cache=tmp_path / "cache", progress=False)
        assert record["steps_done"] == 6 and len(record["history"]) == 3
    # the hue-aware term trains too, and is recorded
    out = tmp_path / "hue.pt"
    config = BinTrainConfig(kind="colorize-resnet", out=str(out), scenes=[str(scenes)],
                            backbone=str(backbone), crop=64, batch_size=4, steps=2, hue_weight=0.5)
    record = train_bins(config, cache=tmp_path / "cache", progress=False)
    assert record["config"]["hue_weight"] == 0.5 and np.isfinite(record["history"][-1]["loss"])


def test_fine_tuning_moves_only_the_backbone_top_and_resumes_a_frozen_run(tmp_path: Path) -> None:
    from oldphoto.colour.models.checkpoint import read_checkpoint
    from oldphoto.colour.train_bins import BinTrainConfig, train_bins

    scenes = _scene_folder(tmp_path, 6)
    backbone = tmp_path / "lite.pth"
    torch.save(tiny_efficientnet().state_dict(), backbone)
    out = tmp_path / "resnet.pt"
    config = BinTrainConfig(kind="colorize-resnet", out=str(out), scenes=[str(scenes)],
                            backbone=str(backbone), crop=64, batch_size=4, steps=2, save_every=2, ema=0.0)
    train_bins(config, cache=tmp_path / "cache", progress=False)
    frozen = read_checkpoint(out)["state"]
    config.steps, config.tune_blocks = 4, 1  # go on from the frozen run's state, tuning the top
    train_bins(config, resume=True, cache=tmp_path / "cache", progress=False)
    tuned = read_checkpoint(out)["state"]
    last = len(tiny_efficientnet()._blocks) - 1
    moved = {key for key in frozen if key.startswith("encoder.backbone.")
             and not torch.equal(frozen[key], tuned[key])}
    assert moved, "the top block and head did not train"
    allowed = (f"encoder.backbone._blocks.{last}.", "encoder.backbone._conv_head.",
               "encoder.backbone._bn1.")
    assert all(key.startswith(allowed) for key in moved), sorted(moved)
    assert not any(key.endswith(("running_mean", "running_var")) for key in moved)  # BN stays eval


def test_hue_balanced_hit_rate_scores_truth_grey_and_a_warm_tint() -> None:
    from skimage.color import lab2rgb

    from oldphoto.metrics import constant_tint, hue_balanced_hit_rate, hue_hits

    angles = np.radians(np.arange(0, 360, 5.0))  # every hue, equally often, chroma 40
    lab = np.stack([np.full((4, len(angles)), 60.0), 40 * np.cos(angles) + np.zeros((4, 1)),
                    40 * np.sin(angles) + np.zeros((4, 1))], axis=-1)
    truth = np.clip(lab2rgb(lab), 0, 1).astype(np.float32)
    assert hue_balanced_hit_rate(hue_hits(truth, truth)) > 0.95
    assert hue_balanced_hit_rate(hue_hits(truth.mean(axis=2), truth)) == 0.0
    warm = constant_tint(truth, 4.0, 12.0)  # hue 72 degrees: hits the sextants at 60 and 120 at best
    rate = hue_balanced_hit_rate(hue_hits(warm, truth))
    assert 0.1 < rate < 0.4
    # pooled counts, not a mean of per-image rates: an image with few colourful pixels weighs little
    counts = hue_hits(truth, truth) + hue_hits(truth.mean(axis=2), truth)
    assert hue_balanced_hit_rate(counts) == pytest.approx(0.5, abs=0.03)


def test_hits_by_sextant_show_which_hues_a_warm_tint_gets() -> None:
    from skimage.color import lab2rgb

    from oldphoto.metrics import constant_tint, hits_by_sextant, hue_balanced_hit_rate, hue_hits

    angles = np.radians(np.arange(0, 360, 5.0))
    lab = np.stack([np.full((4, len(angles)), 60.0), 40 * np.cos(angles) + np.zeros((4, 1)),
                    40 * np.sin(angles) + np.zeros((4, 1))], axis=-1)
    truth = np.clip(lab2rgb(lab), 0, 1).astype(np.float32)
    counts = hue_hits(constant_tint(truth, 4.0, 12.0), truth)  # hue 72 degrees
    split = hits_by_sextant(counts)
    assert sum(split["share"]) == pytest.approx(1.0, abs=1e-3)
    assert split["rate"][3] == 0.0 and split["rate"][5] == 0.0  # cyan and purple: missed
    assert max(split["rate"][1], split["rate"][2]) > 0.3  # the warm sextants it lies between
    used = [r for r, share in zip(split["rate"], split["share"], strict=True) if share >= 0.01]
    assert np.mean(used) == pytest.approx(hue_balanced_hit_rate(counts), abs=1e-3)


def test_thumbnails_get_their_own_calibrated_read_out(tmp_path: Path) -> None:
    from oldphoto.colour.calibrate_bins import calibrate
    from oldphoto.colour.models.checkpoint import read_checkpoint, write_payload
    from oldphoto.colour.pipeline import Colouriser
    from oldphoto.colour.train_bins import BinTrainConfig, train_bins

    scenes = _scene_folder(tmp_path, 4)
    out = tmp_path / "cnn.pt"
    train_bins(BinTrainConfig(kind="colorize-cnn", out=str(out), scenes=[str(scenes)], crop=64,
                              batch_size=2, steps=2, save_every=2), progress=False)
    record = calibrate(out, [_scene(5, (72, 96))], 64, small_truths=[_scene(6, (32, 32))],
                       small_source="made-up thumbnails")
    small = record["small_photos"]
    assert small["max_short_side"] == 64
    assert {small["temperature"], small["saturation"]} <= {row[key] for row in small["calibration"]["sweep"]
                                                           for key in ("temperature", "gain")}
    # a thumbnail is read out with its own gain, a larger photo with the scene one
    payload = read_checkpoint(out)
    payload["record"]["small_photos"]["saturation"] = 0.0
    payload["record"]["saturation"] = 1.0
    write_payload(out, payload)
    colouriser = Colouriser(out)
    (thumb, _), (photo, _) = colouriser.colourise([_scene(7, (40, 40)).mean(axis=2),
                                                    _scene(7, (96, 96)).mean(axis=2)])
    assert np.ptp(thumb, axis=2).max() < 2e-3  # gain 0: left grey
    assert np.ptp(photo, axis=2).max() > 0.01
    # what the user asks for applies to every size
    forced = Colouriser(out, saturation=1.0)
    thumb_forced, _ = forced.colourise([_scene(7, (40, 40)).mean(axis=2)])[0]
    assert np.ptp(thumb_forced, axis=2).max() > 0.01


def test_a_state_saved_before_learning_rate_scales_still_resumes(tmp_path: Path) -> None:
    """Earlier runs saved optimiser groups without their ``scale``; resuming one must not
    stop on a KeyError (the scene CNN's state from issue 13's first stops is one)."""
    from oldphoto.colour.train_bins import BinTrainConfig, _state_path, train_bins

    scenes = _scene_folder(tmp_path, 6)
    out = tmp_path / "cnn.pt"
    config = BinTrainConfig(kind="colorize-cnn", out=str(out), scenes=[str(scenes)], crop=64,
                            batch_size=4, steps=2, save_every=2)
    train_bins(config, cache=tmp_path / "cache", progress=False)
    state = torch.load(_state_path(out), weights_only=True)
    for group in state["optimiser"]["param_groups"]:
        del group["scale"]
    torch.save(state, _state_path(out))
    config.steps = 4
    record = train_bins(config, resume=True, cache=tmp_path / "cache", progress=False)
    assert record["steps_done"] == 4
