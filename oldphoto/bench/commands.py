"""The bench plugin: ``compare``, ``bench paper|plot``.

Only typer and the hook markers are imported here; everything heavy (PIL,
torch, matplotlib) loads inside the command that needs it, so registering
these commands costs nothing to ``oldphoto age --help``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from oldphoto.errors import OldphotoError
from oldphoto.hookspecs import hookimpl


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    cli.command("compare", rich_help_panel="Information")(compare)
    bench.command("paper")(paper)
    bench.command("plot")(plot)


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
                                      help="Cell size in pixels.")] = 160,
) -> None:
    """Make a contact sheet: the same photos through several stages or models, side by side."""
    from oldphoto.bench.compare import (
        expand_folders,
        render,
        sheet_from_folders,
        sheet_from_frames,
        write_sheet,
    )

    try:
        if inputs:
            folders = expand_folders([Path(p) for p in inputs])
            sheet = sheet_from_folders(folders, _split(labels), limit)
        else:
            sheet = sheet_from_frames(_stdin_frames(), _split(labels), limit)
        write_sheet(render(sheet, cell), output)
    except OldphotoError as err:
        typer.echo(f"oldphoto compare: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"oldphoto compare: {len(sheet.grid)} photo(s) x {len(sheet.labels)} "
               f"column(s) -> {output}", err=True)


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
    from oldphoto.bench.paper import run_paper_bench

    try:
        run_paper_bench(data, limit, density, seed, json_path, markdown, plot, weights_dir,
                        threads)
    except OldphotoError as err:
        typer.echo(f"oldphoto bench paper: {err}", err=True)
        raise typer.Exit(2) from None


def plot(
    results: Annotated[list[Path], typer.Argument(
        help="JSON of `bench denoise`, `bench denoise-study` (plotted together) or "
             "`bench paper`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")],
) -> None:
    """Draw benches' JSON results as the paper's figures (needs the [plot] extra)."""
    from oldphoto.bench.plots import plot_json

    try:
        written = plot_json(results, output)
    except OldphotoError as err:
        typer.echo(f"oldphoto bench plot: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"oldphoto bench plot: {written}", err=True)
