"""Talking to the person at the terminal: one-line messages and an optional progress bar.

Stdout carries data only; everything here goes to stderr.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any


def rich_console(*, stderr: bool = True, min_width: int | None = None) -> Any:
    """The rich Console every table and bar of oldphoto prints through.

    Stderr unless a bench prints its table as its result; ``min_width`` keeps
    wide tables from wrapping in a narrow (or absent) terminal.
    """
    from rich.console import Console

    console = Console(stderr=stderr)
    if min_width is not None and console.width < min_width:
        console = Console(stderr=stderr, width=min_width)
    return console


def say(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


class Progress(AbstractContextManager["Progress"]):
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, description: str, total: int | None, enabled: bool,
                 completed: int = 0) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self.description = description
        self.total = total
        self.completed = completed

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=rich_console(), transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total,
                                            completed=self.completed)
        return self

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        """Move the bar on; ``description`` replaces its text (e.g. the running loss)."""
        if self._bar is not None:
            self._bar.update(self._task, advance=steps,
                             **({"description": description} if description else {}))

    def log(self, message: str) -> None:
        """A line that does not tear the bar."""
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            say(message)

    def stop(self) -> None:
        """End the display now (before a last line, such as the interruption's)."""
        if self._bar is not None:
            self._bar.stop()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
