"""Choosing where torch runs. Imported only by filters that need torch."""

from __future__ import annotations

from oldphoto.errors import OldphotoError

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> str:
    """Map ``cpu|cuda|auto`` to a torch device string, failing clearly without CUDA."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise OldphotoError("--device cuda: no CUDA device is available (try --device cpu)")
    if name not in ("cpu", "cuda"):
        raise OldphotoError(f"--device {name}: expected one of {', '.join(DEVICES)}")
    return name
