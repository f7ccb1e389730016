"""The pluggy hooks through which oldphoto finds filters and commands.

Built-in filters use exactly these hooks, through the ``oldphoto`` entry-point
group, so a third-party plugin is a first-class citizen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from oldphoto.filter import Filter

hookspec = pluggy.HookspecMarker("oldphoto")
hookimpl = pluggy.HookimplMarker("oldphoto")


@hookspec
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    """Call ``register(FilterClass)`` once for each filter the plugin offers."""


@hookspec
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """Add whole commands: top-level ones to ``cli``, trainers and benches to the groups."""
