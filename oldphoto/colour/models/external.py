"""Reading a pretrained network's state dict from someone else's file, safely.

Published weights (a CIFAR ResNet ``.th``, torchvision or EfficientNet-Lite
``.pth``) are plain state dicts, sometimes wrapped as ``{"state_dict": ...}``.
They are read with ``weights_only=True``, so a file cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from oldphoto.errors import OldphotoError


def read_state_dict(path: str | Path, what: str) -> dict[str, Any]:
    """The tensors of ``path``; ``what`` names the weights in the one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise OldphotoError(f"{path}: {what} weights not found")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise OldphotoError(f"{path}: cannot read {what} weights safely ({reason})") from None
    if isinstance(stored, dict) and "state_dict" in stored:
        stored = stored["state_dict"]
    if not isinstance(stored, dict):
        raise OldphotoError(f"{path}: expected a {what} state dict")
    return stored
