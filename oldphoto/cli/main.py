"""The ``oldphoto`` command: one subcommand per registered filter, plus trainers and benches."""

from __future__ import annotations

import sys

import typer

from oldphoto import __version__
from oldphoto.cli.chain_command import add_chain_command
from oldphoto.cli.filter_commands import CONTEXT, add_filter_commands, use_panels
from oldphoto.errors import OldphotoError
from oldphoto.plugins import register_commands, registered_filters

HELP = """Restore old photos with Unix-style filters that pipe frames to each other.

  oldphoto age in.png | oldphoto detect | oldphoto denoise-lr | oldphoto colorize-cnn > out.png
"""


def build_app() -> typer.Typer:
    """Assemble the CLI from the plugin registry (built-ins register like any plugin)."""
    app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None,
                      context_settings=CONTEXT)
    train = typer.Typer(help="Train models with the project's own data pipeline.",
                        no_args_is_help=True, context_settings=CONTEXT)
    bench = typer.Typer(help="Measure quality and speed against baselines.",
                        no_args_is_help=True, context_settings=CONTEXT)

    @app.callback(invoke_without_command=True)
    def root(version: bool = typer.Option(False, "--version", help="Show the version.")) -> None:
        if version:
            typer.echo(f"oldphoto {__version__}")
            raise typer.Exit(0)

    @app.command("filters", rich_help_panel="Information")
    def list_filters() -> None:
        """List every filter, built-in or plugin, with where it comes from."""
        for name, info in sorted(registered_filters().items()):
            typer.echo(f"{name:18} {info.origin:24} {info.cls.summary}")

    add_filter_commands(app, registered_filters())
    add_chain_command(app)
    register_commands(app, train, bench)
    use_panels(app, train, bench)
    app.add_typer(train, name="train", rich_help_panel="Models")
    app.add_typer(bench, name="bench", rich_help_panel="Models")
    return app


def main() -> None:
    """Entry point: run the CLI, turning any user error into one line on stderr."""
    try:
        build_app()(prog_name="oldphoto")
    except OldphotoError as err:
        print(f"oldphoto: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
