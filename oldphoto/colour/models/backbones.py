"""Finding a frozen ResNet prior by name or path, whatever format it comes in."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from oldphoto.colour.models.checkpoint import FORMAT, load_model, resolve_weights
from oldphoto.colour.models.resnet import load_external_resnet
from oldphoto.errors import OldphotoError


def load_backbone(name_or_path: str) -> nn.Module:
    """An oldphoto ``resnet-backbone`` checkpoint, a CIFAR ``.th`` or a torchvision ``.pth``."""
    path = resolve_weights(name_or_path)
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise OldphotoError(f"{path}: cannot read weights safely ({err})") from err
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        model, _ = load_model(Path(path), "resnet-backbone")
    else:
        model = load_external_resnet(Path(path))
    return model.eval()
