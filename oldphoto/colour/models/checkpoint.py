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
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    write_payload(path, {"format": FORMAT, "kind": kind, "arch": arch, "state": state, "record": record})


def write_payload(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint dict (as :func:`read_checkpoint` returns it) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
        if "weights_only" in str(err) or "Weights only" in str(err):
            raise OldphotoError(f"{path}: holds pickled Python objects, not just weights; "
                                "oldphoto refuses to load it (it could run code)") from None
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise OldphotoError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise OldphotoError(f"{path}: not an oldphoto colour checkpoint")
    problem = _payload_problem(payload)
    if problem:
        raise OldphotoError(f"{path}: malformed checkpoint ({problem})")
    return payload


#: No recorded size in an ``arch`` may exceed this; and no network more parameters than that.
MAX_ARCH_INT = 16384
MAX_PARAMETERS = 200_000_000


def _payload_problem(payload: dict[str, Any]) -> str | None:
    """What makes a checkpoint unusable, checked before anything is built from it."""
    if not isinstance(payload.get("kind"), str):
        return "no 'kind'"
    arch = payload.get("arch")
    if not isinstance(arch, dict) or not isinstance(arch.get("model"), str):
        return "no 'arch' with a 'model'"
    state = payload.get("state")
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        return "'state' is not a dict of named tensors"
    if not isinstance(payload.get("record", {}), dict):
        return "'record' is not a dict"
    return _arch_problem(arch, "arch")


def _arch_problem(value: Any, where: str) -> str | None:
    """Sizes must be plain, sane numbers: a file must not ask for petabytes."""
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _arch_problem(item, f"{where}.{key}")
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        if len(value) > 4096:
            return f"{where} is too long"
        for index, item in enumerate(value):
            problem = _arch_problem(item, f"{where}[{index}]")
            if problem:
                return problem
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_ARCH_INT:
            return f"{where} = {value} is out of range"
    elif isinstance(value, float):
        if value != value or abs(value) > 1e6:
            return f"{where} = {value} is out of range"
    elif value is not None and not isinstance(value, str | bool):
        return f"{where} has type {type(value).__name__}"
    return None


def _built(arch: dict[str, Any], path: Path) -> nn.Module:
    """Build the network, first on the meta device (no memory) to count its parameters."""
    try:
        with torch.device("meta"):
            size = sum(p.numel() for p in build_model(arch).parameters())
        if size > MAX_PARAMETERS:
            raise OldphotoError(f"{path}: malformed checkpoint (the recorded architecture has "
                                f"{size} parameters)")
        return build_model(arch)
    except OldphotoError as err:
        raise OldphotoError(str(err) if str(err).startswith(str(path)) else f"{path}: {err}") from None
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise OldphotoError(f"{path}: malformed checkpoint ({type(err).__name__}: {reason} "
                            "in 'arch')") from None


def load_model(path: Path, kind: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The network in eval mode and its checkpoint dict; ``kind`` checks the file's purpose."""
    payload = read_checkpoint(path)
    if kind is not None and payload["kind"] != kind:
        raise OldphotoError(f"{path}: holds {payload['kind']} weights, not {kind}")
    model = _built(payload["arch"], Path(path))
    try:
        model.load_state_dict(payload["state"])
    except (RuntimeError, TypeError, ValueError) as err:
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
    write_payload(target, payload)
