"""``oldphoto chain "A | B | C" INPUTS...``: several filters in one process.

The command takes every input and output option of a filter (the same
parameters, built by the same code); the chain's text is parsed by
:mod:`oldphoto.scale.chain`, each stage by its filter's own command.
"""

from __future__ import annotations

import inspect
from typing import Any

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

        def work() -> int:
            stages = tuple(parse_chain(text))
            return run_filter(chain_class(stages), {"stages": stages}, run)

        run_and_exit("chain", work)

    chain = inspect.Parameter("chain", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                              default=typer.Argument(..., metavar="CHAIN", show_default=False,
                                                     help='The filters, as in a pipe: '
                                                          '"detect | denoise-lr --window 7".'))
    with_signature(command, [chain, *_common_parameters()])
    command.__doc__ = HELP
    return command


def add_chain_command(app: typer.Typer) -> None:
    app.command("chain", rich_help_panel="Scale", context_settings=CONTEXT,
                cls=PanelCommand, short_help="Run several filters in one process.")(
        build_chain_command())
