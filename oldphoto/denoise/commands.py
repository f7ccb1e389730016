"""``oldphoto train denoise-lr`` and the benches: denoise, denoise-study, denoise-speed, detect.

Heavy work lives in :mod:`oldphoto.denoise.training` and :mod:`oldphoto.bench.denoise`,
imported inside each command so that ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oldphoto.hookspecs import hookimpl

DEFAULT_DENSITIES = "0.1,0.3,0.5,0.7,0.9"
DETECT_DENSITIES = "0.05,0.1,0.2,0.3,0.5,0.7,0.9"
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
    stages: Annotated[int, typer.Option(help="Regression rounds; 0 = 2 for default, 1 for paper.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N images.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
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
    )


def bench_denoise(
    data: Annotated[Path, typer.Option("--data", help="Folder of clean test images.")],
    densities: Annotated[str, typer.Option(help="Noise densities to test.")] = DEFAULT_DENSITIES,
    noise: Annotated[str, typer.Option(help="sp (salt-and-pepper) or realistic.")] = "sp",
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N images.")] = None,
    every: Annotated[int, typer.Option(help="Use one image in N (spread over classes).")] = 1,
    ssim: Annotated[bool, typer.Option("--ssim/--no-ssim", help="Also compute SSIM.")] = True,
    weights_dir: Annotated[Path | None, typer.Option(help="Folder of weights (default: shipped).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as markdown.")] = None,
) -> None:
    """PSNR, SSIM and time per megapixel of every denoiser, at each density."""
    from oldphoto.bench.denoise import run_bench

    run_bench(
        data=data,
        densities=parse_densities(densities),
        noise=noise,
        seed=seed,
        limit=limit,
        with_ssim=ssim,
        weights_dir=weights_dir,
        json_path=json_path,
        markdown=markdown,
        every=every,
    )


def bench_denoise_study(
    train_data: Annotated[Path, typer.Option("--train-data", help="Folder of training images.")],
    test_data: Annotated[Path, typer.Option("--test-data", help="Folder of test images.")],
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    test_limit: Annotated[int, typer.Option(help="Test images used.")] = 20,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as markdown.")] = None,
) -> None:
    """The paper's Fig. 6 and 7: error against training images, noise portion, window size."""
    from oldphoto.bench.study import run_study

    run_study(
        train_data=train_data,
        test_data=test_data,
        seed=seed,
        test_limit=test_limit,
        json_path=json_path,
        markdown=markdown,
    )


def bench_denoise_speed(
    data: Annotated[Path, typer.Option("--data", help="Folder whose first image is tiled.")],
    size: Annotated[int, typer.Option(help="Side of the square test image.")] = 2000,
    density: Annotated[float, typer.Option(help="Salt-and-pepper density.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    repeats: Annotated[int, typer.Option(help="Runs per method; the best counts.")] = 3,
    weights_dir: Annotated[Path | None, typer.Option(help="Folder of weights.")] = None,
) -> None:
    """Megapixels per second of each denoiser on one large grey image."""
    from oldphoto.bench.denoise import run_speed

    run_speed(data, size, density, seed, repeats, weights_dir)


def bench_detect(
    data: Annotated[Path, typer.Option("--data", help="Folder of clean test images.")],
    densities: Annotated[str, typer.Option(help="Salt-and-pepper densities.")] = DETECT_DENSITIES,
    noise: Annotated[str, typer.Option(help="sp or realistic (plus s&p at each density).")] = "sp",
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N images.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as markdown.")] = None,
    thresholds: Annotated[
        str, typer.Option(help="Instead: sweep these thresholds of the 4-neighbour test.")
    ] = "",
) -> None:
    """Precision and recall of the detector against the true noise mask."""
    from oldphoto.bench.denoise import NOISES
    from oldphoto.bench.detect import run_detect_bench
    from oldphoto.errors import OldphotoError

    if noise not in NOISES:
        raise OldphotoError(f"--noise {noise}: expected sp or realistic")
    sweep = parse_densities(thresholds) if thresholds else ()
    run_detect_bench(
        data, parse_densities(densities), noise, seed, limit, json_path, markdown, sweep
    )


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """Add the trainer and the two benches of denoise-lr."""
    train.command("denoise-lr")(train_denoise_lr)
    bench.command("denoise")(bench_denoise)
    bench.command("denoise-study")(bench_denoise_study)
    bench.command("denoise-speed")(bench_denoise_speed)
    bench.command("detect")(bench_detect)
