"""What a training run learns: colour, classes, or black-and-white originals.

The loop in :mod:`oldphoto.colour.training` is the same for all three; a task
supplies the labels it needs, its loss and its validation.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto.colour.data import ImageSet
from oldphoto.colour.losses import check_loss_settings, colour_loss
from oldphoto.colour.models.resnet import grey_for_resnet
from oldphoto.colour.validation import (
    validate_classifier,
    validate_colour,
    validate_detector,
    with_bw_labels,
)
from oldphoto.errors import OldphotoError


class ColourTask:
    """A colouriser: the chosen colour loss, val PSNR beside gray, then calibration."""

    calibrates = True

    def prepare(self, config: Any, train_set: ImageSet, val_set: ImageSet
                ) -> tuple[ImageSet, ImageSet]:
        check_loss_settings(config)
        return train_set, val_set

    def uses_labels(self, config: Any, train_set: ImageSet) -> bool:
        return train_set.has_labels and config.alpha > 0

    def loss(self, model: nn.Module, config: Any, lightness: torch.Tensor, ab: torch.Tensor,
             rgb: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return colour_loss(model, config, lightness, ab, rgb, labels)

    def validate(self, model: nn.Module, val_set: ImageSet, device: str) -> dict:
        return validate_colour(model, val_set, device)


class ClassifierTask:
    """The ResNet prior: cross-entropy on the class folders of grey photos, top-1 accuracy."""

    calibrates = False
    #: What the run's record names as its loss.
    loss_name = "ce"

    def prepare(self, config: Any, train_set: ImageSet, val_set: ImageSet
                ) -> tuple[ImageSet, ImageSet]:
        if not train_set.has_labels:
            raise OldphotoError(f"{config.kind} needs --data with one sub-folder per class")
        return train_set, val_set

    def uses_labels(self, config: Any, train_set: ImageSet) -> bool:
        return True

    def loss(self, model: nn.Module, config: Any, lightness: torch.Tensor, ab: torch.Tensor,
             rgb: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return F.cross_entropy(model(grey_for_resnet(lightness, 32)), labels)

    def validate(self, model: nn.Module, val_set: ImageSet, device: str) -> dict:
        return validate_classifier(model, val_set, device)


class DetectorTask(ClassifierTask):
    """The B&W-original detector: a classifier whose labels come from the photos' own a*b*."""

    def prepare(self, config: Any, train_set: ImageSet, val_set: ImageSet
                ) -> tuple[ImageSet, ImageSet]:
        return with_bw_labels(train_set, config.device), with_bw_labels(val_set, config.device)

    def validate(self, model: nn.Module, val_set: ImageSet, device: str) -> dict:
        return validate_detector(model, val_set, device)


Task = ColourTask | ClassifierTask
#: The trainers that are not colourisers; every other kind is a ColourTask.
TASKS: dict[str, Task] = {"resnet-backbone": ClassifierTask(), "bw-detector": DetectorTask()}


def task_for(kind: str) -> Task:
    """The task a trainer's ``kind`` runs."""
    return TASKS.get(kind, ColourTask())
