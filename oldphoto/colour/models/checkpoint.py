"""Checkpoints that load without running pickle code.

A checkpoint is a ``torch.save`` of plain data only: ``format``, ``kind``,
``arch`` (JSON-able dict that rebuilds the network), ``state`` (name -> tensor)
and ``record`` (JSON-able: data, command, seed, classes, metrics). It is read
with ``torch.load(weights_only=True)``, which refuses anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from oldphoto.colour.models.registry import build_model
from oldphoto.errors import OldphotoError

__all__ = ["FORMAT", "build_model", "load_model", "read_checkpoint", "resolve_weights",
           "save_checkpoint", "shipped_checkpoints"]

FORMAT = "oldphoto-colour/1"
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
#: The paper-reproduction checkpoints (``bench paper``), kept apart from the product's.
PAPER_WEIGHTS_DIR = WEIGHTS_DIR / "paper"


def save_checkpoint(
    path: Path, kind: str, arch: dict[str, Any], model: nn.Module, record: dict[str, Any]
) -> None:
    """Write atomically, so an interrupted epoch never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "kind": kind, "arch": arch, "state": state, "record": record}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise OldphotoError(f"{path}: weights file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise OldphotoError(f"{path}: not a safe oldphoto checkpoint ({err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise OldphotoError(f"{path}: not an oldphoto colour checkpoint")
    return payload


def load_model(path: Path, kind: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The network in eval mode and its checkpoint dict; ``kind`` checks the file's purpose."""
    payload = read_checkpoint(path)
    if kind is not None and payload["kind"] != kind:
        raise OldphotoError(f"{path}: holds {payload['kind']} weights, not {kind}")
    model = build_model(payload["arch"])
    try:
        model.load_state_dict(payload["state"])
    except RuntimeError as err:
        raise OldphotoError(f"{path}: weights do not fit the recorded architecture") from err
    return model.eval(), payload


def resolve_weights(name_or_path: str) -> Path:
    """``--weights``: a path, or the name of a shipped file in oldphoto/weights/ or its paper/."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    name = name_or_path if name_or_path.endswith(".pt") else name_or_path + ".pt"
    for folder in (WEIGHTS_DIR, PAPER_WEIGHTS_DIR):
        if (folder / name).is_file():
            return folder / name
    names = sorted(p.stem for p in shipped_checkpoints())
    raise OldphotoError(
        f"--weights {name_or_path}: no such file or shipped weights (shipped: {', '.join(names)})"
    )


def shipped_checkpoints() -> list[Path]:
    """Every shipped colour checkpoint: the product's, then the paper reproduction's."""
    return sorted(WEIGHTS_DIR.glob("*.pt")) + sorted(PAPER_WEIGHTS_DIR.glob("*.pt"))


def export_half(source: Path, target: Path) -> None:
    """Ship a checkpoint with float16 tensors (half the size; loading casts back to float32)."""
    payload = read_checkpoint(source)
    payload["state"] = {
        k: v.half() if v.is_floating_point() else v for k, v in payload["state"].items()
    }
    payload["record"] = {**payload["record"], "exported": f"float16 copy of {Path(source).name}"}
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, target)
