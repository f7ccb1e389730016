"""``oldphoto chain "A | B | C" INPUTS...``: several filters in one process.

The command takes every input and output option of a filter (the same
parameters, built by the same code); the chain's text is parsed by
:mod:`oldphoto.scale.chain`, each stage by its filter's own command.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import typer

from oldphoto.cli.filter_commands import (
    CONTEXT,
    PanelCommand,
    _common_parameters,
    run_and_exit,
    with_signature,
)
from oldphoto.plugins import RESERVED_OPTIONS
from oldphoto.runner import RunOptions, run_filter

HELP = """Run several filters in one process, written as a shell pipe would be.

  oldphoto chain "detect | denoise-lr | colorize-cnn" scans/ -r -o restored/ --jobs 2

Each stage takes its filter's own options, checked as `oldphoto NAME` checks
them; the inputs, -o and every option below belong to the chain. The outputs
are the pipe's, without a stream between the stages.
"""


def build_chain_command() -> Any:
    """A function whose signature typer turns into ``oldphoto chain``."""

    def command(**kwargs: Any) -> None:
        from oldphoto.scale.chain import parse_chain
        from oldphoto.scale.chained import chain_class

        text = kwargs.pop("chain")
        run = RunOptions(**{k: kwargs.pop(k) for k in list(kwargs) if k in RESERVED_OPTIONS})
        run.engine = "ray" if run.address else run.engine

        def work() -> int:
            stages = tuple(parse_chain(text))
            return run_filter(chain_class(stages), {"stages": stages}, run)

        run_and_exit("chain", work)

    chain = inspect.Parameter("chain", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                              default=typer.Argument(..., metavar="CHAIN", show_default=False,
                                                     help='The filters, as in a pipe: '
                                                          '"detect | denoise-lr --window 7".'))
    with_signature(command, [chain, *_common_parameters(), *engine_parameters()])
    command.__doc__ = HELP
    return command


def engine_parameters() -> list[inspect.Parameter]:
    """--engine and --address: where the chain runs (the fields of RunOptions they fill)."""
    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)

    return [
        param("engine", Literal["local", "ray"], typer.Option(
            "local", "--engine", rich_help_panel="Scale",
            help="local: this machine (--jobs N processes). ray: Ray Data, model stages in "
                 "actor pools (one GPU each under --device cuda); needs oldphoto[ray].")),
        param("address", str | None, typer.Option(
            None, "--address", metavar="ADDR", rich_help_panel="Scale", show_default=False,
            help="The Ray cluster to join (auto, or HOST:6379); implies --engine ray. "
                 "Default: start a local Ray instance.")),
    ]


def add_chain_command(app: typer.Typer) -> None:
    app.command("chain", rich_help_panel="Scale", context_settings=CONTEXT,
                cls=PanelCommand, short_help="Run several filters in one process.")(
        build_chain_command())
