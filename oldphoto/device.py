"""Choosing where torch runs. Imported only by filters that need torch."""

from __future__ import annotations

from oldphoto.errors import OldphotoError

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available(torch: object) -> bool:
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> str:
    """Map ``auto|cpu|cuda|mps`` to a torch device string, failing clearly when it is absent.

    ``auto`` takes CUDA, then Apple's MPS, then the CPU.
    """
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available(torch) else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise OldphotoError("--device cuda: no CUDA device is available (try --device auto)")
    if name == "mps" and not _mps_available(torch):
        raise OldphotoError("--device mps: no Apple MPS device is available (try --device auto)")
    if name not in DEVICES:
        raise OldphotoError(f"--device {name}: expected one of {', '.join(DEVICES)}")
    return name
