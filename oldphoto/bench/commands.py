"""Every ``oldphoto bench`` command, and ``compare``.

Only typer and the hook markers are imported here; everything heavy (PIL,
torch, matplotlib) loads inside the command that needs it, so registering
these commands costs nothing to ``oldphoto age --help``. The domains'
``commands.py`` register only their trainers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from oldphoto.denoise.commands import parse_densities
from oldphoto.errors import OldphotoError
from oldphoto.hookspecs import hookimpl

DEFAULT_DENSITIES = "0.1,0.3,0.5,0.7,0.9"
DETECT_DENSITIES = "0.05,0.1,0.2,0.3,0.5,0.7,0.9"


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """``compare`` and every bench: the paper table, plots, denoise, detect, colorize."""
    cli.command("compare", rich_help_panel="Information")(compare)
    bench.command("paper")(paper)
    bench.command("plot")(plot)
    bench.command("denoise")(bench_denoise)
    bench.command("denoise-study")(bench_denoise_study)
    bench.command("denoise-speed")(bench_denoise_speed)
    bench.command("detect")(bench_detect)
    bench.command("colorize")(bench_colorize)
    bench.command("colorize-sheet")(bench_colorize_sheet)
    bench.command("toning")(bench_toning)
    bench.command("restore")(bench_restore)


@contextmanager
def _one_line_errors(command: str) -> Iterator[None]:
    """A user error becomes one line on stderr and exit status 2, never a traceback."""
    try:
        yield
    except OldphotoError as err:
        typer.echo(f"oldphoto {command}: {err}", err=True)
        raise typer.Exit(2) from None


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",")] if text else None


def compare(
    output: Annotated[Path, typer.Option("--output", "-o", help="The sheet to write (PNG).")],
    inputs: Annotated[list[str] | None, typer.Argument(
        metavar="FOLDERS...", show_default=False,
        help="Folders, one column each (files matched by relative name), or one folder of "
             "folders. Default: an oldphoto stream on stdin.")] = None,
    labels: Annotated[str | None, typer.Option(
        "--labels", help="Comma-separated column labels (default: folder names, or original, "
                         "snapshots, true mask, detected mask and the last filter).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1,
                                       help="At most this many photos (rows).")] = 12,
    cell: Annotated[int, typer.Option("--cell", min=16, max=2048,
                                      help="Long side of each photo on the sheet, in pixels; "
                                           "cells keep each photo's shape.")] = 384,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the sheet if it exists (default: refuse).")] = False,
) -> None:
    """Make a contact sheet: the same photos through several stages or models, side by side."""
    from oldphoto.bench.compare import (
        expand_folders,
        render,
        sheet_from_folders,
        sheet_from_frames,
        write_sheet,
    )

    with _one_line_errors("compare"):
        _check_sheet_path(output, overwrite, inputs or [])
        if inputs:
            folders = expand_folders([Path(p) for p in inputs])
            sheet = sheet_from_folders(folders, _split(labels), limit)
        else:
            sheet = sheet_from_frames(_stdin_frames(), _split(labels), limit)
        write_sheet(render(sheet, cell), output)
    typer.echo(f"oldphoto compare: {len(sheet.grid)} photo(s) x {len(sheet.labels)} "
               f"column(s) -> {output}", err=True)


def _check_sheet_path(output: Path, overwrite: bool, inputs: list[str]) -> None:
    """The sheet follows every output's rules, checked before any work."""
    from oldphoto.codecs import format_of
    from oldphoto.pages import check_writable

    if format_of(output.name) in (None, "stream"):
        raise OldphotoError(f"-o {output}: a sheet is an image; end it with .png, .jpg, "
                            ".tif or .webp")
    if output.is_dir():
        raise OldphotoError(f"-o {output}: is a folder; give the sheet's file name")
    if output.exists() and not overwrite:
        raise OldphotoError(f"{output}: exists (use --overwrite)")
    resolved = output.resolve()
    for folder in inputs:
        root = Path(folder).resolve()
        if root in resolved.parents:
            raise OldphotoError(f"-o {output}: inside the input folder {folder}; it would "
                                "become a photo of the next sheet")
    check_writable(output.parent, f"-o {output}")


def _stdin_frames():
    """Frames from stdin; an unreadable stream is a one-line error."""
    from oldphoto.inputs import STDIN, Failure, discover, iter_frames

    if sys.stdin.isatty():
        raise OldphotoError("no input: give folders, or pipe an oldphoto stream into stdin")
    items, _ = discover([STDIN], recursive=False)
    for entry in iter_frames(items):
        if isinstance(entry, Failure):
            raise OldphotoError(entry.message)
        yield entry


def paper(
    data: Annotated[Path | None, typer.Option(
        "--data", help="CIFAR-10 test: class folders of images, or the python batches "
                       "(default: ../shared/data/cifar10/test).")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=0, help="Use N images (balanced over classes); 0: all.")] = 0,
    density: Annotated[float, typer.Option(
        "--density", min=0.0, max=1.0,
        help="Salt-and-pepper density of the de-noising rows.")] = 0.15,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise.")] = 0,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Also write the results as JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(
        "--markdown", help="Also write the table as markdown here.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Also draw ours against the paper as a PNG.")] = None,
    weights_dir: Annotated[Path | None, typer.Option(
        "--weights-dir", help="Look here first for the paper-configuration checkpoints "
                              "(default: the shipped oldphoto/weights).")] = None,
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="torch CPU threads (0: torch's default). One is fastest on "
                                 "32x32 images, above all on a busy machine.")] = 1,
) -> None:
    """Reproduce the paper's Table 1 on CIFAR-10 test, with baselines and shipped defaults."""
    from oldphoto.bench.paper_table import run_paper_bench

    with _one_line_errors("bench paper"):
        run_paper_bench(data, limit, density, seed, json_path, markdown, plot, weights_dir,
                        threads)


def plot(
    results: Annotated[list[Path], typer.Argument(
        help="JSON of `bench denoise`, `bench denoise-study` (plotted together) or "
             "`bench paper`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")],
) -> None:
    """Draw benches' JSON results as the paper's figures (needs the [plot] extra)."""
    from oldphoto.bench.plots import plot_json

    with _one_line_errors("bench plot"):
        written = plot_json(results, output)
    typer.echo(f"oldphoto bench plot: {written}", err=True)


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


def bench_colorize(
    data: Annotated[Path, typer.Option("--data", help="Folder of colour images (any tree).")],
    weights: Annotated[
        list[str], typer.Option("--weights", help="Shipped name or path; repeat to compare.")
    ],
    limit: Annotated[int, typer.Option(help="Evenly spaced subset of N images (0 = all).")] = 0,
    size: Annotated[int, typer.Option(help="Working size override (0 = the checkpoint's).")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write JSON.")] = None,
    bw_detector: Annotated[
        str, typer.Option(help="B&W-original detector gating the colour (none = off).")
    ] = "none",
    saturation: Annotated[
        float, typer.Option(help="Scale a*b* (-1 = each checkpoint's own setting).")
    ] = -1.0,
    min_chroma: Annotated[
        float, typer.Option(help="Faint-colour gate (-1 = each checkpoint's own; 0 = off).")
    ] = -1.0,
    spread: Annotated[
        float, typer.Option(help="Extra colour spread (-1 = each checkpoint's own; 0 = off).")
    ] = -1.0,
) -> None:
    """Score colourisers against gray (input L*, a*b* = 0) on the same images."""
    from oldphoto.bench.colour import bench_table

    with _one_line_errors("bench colorize"):
        bench_table(
            data, weights, limit, size, device, json_out, bw_detector, saturation, min_chroma,
            spread,
        )


def bench_colorize_sheet(
    data: Annotated[Path, typer.Option("--data", help="Folder of colour photos.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG to write.")],
    weights: Annotated[
        list[str], typer.Option("--weights", help="Columns, in order; NAME@GAIN sets --saturation.")
    ],
    count: Annotated[int, typer.Option(help="Rows (photos, evenly spaced).")] = 4,
    height: Annotated[int, typer.Option(help="Row height in pixels.")] = 160,
    worst: Annotated[bool, typer.Option(
        help="Show the COUNT photos where the first --weights model gains least PSNR over gray, "
             "worst first, instead of evenly spaced ones.")] = False,
) -> None:
    """A before/after contact sheet: grey input, each model, truth."""
    from oldphoto.bench.colour import contact_sheet

    with _one_line_errors("bench colorize-sheet"):
        contact_sheet(data, weights, output, count, height, worst=worst)


def bench_toning(
    data: Annotated[list[Path], typer.Option("--data", help="Folder of colour photos; repeat for sets.")],
    limit: Annotated[int, typer.Option(help="Evenly spaced subset of N photos per set (0 = all).")] = 0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the made-up print tones.")] = 0,
) -> None:
    """How often the colour check keeps real colour and passes toned and grey photos on to colour."""
    from oldphoto.bench.toning import print_toning_table, toning_table

    with _one_line_errors("bench toning"):
        print_toning_table(toning_table(data, limit, seed))


def _numbers(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OldphotoError(f"{flag}: {text!r} is not a comma-separated list of numbers") from None


def bench_restore(
    data: Annotated[Path, typer.Option("--data", help="Folder holding the test sets.")] = Path(
        "../shared/data/denoise"),
    sets: Annotated[str, typer.Option(help="Sub-folders of --data to score.")] = "BSD68,Set12",
    sigmas: Annotated[str, typer.Option(help="Gaussian sigmas (0..255 scale).")] = "15,25,50",
    strengths: Annotated[str, typer.Option(help="Strengths of age --realistic damage.")] = "1,2,3",
    realistic_on: Annotated[str, typer.Option(help="Sets that also get realistic damage.")] = "BSD68",
    bm3d_on: Annotated[str, typer.Option(help="Sets that also get BM3D (slow; '' for none).")] = "Set12",
    limit: Annotated[int | None, typer.Option(help="Use only the first N images of each set.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the noise.")] = 0,
    weights: Annotated[Path | None, typer.Option(help="Grain denoiser checkpoint.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as markdown.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PSNR plot (PNG) here.")] = None,
) -> None:
    """restore against median, bilateral, TV, NLM, median + NLM and BM3D, in the same run."""
    from oldphoto.bench.restore import run_restore_bench, write_outputs

    with _one_line_errors("bench restore"):
        names = _split(sets) or []
        record = run_restore_bench(
            {name: data / name for name in names}, _numbers(sigmas, "--sigmas"),
            _numbers(strengths, "--strengths"), tuple(_split(realistic_on) or ()),
            tuple(_split(bm3d_on) or ()), limit, seed, weights)
        record["command"] = " ".join(["oldphoto", *sys.argv[1:]])
        write_outputs(record, json_path, markdown, plot)
