"""Networks built from typed configs, by the ``model`` name a checkpoint records.

A checkpoint's ``arch`` stays a plain JSON-able dict (the file format does not
change); :func:`build_model` reads it into the registered config dataclass,
which names and types every field, and builds from that without touching
the dict. A new network registers one config and one builder here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from torch import nn

from oldphoto.errors import OldphotoError

Config = TypeVar("Config")


@dataclass(frozen=True)
class MLPConfig:
    size: int
    hidden: int
    layers: int
    dropout: float = 0.0
    grey_head: bool = False


@dataclass(frozen=True)
class PaperCNNConfig:
    classes: int | None
    size: int
    prior_dim: int = 0


@dataclass(frozen=True)
class UNetConfig:
    width: int
    classes: int | None
    prior_dim: int = 0
    grey_head: bool = False


@dataclass(frozen=True)
class ResNetConfig:
    backbone: dict[str, Any]


@dataclass(frozen=True)
class ResNetColouriserConfig:
    cnn: dict[str, Any]
    backbone: dict[str, Any]
    prior_dropout: float = 0.0
    prior_only: bool = False


@dataclass(frozen=True)
class RawArch:
    """For builders that read the arch dict themselves (the scene colourisers)."""

    arch: dict[str, Any]


@dataclass(frozen=True)
class _Entry:
    config: type
    build: Callable[[Any], nn.Module]


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, config: type[Config]) -> Callable[[Callable[[Config], nn.Module]],
                                                           Callable[[Config], nn.Module]]:
    """Decorator: ``build(config) -> nn.Module`` makes the networks whose arch says ``model: name``."""

    def decorate(build: Callable[[Config], nn.Module]) -> Callable[[Config], nn.Module]:
        _REGISTRY[name] = _Entry(config, build)
        return build

    return decorate


def read_config(arch: dict[str, Any]) -> Any:
    """The typed config of a recorded ``arch`` (extra keys such as ``work_size`` are ignored)."""
    entry = _entry(arch)
    if entry.config is RawArch:
        return RawArch(dict(arch))
    known = {f.name for f in fields(entry.config)}
    try:
        return entry.config(**{key: value for key, value in arch.items() if key in known})
    except TypeError as err:
        raise OldphotoError(f"model {arch.get('model')!r}: incomplete arch ({err})") from err


def build_model(arch: dict[str, Any]) -> nn.Module:
    """Rebuild an (untrained) network from its recorded ``arch``."""
    return _entry(arch).build(read_config(arch))


def _entry(arch: dict[str, Any]) -> _Entry:
    model = arch.get("model") if isinstance(arch, dict) else None
    if model not in _REGISTRY:
        raise OldphotoError(f"unknown model {model!r} in checkpoint")
    return _REGISTRY[model]


@register("mlp", MLPConfig)
def _mlp(config: MLPConfig) -> nn.Module:
    from oldphoto.colour.models.mlp import ColourMLP

    return ColourMLP(config.size, config.hidden, config.layers, config.dropout, config.grey_head)


@register("paper-cnn", PaperCNNConfig)
def _paper_cnn(config: PaperCNNConfig) -> nn.Module:
    from oldphoto.colour.models.fusion_cnn import PaperFusionCNN

    return PaperFusionCNN(config.classes, config.prior_dim, config.size)


@register("unet", UNetConfig)
def _unet(config: UNetConfig) -> nn.Module:
    from oldphoto.colour.models.fusion_cnn import UNetFusionCNN

    return UNetFusionCNN(config.width, config.classes, config.prior_dim, config.grey_head)


@register("resnet", ResNetConfig)
def _resnet(config: ResNetConfig) -> nn.Module:
    from oldphoto.colour.models.resnet import build_resnet

    return build_resnet(config.backbone)


@register("resnet-colouriser", ResNetColouriserConfig)
def _resnet_colouriser(config: ResNetColouriserConfig) -> nn.Module:
    from oldphoto.colour.models.resnet import build_resnet
    from oldphoto.colour.models.resnet_colouriser import ResNetColouriser

    return ResNetColouriser(build_model(config.cnn), build_resnet(config.backbone),
                            config.prior_dropout, config.prior_only)


@register("bin-colouriser", RawArch)
def _bin_colouriser(config: RawArch) -> nn.Module:
    from oldphoto.colour.models.pyramid import build_bin_colouriser

    return build_bin_colouriser(config.arch)
