"""The colour pipeline: full-resolution L*, any aspect ratio, training and safe checkpoints."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("torch_one_thread")

from oldphoto.colour.data import ImageSet, load_image_set  # noqa: E402
from oldphoto.colour.lab import lab_to_rgb, rgb_to_lab  # noqa: E402
from oldphoto.colour.models.checkpoint import (  # noqa: E402
    WEIGHTS_DIR,
    build_model,
    load_model,
    read_checkpoint,
    save_checkpoint,
    shipped_checkpoints,
)
from oldphoto.colour.pipeline import Colouriser, working_shape  # noqa: E402
from oldphoto.colour.training import TrainConfig, train  # noqa: E402
from oldphoto.errors import OldphotoError  # noqa: E402
from oldphoto.frame import Frame  # noqa: E402

SHIPPED = shipped_checkpoints()


def _lightness(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0].numpy()


def _tinted_checkpoint(tmp_path, bias: float = 0.3, varied: bool = False):
    """An untrained unet whose output gives a moderate colour: fixed, or varying with the input."""
    arch = {"model": "unet", "width": 4, "classes": 2, "grey_head": True, "work_size": 32}
    torch.manual_seed(0)
    model = build_model(arch)
    with torch.no_grad():
        model.out.bias.fill_(bias)
        if varied:
            model.out.weight.normal_(0.0, 0.5)
        model.grey_head.bias.fill_(-20.0)
    path = tmp_path / "tinted.pt"
    save_checkpoint(path, "colorize-cnn", arch, model, {"classes": ["a", "b"], "grey_gate": 0.5})
    return path


def test_lab_matches_scikit_image() -> None:
    from skimage.color import rgb2lab

    rgb = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - rgb2lab(rgb)).max() < 0.01
    back = lab_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
    assert np.abs(back.numpy() - rgb).max() < 1e-3


def test_working_shape_keeps_aspect_ratio_at_the_training_scale() -> None:
    # the short side goes to the working size: the scale of the square training photos
    assert working_shape(321, 481, 32) == (32, 48)
    assert working_shape(400, 100, 32) == (128, 32)
    # panoramas are capped at 4x the working size on the long side
    assert working_shape(100, 1000, 32) == (13, 128)
    # fixed-input models (the MLP) need the whole photo inside their square
    assert working_shape(321, 481, 32, fit_inside=True) == (21, 32)


@pytest.mark.parametrize("shape", [(57, 83, 3), (83, 57), (200, 31, 3), (31, 200, 3)])
def test_output_keeps_the_inputs_full_resolution_lightness(tmp_path, shape) -> None:
    rng = np.random.default_rng(1)
    pixels = (0.3 + 0.4 * rng.random(shape)).astype(np.float32)
    colouriser = Colouriser(_tinted_checkpoint(tmp_path), detector="none")
    (rgb, info), = colouriser.colourise([pixels])
    assert rgb.shape == (*shape[:2], 3) and rgb.dtype == np.float32
    assert rgb.flags.c_contiguous  # encoders need plain C order
    expected = _lightness(np.repeat(pixels[..., None], 3, 2) if pixels.ndim == 2 else pixels)
    assert np.abs(_lightness(rgb) - expected).max() < 0.5
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 0.01  # it did add colour
    assert info["class"] in ("a", "b") and 0.0 <= info["confidence"] <= 1.0


def test_batches_of_mixed_sizes_match_one_at_a_time(tmp_path) -> None:
    rng = np.random.default_rng(2)
    images = [rng.random(s).astype(np.float32) for s in [(40, 90, 3), (90, 40, 3), (40, 90, 3)]]
    colouriser = Colouriser(_tinted_checkpoint(tmp_path), detector="none")
    together = colouriser.colourise(images)
    for image, (rgb, _) in zip(images, together, strict=True):
        (alone, _), = colouriser.colourise([image])
        assert np.allclose(rgb, alone, atol=1e-4)


@pytest.mark.skipif(not (WEIGHTS_DIR / "colorize-cnn.pt").is_file(), reason="no shipped weights")
@pytest.mark.parametrize("shape", [(256, 48), (48, 256), (250, 45), (45, 250)])  # last two: padded
def test_tall_and_wide_grey_images_are_not_tinted(shape) -> None:
    def chroma_of_flat_field(field_shape: tuple[int, int]) -> tuple[np.ndarray, float]:
        flat = np.full(field_shape, 0.55, np.float32)
        (rgb, _), = colouriser.colourise([flat])
        ab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 1:]
        return rgb, float(ab.norm(dim=0).mean())

    colouriser = Colouriser("colorize-cnn")
    rgb, chroma = chroma_of_flat_field(shape)
    assert rgb.shape == (*shape, 3)
    # The model guesses some colour for a featureless field (sky blue for the shipped
    # CNN, |a*b*| ~ 18 on a square); padding or stretching a non-square photo must
    # not add a cast on top of that guess.
    _, square_chroma = chroma_of_flat_field((48, 48))
    assert chroma <= square_chroma + 1.0
    grey_rgb = np.full((*shape, 3), 0.55, np.float32)
    assert np.abs(_lightness(rgb) - _lightness(grey_rgb)).max() < 0.5


def test_filter_records_class_and_confidence(tmp_path) -> None:
    from oldphoto.filters.colorize import ColorizeCNN

    flt = ColorizeCNN(weights=str(_tinted_checkpoint(tmp_path)), bw_detector="none")
    flt.setup()
    frames = [Frame(np.full((20, 30), 0.5, np.float32), meta={"name": "x"}) for _ in range(2)]
    out = flt.process(frames)
    assert out[0].pixels.shape == (20, 30, 3)
    assert out[0].meta["colorize"]["class"] in ("a", "b")
    assert "colorize" not in frames[0].meta


def test_faint_colour_gate_leaves_exactly_grey(tmp_path) -> None:
    rng = np.random.default_rng(4)
    pixels = (0.2 + 0.6 * rng.random((40, 60, 3))).astype(np.float32)
    weights = _tinted_checkpoint(tmp_path)
    (coloured, info), = Colouriser(weights, min_chroma=0.0).colourise([pixels])
    assert not info["left_grey"] and info["mean_chroma"] > 1.0
    (gated, info), = Colouriser(weights, min_chroma=info["mean_chroma"] + 0.1).colourise([pixels])
    assert info["left_grey"]
    ab = rgb_to_lab(torch.from_numpy(gated).permute(2, 0, 1)[None])[0, 1:]
    assert float(ab.abs().max()) < 0.05  # no colour at all, so a B&W original comes back exact
    assert np.abs(_lightness(gated) - _lightness(pixels)).max() < 0.5
    assert np.abs(coloured - gated).max() > 0.02


def test_photos_left_grey_are_named_on_stderr(tmp_path) -> None:
    from conftest import invoke
    from PIL import Image

    weights = _tinted_checkpoint(tmp_path)
    Image.new("L", (40, 30), 120).save(tmp_path / "old.png")
    out = tmp_path / "out.png"
    gated = invoke("colorize-cnn", str(tmp_path / "old.png"), "--weights", str(weights),
                    "--min-chroma", "90", "-o", str(out))
    assert gated.returncode == 0, gated.stderr
    assert b"left 1 of 1 photos grey" in gated.stderr and b"old.png" in gated.stderr
    assert b"--min-chroma 0" in gated.stderr
    quiet = invoke("colorize-cnn", str(tmp_path / "old.png"), "--weights", str(weights),
                    "--min-chroma", "90", "-o", str(out), "--overwrite", "-q")
    assert quiet.returncode == 0 and quiet.stderr == b""
    coloured = invoke("colorize-cnn", str(tmp_path / "old.png"), "--weights", str(weights),
                       "--min-chroma", "0", "-o", str(out), "--overwrite")
    assert coloured.returncode == 0 and b"grey" not in coloured.stderr


def test_wrong_kind_of_weights_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(OldphotoError, match=r"tinted\.pt"):
        Colouriser(_tinted_checkpoint(tmp_path), kind="colorize-mlp", detector="none")
    with pytest.raises(OldphotoError, match="no-such"):
        Colouriser("no-such-weights")


def _toy_set(count: int = 24, size: int = 16) -> ImageSet:
    """Images whose colour follows from their lightness: bright = yellow, dark = blue."""
    rng = np.random.default_rng(3)
    level = rng.random((count, size, size, 1)).astype(np.float32)
    rgb = np.concatenate([level, level, 1.0 - level], axis=3) * 0.8 + 0.1
    return ImageSet((rgb * 255).astype(np.uint8), rng.integers(0, 2, count), ["p", "q"], "toy")


@pytest.mark.parametrize("kind,arch,loss", [
    ("colorize-cnn", {"model": "unet", "width": 4, "classes": 2, "grey_head": True}, "psnr"),
    ("colorize-mlp", {"model": "mlp", "size": 16, "hidden": 32, "layers": 1}, "rgb"),
])
def test_tiny_training_lowers_the_loss_and_writes_a_record(tmp_path, kind, arch, loss) -> None:
    data = _toy_set()
    out = tmp_path / "toy.pt"
    config = TrainConfig(kind=kind, arch={**arch, "work_size": 16}, out=str(out), epochs=4,
                         batch_size=8, lr=1e-2, alpha=0.1, beta=0.1, loss=loss, ema=0.0,
                         size=16, data=["toy"])
    record = train(config, data.subset(np.arange(16)), data.subset(np.arange(16, 24)),
                   progress=False)
    losses = [row["loss"] for row in record["history"]]
    assert losses[-1] < losses[0]
    _, payload = load_model(out, kind)
    for key in ("command", "seed", "data", "classes", "history", "val", "config"):
        assert key in payload["record"]
    for key in ("psnr", "gray_psnr", "mse_pct", "gray_mse_pct", "colourfulness"):
        assert key in payload["record"]["val"]
    assert "min_chroma" not in payload["record"]  # uncalibrated: the filter never gates
    resumed = TrainConfig(**{**config.__dict__, "epochs": 5})
    again = train(resumed, data.subset(np.arange(16)), data.subset(np.arange(16, 24)),
                  resume=out, progress=False)
    assert again["epochs_done"] == 5


def test_calibration_records_the_gain_and_gate_it_chose(tmp_path) -> None:
    data = _toy_set()
    out = tmp_path / "toy.pt"
    arch = {"model": "unet", "width": 4, "classes": 2, "grey_head": False, "work_size": 16}
    config = TrainConfig(kind="colorize-cnn", arch=arch, out=str(out), epochs=2, batch_size=8,
                         lr=1e-2, loss="psnr", ema=0.0, size=16, data=["toy"], beta=0.0,
                         min_colourfulness=0.01, max_grey=0.5)
    record = train(config, data.subset(np.arange(16)), data.subset(np.arange(16, 24)),
                   progress=False)
    chosen = record["calibration"]["chosen"]
    assert chosen["grey_fraction"] <= 0.5
    best_allowed = max(r["psnr"] for r in record["calibration"]["sweep"]
                       if r["grey_fraction"] <= 0.5 and r["colourfulness_ratio"] >= 0.01)
    assert chosen["psnr"] == best_allowed
    colouriser = Colouriser(out)  # the filter picks all three up from the checkpoint
    assert (colouriser.saturation, colouriser.spread, colouriser.min_chroma) == (
        chosen["saturation"], chosen["spread"], chosen["min_chroma"])


def test_widen_spread_adds_the_same_spread_to_every_photo_and_keeps_its_mean() -> None:
    from oldphoto.colour.grading import MAX_SPREAD_GAIN, colour_spread, widen_spread

    rng = np.random.default_rng(5)
    base = torch.from_numpy(rng.normal(0, 1, (3, 2, 8, 8)).astype(np.float32))
    ab = base * torch.tensor([4.0, 8.0, 0.01]).view(3, 1, 1, 1) + 5.0  # mild, bold, almost flat
    wide = widen_spread(ab, 3.0)
    assert torch.allclose(wide.mean(dim=(2, 3)), ab.mean(dim=(2, 3)), atol=1e-4)
    before, after = colour_spread(ab), colour_spread(wide)
    assert torch.allclose(after[:2] - before[:2], torch.tensor([3.0, 3.0]), atol=1e-3)
    assert float(after[2] / before[2]) == pytest.approx(MAX_SPREAD_GAIN, rel=1e-3)  # capped
    assert torch.equal(widen_spread(ab, 0.0), ab)


def test_spread_option_widens_the_colour_but_keeps_the_lightness(tmp_path) -> None:
    from oldphoto.colour.grading import MAX_SPREAD_GAIN

    rng = np.random.default_rng(6)
    pixels = (0.2 + 0.6 * rng.random((40, 60, 3))).astype(np.float32)
    weights = _tinted_checkpoint(tmp_path, varied=True)
    (plain, _), = Colouriser(weights, min_chroma=0.0, spread=0.0).colourise([pixels])
    (wide, _), = Colouriser(weights, min_chroma=0.0, spread=4.0).colourise([pixels])

    def spread_of(rgb: np.ndarray) -> float:
        ab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[:, 1:]
        return float((ab - ab.mean(dim=(2, 3), keepdim=True)).norm(dim=1).mean())

    # this untrained net's colour barely varies, so the gain is at its cap
    assert spread_of(wide) == pytest.approx(MAX_SPREAD_GAIN * spread_of(plain), rel=0.05)
    assert np.abs(_lightness(wide) - _lightness(pixels)).max() < 0.5


class _FixedPrediction(torch.nn.Module):
    """A "model" whose a*b* output is itself the parameter, to see where a loss pushes it."""

    def __init__(self, ab: torch.Tensor):
        super().__init__()
        self.ab = torch.nn.Parameter(ab.clone())

    def forward(self, lightness: torch.Tensor) -> tuple:
        return self.ab, None, None


def test_colour_reward_is_the_benchmark_colourfulness_and_pays_for_colour() -> None:
    from oldphoto.colour.losses import batch_tensors, colour_loss, colourfulness, recombine
    from oldphoto.metrics import colourfulness as benchmark_colourfulness

    rgb = np.random.default_rng(7).random((2, 9, 11, 3)).astype(np.float32)
    ours = colourfulness(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    assert np.allclose(ours.numpy(), [benchmark_colourfulness(x) for x in rgb], rtol=1e-4)

    lightness, truth_ab, truth_rgb = batch_tensors(_toy_set(count=2, size=8).images, "cpu")
    start = 2.0 * torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))

    def colour_after_one_step(reward: float) -> float:
        model = _FixedPrediction(start)
        config = TrainConfig(kind="colorize-cnn", arch={}, out="x", loss="psnr",
                             colour_reward=reward)
        colour_loss(model, config, lightness, truth_ab, truth_rgb, None).backward()
        with torch.no_grad():
            stepped = model.ab - 0.5 * model.ab.grad
        return float(colourfulness(recombine(lightness, stepped)).mean())

    assert colour_after_one_step(10.0) > colour_after_one_step(0.0) + 0.1


def test_reward_cap_stops_paying_for_colour_beyond_the_photos_own() -> None:
    from oldphoto.colour.losses import batch_tensors, colour_loss, colourfulness, recombine

    lightness, truth_ab, truth_rgb = batch_tensors(_toy_set(count=2, size=8).images, "cpu")
    truth_colour = colourfulness(truth_rgb)

    def reward_gradient(scale: float, cap: float) -> torch.Tensor:
        model = _FixedPrediction(scale * truth_ab)
        config = TrainConfig(kind="colorize-cnn", arch={}, out="x", loss="psnr",
                             colour_reward=1.0, reward_cap=cap)
        colour_loss(model, config, lightness, truth_ab, truth_rgb, None).backward()
        plain = _FixedPrediction(scale * truth_ab)
        config = TrainConfig(kind="colorize-cnn", arch={}, out="x", loss="psnr")
        colour_loss(plain, config, lightness, truth_ab, truth_rgb, None).backward()
        return model.ab.grad - plain.ab.grad

    # twice the truth's colour: above the cap, so only the PSNR term pulls
    assert bool((colourfulness(recombine(lightness, 2.0 * truth_ab)) > truth_colour).all())
    assert float(reward_gradient(2.0, cap=1.0).abs().max()) == 0.0
    assert float(reward_gradient(2.0, cap=0.0).abs().max()) > 0.0
    # half the truth's colour: below the cap, still paid
    assert float(reward_gradient(0.5, cap=1.0).abs().max()) > 0.0


def test_data_folders_with_and_without_classes(tmp_path) -> None:
    from PIL import Image

    for folder in ("cls/cat", "cls/dog", "plain"):
        (tmp_path / folder).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (20, 12), (40 * i, 90, 200)).save(tmp_path / folder / f"{i}.png")
    labelled = load_image_set(tmp_path / "cls", 8)
    assert labelled.images.shape == (4, 8, 8, 3) and labelled.classes == ["cat", "dog"]
    plain = load_image_set(tmp_path / "plain", 8, cache_dir=tmp_path / "cache")
    assert not plain.has_labels and (plain.labels == -1).all()
    assert load_image_set(tmp_path / "plain", 8, cache_dir=tmp_path / "cache").images.shape[0] == 2


def test_cifar_python_batches_load_and_refuse_code(tmp_path) -> None:
    import pickle

    batches = tmp_path / "cifar"
    batches.mkdir()
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with (batches / "data_batch_1").open("wb") as handle:
        pickle.dump({b"data": data, b"labels": [3, 1]}, handle)
    with (batches / "batches.meta").open("wb") as handle:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, handle)
    loaded = load_image_set(batches, 32)
    assert loaded.images.shape == (2, 32, 32, 3) and list(loaded.labels) == [3, 1]
    assert loaded.classes[3] == "c3"
    assert (loaded.images[0, 0, 0] == data[0, [0, 1024, 2048]]).all()

    class Boom:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    with (batches / "data_batch_1").open("wb") as handle:
        pickle.dump({b"data": Boom(), b"labels": []}, handle)
    with pytest.raises(OldphotoError, match="data_batch_1"):
        load_image_set(batches, 32)


def test_checkpoints_refuse_pickled_code(tmp_path) -> None:
    class Boom:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "oldphoto-colour/1", "payload": Boom()}, path)
    with pytest.raises(OldphotoError, match=r"evil\.pt"):
        read_checkpoint(path)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_weights_load_with_weights_only(path) -> None:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["record"]["command"].startswith("oldphoto train")
    assert path.stat().st_size < 25 * 2**20  # issue 13: each shipped file at most 25 MB
    load_model(path, payload["kind"])


def test_modules_do_not_import_torch() -> None:
    code = ("import sys, oldphoto.filters.colorize, oldphoto.colour.commands; "
            "sys.exit(int('torch' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_calibration_holds_every_data_set_to_the_colourfulness_target() -> None:
    from oldphoto.colour.calibration import _gated_summary
    from oldphoto.colour.data import merge

    merged = merge([_toy_set(count=3), _toy_set(count=2)])
    assert merged.origins.tolist() == [0, 0, 0, 1, 1]
    assert merged.subset(np.array([1, 4])).origins.tolist() == [0, 1]
    at = "@1.0+0.0"
    table = {  # set 0 gets half its truth's colour, set 1 a tenth: the mix hides set 1
        "origin": np.array([0, 0, 1]), "chroma": np.array([5.0, 5.0, 5.0]),
        f"colourfulness{at}": np.array([10.0, 10.0, 2.0]),
        "truth_colourfulness": np.array([20.0, 20.0, 20.0]),
        f"psnr{at}": np.array([30.0, 30.0, 30.0]), "gray_psnr": np.array([29.0, 29.0, 29.0]),
    }
    row = _gated_summary(table, 1.0, 0.0, 0.0)
    assert row["colourfulness_ratio_per_set"] == [0.5, 0.1]
    assert row["colourfulness_ratio"] == pytest.approx(22 / 60, abs=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loss": "rgb", "colour_reward": 0.05}, "--colour-reward works with --loss psnr"),
        ({"loss": "psnr", "reward_cap": 1.0}, "--reward-cap needs --colour-reward"),
    ],
)
def test_reward_options_that_cannot_work_are_a_clear_error(tmp_path, options, message) -> None:
    data = _toy_set()
    arch = {"model": "unet", "width": 4, "classes": 2, "grey_head": False, "work_size": 16}
    config = TrainConfig(kind="colorize-cnn", arch=arch, out=str(tmp_path / "x.pt"), epochs=1,
                         size=16, data=["toy"], **options)
    with pytest.raises(OldphotoError, match=message):
        train(config, data.subset(np.arange(16)), data.subset(np.arange(16, 24)), progress=False)
    assert not (tmp_path / "x.pt").exists()
