"""The training loop of ``restore``'s two networks, resumable: ``oldphoto train
denoise-grain`` (here, :func:`grain_task`) and ``train damage-finder``
(:mod:`oldphoto.restore.finder_training`), each a :class:`Task`.

Built for one or two CPU cores: the clean images are uint8 arrays in memory,
every step draws random crops and damages them on the fly
(:mod:`oldphoto.restore.synth`), and each batch is drawn from a generator seeded
by (seed, step), so a resumed run draws exactly what the interrupted one would
have. Every ``--save-every`` steps the averaged (EMA) weights are written as a
loadable checkpoint and the optimiser state beside it (``.state``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oldphoto.console import Progress, say
from oldphoto.errors import OldphotoError
from oldphoto.restore.model import GrainArch, GrainNet, TwoLevelNet, load_net, provenance, save_net
from oldphoto.restore.synth import degrade


@dataclass
class GrainConfig:
    """Everything that defines a run; recorded in the checkpoint."""

    out: str
    data: list[str] = field(default_factory=list)
    steps: int = 20000
    batch_size: int = 16
    crop: int = 64
    lr: float = 1e-3
    ema: float = 0.999
    save_every: int = 500
    minutes: float = 0.0
    limit: int = 0
    seed: int = 0
    threads: int = 1
    bf16: bool = True
    init: str = ""
    first_share: float = 0.0
    arch: dict[str, int] = field(default_factory=lambda: asdict(GrainArch()))
    command: str = ""


def load_images(folders: list[Path], limit: int, crop: int) -> list[np.ndarray]:
    """Every image under the folders, as grey uint8 (luma), big enough for one crop."""
    from oldphoto.denoise.images import list_images, read_grey

    paths: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise OldphotoError(f"--data {folder}: not a folder")
        paths += list_images(folder, limit or None)
    images = []
    for path in paths:
        grey = read_grey(path)
        if min(grey.shape) >= crop:
            images.append(np.rint(grey * 255).astype(np.uint8))
    if not images:
        raise OldphotoError(f"--data: no image of at least {crop} px in {', '.join(map(str, folders))}")
    return images


def crops(images: list[np.ndarray], count: int, size: int, rng: np.random.Generator,
          chances: np.ndarray | None = None) -> torch.Tensor:
    """``count`` random crops with random flips and quarter turns, as (N,1,size,size) on [0,1];
    each image is picked with its ``chances`` (default: all alike)."""
    out = np.empty((count, size, size), np.uint8)
    picks = (rng.integers(0, len(images), count) if chances is None
             else rng.choice(len(images), count, p=chances))
    for index, pick in enumerate(picks):
        image = images[pick]
        y = rng.integers(0, image.shape[0] - size + 1)
        x = rng.integers(0, image.shape[1] - size + 1)
        patch = image[y:y + size, x:x + size]
        patch = np.rot90(patch, rng.integers(4))
        out[index] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return torch.from_numpy(out.astype(np.float32) / 255.0)[:, None]


def _lr(done: float, base: float) -> float:
    """Linear warm-up over the first 2% of the run, then cosine decay to 2% of the rate."""
    if done < 0.02:
        return base * max(done, 0.001) / 0.02
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (done - 0.02) / 0.98)))


GRAIN_DAMAGE = ("Gaussian sigma U(0,55)/255 (a fifth scaled by 0.1), half of crops correlated "
                "(blur 0.3-1 px), half signal-dependent, a quarter JPEG q60-95")


def _progress(step: int, seconds: float, config: GrainConfig) -> float:
    """How far through the run: by steps, or by the time budget (--minutes) if that comes first."""
    done = step / max(1, config.steps)
    if config.minutes > 0:
        done = max(done, seconds / (60.0 * config.minutes))
    return min(done, 1.0)


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state")


def validation_set(images: list[np.ndarray], seed: int) -> tuple[torch.Tensor, ...]:
    """A fixed small check: 8 crops of 128 px at sigma 15, 25 and 50 (Gaussian, known level)."""
    rng = np.random.default_rng([seed, 999_999])
    clean = crops(images, 8, 128, rng).repeat(3, 1, 1, 1)
    sigma = torch.tensor([15.0] * 8 + [25.0] * 8 + [50.0] * 8)[:, None, None, None] / 255.0
    gen = torch.Generator().manual_seed(seed)
    return clean, clean + sigma * torch.randn(clean.shape, generator=gen), sigma


def validate(model: TwoLevelNet, check: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """PSNR at each sigma of the fixed check."""
    clean, noisy, sigma = check
    with torch.inference_mode():
        out = model(noisy, sigma).clamp(0, 1)
    mse = ((out - clean) ** 2).flatten(1).mean(1).reshape(3, -1)
    psnr = (10 * torch.log10(1 / mse.clamp(min=1e-10))).mean(1)
    return {f"psnr{s}": round(float(p), 3) for s, p in zip((15, 25, 50), psnr, strict=True)}


@dataclass(frozen=True)
class Task:
    """What a run learns: the network, one step's loss (its batch drawn from the step's
    generator, so a resumed run draws the same), the fixed check, and the damage it learns."""

    build: Callable[[GrainArch], TwoLevelNet]
    loss: Callable[[TwoLevelNet, torch.Tensor, np.random.Generator], torch.Tensor]
    check: Callable[[TwoLevelNet], dict[str, float]]
    damage: str


def grain_task(check_images: list[np.ndarray], seed: int) -> Task:
    """The grain denoiser: MSE to the clean crop under :func:`degrade`'s damage."""
    check = validation_set(check_images, seed)

    def loss(model: TwoLevelNet, clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        noisy, level = degrade(clean, rng)
        return torch.nn.functional.mse_loss(model(noisy, level).float(), clean)

    return Task(GrainNet, loss, lambda model: validate(model, check), GRAIN_DAMAGE)


def train_grain(config: GrainConfig, images: list[np.ndarray], check_images: list[np.ndarray],
                resume: Path | None = None, progress: bool = True,
                chances: np.ndarray | None = None) -> dict[str, Any]:
    """Train (or resume) the grain denoiser."""
    return train_net(config, grain_task(check_images, config.seed), images, resume, progress, chances)


def picking_chances(sizes: list[int], first_share: float) -> np.ndarray | None:
    """Chance of each image of folders holding ``sizes`` images, so that the first folder
    gives ``first_share`` of the crops (None: every image alike)."""
    if not first_share or len(sizes) < 2:
        return None
    rest = sum(sizes[1:])
    return np.concatenate([np.full(sizes[0], first_share / sizes[0]),
                           np.full(rest, (1.0 - first_share) / rest)])


def train_net(config: GrainConfig, task: Task, images: list[np.ndarray],
              resume: Path | None = None, progress: bool = True,
              chances: np.ndarray | None = None) -> dict[str, Any]:
    """Run (or resume) training; writes config.out every save_every steps and at the end."""
    torch.set_num_threads(max(1, config.threads))
    torch.manual_seed(config.seed)
    model = task.build(GrainArch(**config.arch))
    average = task.build(GrainArch(**config.arch))
    average.load_state_dict(model.state_dict())
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    start, history, elapsed = 0, [], 0.0
    out = Path(config.out)
    grown: dict[str, Any] = {}
    if config.init and resume is None:
        grown = grow_from(model, Path(config.init))
        average.load_state_dict(model.state_dict())
    if resume is not None:
        state_file = resume if resume.name.endswith(".state") else _state_path(resume)
        if not state_file.is_file():
            raise OldphotoError(f"--resume {resume}: no training state at {state_file}")
        state = torch.load(state_file, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        average.load_state_dict(state["average"])
        optimiser.load_state_dict(state["optimiser"])
        start, history, elapsed = int(state["step"]), list(state["history"]), float(state["seconds"])
        grown = dict(state.get("grown_from", {}))
        config.command = " ; ".join([*state.get("commands", []), config.command])
    began = time.time() - elapsed
    record: dict[str, Any] = {}
    running = 0.0
    last = start if _progress(start, elapsed, config) >= 1.0 else config.steps  # budget spent
    with Progress("step", config.steps, progress, start) as bar:
        for step in range(start, last):
            rng = np.random.default_rng([config.seed, step])
            clean = crops(images, config.batch_size, config.crop, rng, chances)
            done_share = _progress(step, time.time() - began, config)
            for group in optimiser.param_groups:
                group["lr"] = _lr(done_share, config.lr)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                loss = task.loss(model, clean, rng)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                decay = min(config.ema, (step + 1) / (step + 10))
                for avg, cur in zip(average.parameters(), model.parameters(), strict=True):
                    avg.mul_(decay).add_(cur, alpha=1 - decay)
            running = loss.item() if step == start else 0.99 * running + 0.01 * loss.item()
            bar.advance(1, f"loss {running:.6f}")
            done = step + 1
            out_of_time = _progress(done, time.time() - began, config) >= 1.0
            if done % config.save_every == 0 or out_of_time:
                metrics = task.check(average.eval())
                history.append({"step": done, "loss": round(running, 7),
                                "seconds": round(time.time() - began, 1), **metrics})
                bar.log(f"step {done}: {metrics}")
                record = _record(config, images, history, task.damage, grown)
                save_net(out, average, record)
                torch.save({"model": model.state_dict(), "average": average.state_dict(),
                            "optimiser": optimiser.state_dict(), "step": done, "history": history,
                            "seconds": time.time() - began, "grown_from": grown,
                            "commands": config.command.split(" ; ")}, _state_path(out))
            if out_of_time:
                break
    if not record:
        say(f"{out}: already trained for {start} steps within its budget; nothing to do")
    return record


def grow_from(model: TwoLevelNet, path: Path) -> dict[str, Any]:
    """Load trained weights of the same widths into ``model``; a third level that they lack
    keeps its zero-initialised output, so the grown network starts where they left off."""
    source, record = load_net(type(model), path)
    arch, had = model.arch, source.arch
    if (arch.fine, arch.coarse, arch.body) != (had.fine, had.coarse, had.body) or (
            had.deep and (had.deep, had.deep_width) != (arch.deep, arch.deep_width)):
        raise OldphotoError(f"--init {path}: widths {asdict(had)} do not fit {asdict(arch)}")
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not key.startswith("deep.") for key in missing):
        raise OldphotoError(f"--init {path}: its layers do not match ({[*missing, *unexpected][:3]})")
    return provenance(path, record)


def _record(config: GrainConfig, images: list[np.ndarray], history: list[dict], damage: str,
            grown: dict[str, Any] | None = None) -> dict[str, Any]:
    """How the weights were made: command, data, steps, time, last validation, and the
    weights it started from (``--init``), if any."""
    config_dict = asdict(config)
    return {**({"grown_from": grown} if grown else {}),
            "config": config_dict, "command": config.command, "data": config.data,
            "images": len(images), "steps": history[-1]["step"], "seconds": history[-1]["seconds"],
            "validation": {k: v for k, v in history[-1].items() if k not in ("step", "loss", "seconds")},
            "history": history,
            "damage": damage}
