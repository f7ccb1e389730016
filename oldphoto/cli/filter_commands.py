"""Turning a :class:`Filter` class into a typer subcommand, options and all.

Typer reads a function's signature; we build that signature from the filter's
declared options so every filter, built-in or plugin, gets the same CLI.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, Literal

import typer
from typer.core import TyperCommand

from oldphoto.codecs import TIFF_CODECS
from oldphoto.destinations import OUTPUT_RULES
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter, Option
from oldphoto.plugins import RESERVED_OPTIONS
from oldphoto.runner import RunOptions, run_filter

COMMON = "Input and output (every filter)"
OWN = "Filter options"
#: -h as well as --help, on every command.
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _common_parameters() -> list[inspect.Parameter]:
    """The input and output options of every filter command: the fields of RunOptions."""
    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)

    return [
        param("inputs", list[str] | None, typer.Argument(
            None, metavar="INPUTS",
            help="Image files, folders (with -r), or - for stdin. Default: stdin.",
            show_default=False)),
        param("recursive", bool, typer.Option(
            False, "--recursive", "-r", help="Read folders, recursing into sub-folders.",
            rich_help_panel=COMMON)),
        param("output", str | None, typer.Option(
            None, "--output", "-o", metavar="PATH", rich_help_panel=COMMON,
            help=OUTPUT_RULES + " Default: stdout (a stream on a pipe, an image when "
                 "redirected to a file or with --to).")),
        param("to", str | None, typer.Option(
            None, "--to", metavar="FORMAT", rich_help_panel=COMMON,
            help="Output format (png, jpg, tif, bmp, webp, pnm, stream); on stdout, one "
                 "encoded image even into a pipe. Default: keep each file's.")),
        param("quality", int, typer.Option(
            95, "--quality", min=1, max=100, metavar="1-100", rich_help_panel=COMMON,
            help="JPEG and WebP quality (WebP with alpha stays lossless).")),
        param("compress", Literal[TIFF_CODECS], typer.Option(  # type: ignore[valid-type]
            "deflate", "--compress", rich_help_panel=COMMON,
            help="TIFF compression (lossless).")),
        param("device", Literal["auto", "cpu", "cuda", "mps"], typer.Option(
            "auto", "--device",
            rich_help_panel=COMMON, help="Where models run (auto: CUDA, then MPS, then the "
                                         "CPU); written in each frame's history. Filters "
                                         "without a model use the CPU.")),
        param("overwrite", bool, typer.Option(
            False, "--overwrite", rich_help_panel=COMMON,
            help="Replace outputs that exist (default: skip them). Inputs are never replaced.")),
        param("max_pixels", int | None, typer.Option(
            None, "--max-pixels", min=1, rich_help_panel=COMMON, show_default=False,
            help="Refuse images larger than this many pixels, from their header, before "
                 "decoding. Default: 100000000; measured peak memory per pixel: colourisers "
                 "~120 bytes (12 GB at the limit), denoise-lr ~20, convert ~13.")),
        param("flatten_rename", bool, typer.Option(
            False, "--flatten-rename", rich_help_panel=COMMON,
            help="When two inputs would be written to one output name (d1/a.png d2/a.png), "
                 "name the later ones a-2.png, a-3.png... Default: refuse before any work.")),
        param("jobs", int, typer.Option(
            1, "--jobs", "-j", min=1, metavar="N", rich_help_panel=COMMON,
            help="Worker processes sharing the inputs (each loads its models once; the "
                 "cores are divided among them). Writes files only: needs -o FOLDER/ and "
                 "files or folders as inputs.")),
        param("quiet", bool, typer.Option(
            False, "--quiet", "-q", rich_help_panel=COMMON,
            help="Print nothing but errors.")),
    ]


class PanelCommand(TyperCommand):
    """Plain help (no markup to escape) with options grouped by panel: the options every
    filter shares apart from the filter's own."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                panel = getattr(param, "rich_help_panel", None) or (
                    "Arguments" if param.param_type_name == "argument" else "Options")
                panels.setdefault(panel, []).append((readable(record[0]), record[1]))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


#: typer's type names, as a person reads them in --help.
METAVARS = {"int range": "INTEGER", "int": "INTEGER", "float range": "NUMBER", "float": "NUMBER",
            "text": "TEXT", "str": "TEXT", "path": "PATH", "list[str]": "TEXT",
            "list[path]": "PATH", "boolean": "BOOLEAN"}


def readable(name: str) -> str:
    """``--cell <int range>`` -> ``--cell INTEGER``; ``<a|b>`` -> ``a|b``; ``X <list[str]>`` -> ``X...``."""
    def word(match: re.Match[str]) -> str:
        inner = match.group(1)
        if not name.startswith("-") and inner.startswith("list["):  # an argument: X...
            return "" if name.split()[0].endswith("...") else "..."
        return " " + METAVARS.get(inner.lower(), inner)

    return re.sub(r"\s*<([^<>]+)>", word, name)


def use_panels(*apps: typer.Typer) -> None:
    """Every command of these apps gets the grouped, readable help of the filters."""
    for app in apps:
        for info in app.registered_commands:
            if info.cls is None or info.cls is TyperCommand:
                info.cls = PanelCommand


def _option_parameter(option: Option) -> inspect.Parameter:
    kwargs: dict[str, Any] = {"help": option.help, "rich_help_panel": OWN}
    annotation: Any = option.type
    if option.type is bool:
        flags = [f"{option.flag}/--no-{option.flag[2:]}"]
    else:
        flags = [option.flag]
        if option.choices:
            annotation = Literal.__getitem__(tuple(option.choices))
        elif option.type in (int, float, str):
            kwargs["metavar"] = {int: "INTEGER", float: "NUMBER", str: "TEXT"}[option.type]
        if option.min is not None:
            kwargs["min"] = option.min
        if option.max is not None:
            kwargs["max"] = option.max
    if option.default is None:
        annotation = annotation | None
    default = typer.Option(option.default, *flags, **kwargs)
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def build_command(cls: type[Filter]) -> Callable[..., None]:
    """A function whose signature typer turns into the filter's subcommand."""
    common = RESERVED_OPTIONS

    def command(**kwargs: Any) -> None:
        run = RunOptions(**{k: kwargs.pop(k) for k in list(kwargs) if k in common})
        run_and_exit(cls.name, lambda: run_filter(cls, kwargs, run))

    parameters = _common_parameters() + [_option_parameter(o) for o in cls.options]
    with_signature(command, parameters)
    command.__name__ = cls.name.replace("-", "_")
    command.__doc__ = _help_text(cls)
    return command


def run_and_exit(name: str, action: Callable[[], int]) -> None:
    """Run a command's work and exit with its status: an OldphotoError is one line (2),
    Ctrl-C is 130."""
    try:
        status = action()
    except OldphotoError as err:
        typer.echo(f"oldphoto {name}: {err}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(status)


def with_signature(command: Callable[..., None], parameters: list[inspect.Parameter]) -> None:
    """Give ``command(**kwargs)`` the signature typer reads its options from."""
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__annotations__["return"] = None


def _help_text(cls: type[Filter]) -> str:
    doc = inspect.getdoc(cls) or ""
    summary = cls.summary.strip()
    return summary if not doc or doc.startswith(summary) else f"{summary}\n\n{doc}"


def add_filter_commands(app: typer.Typer, filters: dict[str, Any]) -> None:
    for name, info in sorted(filters.items()):
        app.command(name, help=_help_text(info.cls), short_help=info.cls.summary,
                    rich_help_panel="Filters", context_settings=CONTEXT,
                    cls=PanelCommand)(build_command(info.cls))

