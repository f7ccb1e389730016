"""``oldphoto train denoise-grain|damage-finder|noise-level``: the trainers of ``restore``'s networks.

The heavy work is in :mod:`oldphoto.restore.training`, imported inside the
command so that ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from oldphoto.hookspecs import hookimpl

if TYPE_CHECKING:
    from oldphoto.restore.training import GrainConfig

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


OutputOpt = Annotated[Path, typer.Option("-o", "--output", help="Checkpoint (.pth) to write.")]
DataOpt = Annotated[list[Path] | None, typer.Option(
    "--data", help="Folder of clean images (repeatable); default Train400 and scenes/train.")]
CheckOpt = Annotated[Path | None, typer.Option(
    help="Held-out folder for the per-checkpoint check (written into the record); default "
    "scenes/val.")]
StepsOpt = Annotated[int, typer.Option(help="Optimiser steps in all (a resumed run continues).")]
MinutesOpt = Annotated[float, typer.Option(
    help="Time budget: the schedule runs by elapsed time and stops there (0: by --steps).")]
FineOpt = Annotated[int, typer.Option(help="Channels at half resolution.")]
CoarseOpt = Annotated[int, typer.Option(help="Channels at quarter resolution.")]
BodyOpt = Annotated[int, typer.Option(help="Convolutions at quarter resolution.")]
ThreadsOpt = Annotated[int, typer.Option(help="Torch threads.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of crops and damage.")]
ResumeOpt = Annotated[Path | None, typer.Option(help="Continue from this checkpoint's .state.")]
ProgressOpt = Annotated[bool, typer.Option(help="Show a progress bar.")]


def _config(output: Path, data: list[Path] | None, check: Path | None, crop: int, smallest: int,
            **fields: Any) -> tuple[GrainConfig, list[Path], Path]:
    """Check --crop, and build a run's config with its command line; with the training
    folders (default Train400 and scenes/train) and the held-out one (default scenes/val):
    the three networks learn from the same photos."""
    from oldphoto.errors import OldphotoError
    from oldphoto.restore.training import GrainConfig

    if crop % 8 or crop < smallest:
        raise OldphotoError(f"--crop {crop}: must be a multiple of 8, at least {smallest}")
    folders = list(data or [DATA / "denoise" / "Train400", DATA / "scenes" / "train"])
    config = GrainConfig(out=str(output), data=[str(f) for f in folders], crop=crop,
                         command=shlex.join(["oldphoto", *sys.argv[1:]]), **fields)
    return config, folders, check or DATA / "scenes" / "val"


def _report(output: Path, record: dict) -> None:
    """One line on stderr saying what the run wrote (nothing when it had nothing to do)."""
    if record:
        typer.echo(f"{output}: {record['steps']} steps, {record['seconds']} s, {record['validation']}",
                   err=True)


def train_denoise_grain(
    output: OutputOpt,
    data: DataOpt = None,
    check: CheckOpt = None,
    steps: StepsOpt = 20000,
    batch_size: Annotated[int, typer.Option(help="Crops per step.")] = 16,
    crop: Annotated[int, typer.Option(help="Crop side in pixels (multiple of 8).")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (Adam, cosine decay).")] = 1e-3,
    save_every: Annotated[int, typer.Option(help="Write checkpoint and state every N steps.")] = 500,
    minutes: MinutesOpt = 0.0,
    fine: FineOpt = 32,
    coarse: CoarseOpt = 64,
    body: BodyOpt = 5,
    deep: Annotated[int, typer.Option(
        min=0, help="Convolutions at an eighth of the resolution (0: no third level).")] = 0,
    deep_width: Annotated[int, typer.Option(min=1, help="Channels at the third level.")] = 128,
    init: Annotated[Path | None, typer.Option(
        help="Start from these trained weights (same widths); a new third level starts as a no-op."
    )] = None,
    limit: Annotated[int, typer.Option(help="Use only the first N images of each folder.")] = 0,
    first_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of the crops drawn from the first --data folder "
        "(0: every image alike, so a big folder gives most).")] = 0.0,
    threads: ThreadsOpt = 1,
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast (faster on CPUs with AVX-512 BF16).")] = True,
    seed: SeedOpt = 0,
    resume: ResumeOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train the grain denoiser on clean crops damaged on the fly (grain, noise, JPEG)."""
    from oldphoto.errors import OldphotoError
    from oldphoto.restore.training import load_images, picking_chances, train_grain

    config, folders, check_folder = _config(
        output, data, check, crop, 16, steps=steps, batch_size=batch_size, lr=lr,
        save_every=save_every, minutes=minutes, limit=limit, seed=seed, threads=threads, bf16=bf16,
        init=str(init) if init else "", first_share=first_share,
        arch={"fine": fine, "coarse": coarse, "body": body, "deep": deep, "deep_width": deep_width})
    if init is not None and not init.is_file():
        raise OldphotoError(f"--init {init}: no such file")
    by_folder = [load_images([folder], limit, crop) for folder in folders]
    images = [image for found in by_folder for image in found]
    check_images = load_images([check_folder], 8 if limit else 64, 128)
    record = train_grain(config, images, check_images, resume=resume, progress=progress,
                         chances=picking_chances([len(found) for found in by_folder], first_share))
    _report(output, record)


def train_damage_finder(
    output: OutputOpt,
    data: DataOpt = None,
    check: Annotated[Path | None, typer.Option(
        help="Held-out folder: the per-checkpoint check and the threshold; default scenes/val.")] = None,
    grain: Annotated[Path | None, typer.Option(
        help="Grain denoiser whose output the finder sees (default: the shipped one).")] = None,
    steps: StepsOpt = 8000,
    minutes: MinutesOpt = 0.0,
    crop: Annotated[int, typer.Option(help="Crop side in pixels (multiple of 8).")] = 96,
    batch: Annotated[int, typer.Option("--batch-size", help="Crops per step.")] = 8,
    every: Annotated[int, typer.Option("--save-every", help="Checkpoint every N steps.")] = 250,
    calibrate_on: Annotated[int, typer.Option(
        min=0, help="Choose the fill threshold on this many --check photos (0: keep 0.5).")] = 12,
    threads: ThreadsOpt = 1,
    seed: SeedOpt = 0,
    resume: ResumeOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train the dust and scratch finder behind restore on crops aged as scans, true mask known."""
    from dataclasses import asdict

    from oldphoto.denoise.images import list_images
    from oldphoto.restore.damage_net import FINDER_ARCH
    from oldphoto.restore.finder_training import calibrate_threshold, finder_task
    from oldphoto.restore.training import load_images, train_net

    config, folders, check_folder = _config(
        output, data, check, crop, 32, steps=steps, batch_size=batch, save_every=every,
        minutes=minutes, seed=seed, threads=threads, arch=asdict(FINDER_ARCH))
    images = load_images(folders, 0, crop)
    task = finder_task(load_images([check_folder], 64, 128), seed, grain)
    record = train_net(config, task, images, resume=resume, progress=progress)
    if calibrate_on and output.is_file():  # also after a run that had nothing left to train
        photos = list_images(check_folder, None)[::7][:calibrate_on]
        record = calibrate_threshold(output, photos, seed, grain)
        typer.echo(f"{output}: threshold {record['threshold']}", err=True)
    _report(output, record)


def train_noise_level(
    output: OutputOpt,
    data: DataOpt = None,
    check: CheckOpt = None,
    steps: StepsOpt = 20000,
    minutes: MinutesOpt = 0.0,
    batch: Annotated[int, typer.Option("--batch-size", help="Crops per step.")] = 32,
    crop: Annotated[int, typer.Option(help="Crop side in pixels (multiple of 8): the side of the "
                                      "patches the estimator reads a picture by.")] = 64,
    fine: FineOpt = 16,
    coarse: CoarseOpt = 32,
    body: BodyOpt = 3,
    every: Annotated[int, typer.Option("--save-every", help="Checkpoint every N steps.")] = 250,
    threads: ThreadsOpt = 1,
    seed: SeedOpt = 0,
    resume: ResumeOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train the grain-level estimator behind restore's --strength auto: clean textured crops
    must read 0, grainy ones their grain's strength."""
    from oldphoto.restore.level_training import level_task
    from oldphoto.restore.training import load_images, train_net

    config, folders, check_folder = _config(
        output, data, check, crop, 32, steps=steps, batch_size=batch, save_every=every,
        minutes=minutes, seed=seed, threads=threads,
        arch={"fine": fine, "coarse": coarse, "body": body, "deep": 0, "deep_width": 128},
        bf16=False)  # a grain of 1-2 levels is below bfloat16's step on mid-grey
    images = load_images(folders, 0, crop)
    record = train_net(config, level_task(load_images([check_folder], 64, crop), seed, crop), images,
                       resume=resume, progress=progress)
    _report(output, record)


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """Add ``train denoise-grain``, ``train damage-finder`` and ``train noise-level``."""
    train.command("denoise-grain")(train_denoise_grain)
    train.command("damage-finder")(train_damage_finder)
    train.command("noise-level")(train_noise_level)
