"""Shapes and loaders of the colourisation networks and their ResNet priors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("torch_one_thread")

from oldphoto.colour.models.checkpoint import build_model  # noqa: E402
from oldphoto.colour.models.fusion_cnn import PaperFusionCNN, UNetFusionCNN  # noqa: E402
from oldphoto.colour.models.mlp import ColourMLP  # noqa: E402
from oldphoto.colour.models.resnet import (  # noqa: E402
    CifarResNet,
    ResNet18,
    load_external_resnet,
)
from oldphoto.colour.models.resnet_colouriser import ResNetColouriser  # noqa: E402
from oldphoto.errors import OldphotoError  # noqa: E402


def test_mlp_is_the_papers_shape() -> None:
    model = ColourMLP(32, 64).eval()
    assert model.hidden[0].in_features == 1024 and model.output[0].out_features == 3072
    ab, logits, grey = model(torch.rand(2, 1, 32, 32))
    assert ab.shape == (2, 2, 32, 32) and logits is None and grey is None


def test_paper_cnn_has_8x8x128_encoder_and_class_head() -> None:
    model = PaperFusionCNN(classes=10).eval()
    assert model.encoder(torch.rand(1, 1, 32, 32)).shape == (1, 128, 8, 8)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules()) == 6
    ab, logits, _ = model(torch.rand(3, 1, 32, 32))
    assert ab.shape == (3, 2, 32, 32) and logits.shape == (3, 10)


def test_unet_takes_any_aspect_ratio_and_starts_grey() -> None:
    model = UNetFusionCNN(width=4, classes=5, grey_head=True).eval()
    with torch.no_grad():
        ab, logits, grey = model(torch.rand(2, 1, 40, 64))
    assert ab.shape == (2, 2, 40, 64) and logits.shape == (2, 5) and grey.shape == (2,)
    assert float(ab.abs().max()) == 0.0  # zero-initialised output layer: exactly grey


def test_resnet_prior_is_frozen_and_starts_like_the_cnn() -> None:
    cnn = UNetFusionCNN(width=4, classes=3, prior_dim=64)
    model = ResNetColouriser(cnn, CifarResNet(8, 10)).train()
    assert not model.backbone.training
    assert all(not p.requires_grad for p in model.backbone.parameters())
    ab, _, _ = model(torch.rand(2, 1, 32, 48))
    assert ab.shape == (2, 2, 32, 48)


def test_prior_dropout_withholds_the_prior_in_training_only() -> None:
    torch.manual_seed(0)
    cnn = UNetFusionCNN(width=4, classes=3, prior_dim=64)
    with torch.no_grad():  # a prior that matters (the projection starts at zero)
        cnn.prior.weight.normal_(0.0, 1.0)
        cnn.out.weight.normal_(0.0, 0.5)
    model = ResNetColouriser(cnn, CifarResNet(8, 10), prior_dropout=1.0)
    lightness = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        withheld = model.train()(lightness)[0]
        no_prior = model.cnn.train()(lightness, torch.zeros(2, 64))[0]
        used = model.eval()(lightness)[0]
        plain = ResNetColouriser(cnn, model.backbone).eval()(lightness)[0]
    assert torch.allclose(withheld, no_prior, atol=1e-6)
    assert torch.allclose(used, plain)
    assert not torch.allclose(used, model.cnn.eval()(lightness, torch.zeros(2, 64))[0], atol=1e-4)


def test_prior_only_training_moves_the_projection_and_nothing_else() -> None:
    torch.manual_seed(0)
    cnn = UNetFusionCNN(width=4, classes=3, prior_dim=64)
    with torch.no_grad():
        cnn.out.weight.normal_(0.0, 0.5)  # so the prior's projection gets a gradient
    model = ResNetColouriser(cnn, CifarResNet(8, 10), prior_only=True)
    before = {k: v.clone() for k, v in model.cnn.state_dict().items()}
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    for _ in range(2):
        ab = model(torch.rand(4, 1, 32, 32))[0]
        optimiser.zero_grad()
        ((ab - 0.3) ** 2).mean().backward()
        optimiser.step()
    after = model.cnn.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"prior.weight", "prior.bias"}  # batch-norm statistics included


ARCHS = {
    "mlp": {"model": "mlp", "size": 32, "hidden": 16, "layers": 1, "grey_head": True},
    "paper-cnn": {"model": "paper-cnn", "classes": 5, "size": 32},
    "unet": {"model": "unet", "width": 8, "classes": 5, "grey_head": True, "work_size": 32},
    "resnet": {"model": "resnet", "backbone": {"family": "cifar", "depth": 8, "classes": 4}},
    "resnet-colouriser": {"model": "resnet-colouriser", "backbone": CifarResNet(8, 10).arch,
                          "cnn": {"model": "paper-cnn", "classes": 10, "size": 32,
                                  "prior_dim": 64}, "prior_dropout": 0.5},
}


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_build_model_round_trip(name, tmp_path) -> None:
    """Built from its arch, saved, and loaded back: the same network, the arch untouched."""
    import copy

    from oldphoto.colour.models.checkpoint import load_model, save_checkpoint

    arch = copy.deepcopy(ARCHS[name])
    torch.manual_seed(0)
    model = build_model(arch).eval()
    assert arch == ARCHS[name]
    save_checkpoint(tmp_path / "m.pt", "test", arch, model, {"note": name})
    loaded, payload = load_model(tmp_path / "m.pt")
    assert payload["arch"] == ARCHS[name] and type(loaded) is type(model)
    x = torch.rand(2, 1, 32, 32) if name != "resnet" else torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        before, after = model(x), loaded(x)
    first = before[0] if isinstance(before, tuple) else before
    second = after[0] if isinstance(after, tuple) else after
    assert torch.equal(first, second)
    if name == "resnet-colouriser":
        assert isinstance(loaded, ResNetColouriser) and loaded.prior_dropout == 0.5


@pytest.mark.parametrize(("arch", "message"), [
    ({"model": "transformer"}, "unknown model 'transformer'"),
    ({"model": "unet", "classes": 3}, "incomplete arch"),
])
def test_an_arch_that_cannot_be_built_is_a_one_line_error(arch, message) -> None:
    with pytest.raises(OldphotoError, match=message):
        build_model(arch)


def test_torchvision_format_resnet18_loads(tmp_path) -> None:
    reference = ResNet18(classes=7).eval()
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    loaded = load_external_resnet(path).eval()
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(loaded(x), reference(x))


def test_unknown_state_dict_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(1)}, path)
    with pytest.raises(OldphotoError, match=r"other\.pth"):
        load_external_resnet(path)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["resnet20-12fca82f.th", "resnet56-4bfd9763.th"])
def test_shared_cifar_resnets_load_and_classify(shared_dir, name) -> None:
    from PIL import Image

    path = shared_dir / "weights" / "resnet-cifar10" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = load_external_resnet(path).eval()
    assert model.arch["depth"] == int(name[6:8])
    test = shared_dir / "data" / "cifar10" / "test"
    classes = sorted(p.name for p in test.iterdir())
    images, labels = [], []
    for label, name_ in enumerate(classes):
        for file in sorted((test / name_).iterdir())[:4]:
            images.append(torch.from_numpy(np.asarray(Image.open(file).convert("RGB")).copy()))
            labels.append(label)
    x = torch.stack(images).float().view(-1, 32, 32, 3).permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = model((x - mean) / std).argmax(1)
    accuracy = float((predicted == torch.tensor(labels)).float().mean())
    assert accuracy > 0.5  # ~0.8 on this JPEG copy; chance is 0.1


def test_prior_only_without_a_cnn_to_keep_is_a_one_line_error(tmp_path) -> None:
    from conftest import invoke

    out = tmp_path / "resnet.pt"
    result = invoke("train", "colorize-resnet-paper", "--data", str(tmp_path), "--backbone",
                     "resnet-backbone", "--prior-only", "-o", str(out))
    message = result.stderr.decode().strip()
    assert result.returncode == 2 and "--prior-only needs --init" in message
    assert len(message.splitlines()) == 1 and not out.exists()
