"""Training on several processes: ``torchrun --nproc_per_node N -m oldphoto train ...``.

The trainers stay single-process code. Under torchrun (found by its RANK,
WORLD_SIZE and LOCAL_RANK variables) :func:`session` joins the process group
(gloo on the CPU, NCCL on CUDA, one GPU per local rank) and divides the
machine's CPU threads among its processes; the loop then asks :func:`world`
who it is, takes its share of each epoch (:func:`shard`) or its own stream of
random crops (:func:`rank_generator`), and trains through :func:`replicate`,
which synchronises gradients with DistributedDataParallel. Only rank 0 writes
checkpoints and draws progress. Without torchrun every helper is a no-op, so a
plain run is exactly what it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from oldphoto.errors import OldphotoError

#: What torchrun sets for every process it starts.
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """Who this process is in the job: rank 0 of 1 without torchrun."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and talks to the terminal."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def launched() -> bool:
    """True in a process torchrun started for a job of more than one process."""
    return all(key in os.environ for key in TORCHRUN_ENV) and int(os.environ["WORLD_SIZE"]) > 1


def world() -> World:
    """This process's rank and the job's size, from the joined process group."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size())


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def session(device: str, threads: int = 0) -> Iterator[str]:
    """Join torchrun's job for the block, if launched by it; yields the device this rank uses.

    ``threads`` (0 = every core) is the machine's budget: each of the local
    processes takes its share, so N processes do not fight over the cores.
    """
    import torch

    if not launched():
        if threads:
            torch.set_num_threads(threads)
        yield device
        return
    import torch.distributed as dist

    local_rank = int(os.environ["LOCAL_RANK"])
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    torch.set_num_threads(max(1, (threads or _cores()) // local_size))
    if device.startswith("cuda"):
        if local_rank >= torch.cuda.device_count():
            raise OldphotoError(f"rank {local_rank} of torchrun: only {torch.cuda.device_count()} "
                                "CUDA devices here (one per process on a node)")
        torch.cuda.set_device(local_rank)
        device, backend = f"cuda:{local_rank}", "nccl"
    elif device == "cpu":
        backend = "gloo"
    else:
        raise OldphotoError(f"--device {device}: training under torchrun runs on cpu or cuda")
    dist.init_process_group(backend)
    try:
        yield device
    except RuntimeError as err:
        if not _peer_lost(err):
            raise
        raise OldphotoError(f"rank {dist.get_rank()}: another process of the job stopped "
                            "(its own message says why)") from None
    else:
        # leave together: a rank that tears gloo down while a peer still talks to it was
        # seen to abort ("terminate called without an active exception", once in CI-like runs)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _peer_lost(err: RuntimeError) -> bool:
    """A collective that failed because another rank exited (say, on a bad --data)."""
    import torch.distributed as dist

    text = str(err)
    return (isinstance(err, getattr(dist, "DistBackendError", ()))
            or "closed by peer" in text or "Connection reset" in text)


def barrier() -> None:
    """Wait for every rank (nothing to wait for on one process)."""
    if world().active:
        import torch.distributed as dist

        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (it may write a data cache); then the others, who read it."""
    me = world()
    if me.active and not me.main:
        barrier()
    yield
    if me.active and me.main:
        barrier()


def shard(order: np.ndarray) -> np.ndarray:
    """This rank's share of an epoch's order, the same on every rank: every ``size``-th
    index from ``rank``, all shares equally long (as DistributedSampler, minus the padding)."""
    me = world()
    if not me.active:
        return order
    usable = len(order) - len(order) % me.size
    return order[me.rank : usable : me.size]


def rank_generator(rng: np.random.Generator, seed: int) -> np.random.Generator:
    """``rng`` on one process; under torchrun a stream of this rank's own, so ranks differ."""
    me = world()
    return np.random.default_rng([seed, me.rank]) if me.active else rng


def replicate(model: Any) -> Any:
    """What the loop calls the model through: the model itself, or under torchrun a
    DistributedDataParallel replica whose every call (``model(x)``, ``model.bin_logits(x)``)
    goes through DDP's forward, so the gradients are averaged over the ranks."""
    if not world().active:
        return model
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    class Dispatch(nn.Module):
        """DDP wraps ``forward`` only: this forward calls the model method asked for."""

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any, method: str = "forward") -> Any:
            return getattr(self.inner, method)(*args)

    device = next(model.parameters()).device
    # some heads feed the loss only on some batches (labels, the grey logit): let DDP find them
    ddp = DistributedDataParallel(Dispatch(model), static_graph=True,
                                  device_ids=[device.index] if device.type == "cuda" else None)
    return Replica(ddp, model)


class Replica:
    """Calls to the model's methods and submodules, routed through DDP."""

    def __init__(self, ddp: Any, model: Any) -> None:
        self._ddp, self._model = ddp, model

    def __call__(self, *args: Any) -> Any:
        return self._ddp(*args)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._model, name)
        if not callable(value):
            return value
        return lambda *args: self._ddp(*args, method=name)
