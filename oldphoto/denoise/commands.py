"""``oldphoto train denoise-lr``.

The heavy work lives in :mod:`oldphoto.denoise.training`, imported inside the
command so that ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oldphoto.hookspecs import hookimpl

TRAIN_DENSITIES = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"


def parse_densities(text: str) -> tuple[float, ...]:
    """'0.1,0.3' -> (0.1, 0.3), each checked to lie in [0, 1]."""
    from oldphoto.errors import OldphotoError

    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise OldphotoError(f"--densities: {text!r} is not a comma-separated list") from err
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise OldphotoError(f"--densities: {text!r} must hold numbers in [0, 1]")
    return values


def train_denoise_lr(
    data: Annotated[Path, typer.Option("--data", help="Folder of clean training images.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Weights file (.npz) to write.")],
    densities: Annotated[str, typer.Option(help="Salt-and-pepper densities to train on.")] = TRAIN_DENSITIES,
    window: Annotated[int, typer.Option(help="Window size: 3, 5 or 7.")] = 5,
    variant: Annotated[str, typer.Option(help="paper (raw window) or default (pre-filled).")] = "default",
    solver: Annotated[str, typer.Option(help="lstsq (exact) or sgd (the paper's).")] = "lstsq",
    stages: Annotated[int, typer.Option(help="Regression rounds; 0 = 3 for default, 1 for paper.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N images.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    extras: Annotated[str, typer.Option(
        help="Extra features: auto (the default variant's), none, or names from "
        "edge1,edge2,median4,clean3,clean5,sorted3.")] = "auto",
) -> None:
    """Fit the denoise-lr regression on clean images corrupted on the fly."""
    from oldphoto.denoise.training import run_training

    run_training(
        data=data,
        densities=parse_densities(densities),
        window=window,
        variant=variant,
        solver=solver,
        stages=stages,
        limit=limit,
        seed=seed,
        output=output,
        extras=extras,
    )


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """Add the trainer of denoise-lr (its benches are in :mod:`oldphoto.bench.commands`)."""
    train.command("denoise-lr")(train_denoise_lr)
