"""Parsing a chain such as ``"detect | denoise-lr | colorize-cnn --weights X"``.

Each stage is written exactly as it would be in a shell pipe, and its options
are parsed and validated by that filter's own command (the click command that
``oldphoto NAME`` runs), so a chain accepts and refuses what the pipe would.
A :class:`Stage` is a picklable spec (its name and argv): a worker process, or
a Ray actor, rebuilds the filter from it with :meth:`Stage.build`.

    >>> stages = parse_chain("age --seed 1 | detect")
    >>> [(s.name, s.argv) for s in stages]
    [('age', ('--seed', '1')), ('detect', ())]
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter


class ChainError(OldphotoError):
    """A chain that cannot run: one line naming the stage and the problem."""


@dataclass(frozen=True)
class Stage:
    """One filter of a chain: its name and its arguments as typed (picklable)."""

    name: str
    argv: tuple[str, ...] = ()
    index: int = 1  # position in the chain, from 1, for messages

    @property
    def label(self) -> str:
        return f"stage {self.index} ({self.name})"

    @property
    def cls(self) -> type[Filter]:
        return _filter_class(self)

    def options(self) -> dict[str, Any]:
        """The filter's own option values, parsed by its command and checked by the filter."""
        values = _parse_options(self)
        try:
            self.cls(device="cpu", **values)
        except ValueError as err:
            raise ChainError(f"{self.label}: {err}") from None
        return values

    def build(self, device: str = "cpu") -> Filter:
        """A new filter object for this stage (not set up: call ``setup`` where it runs)."""
        try:
            return self.cls(device=device, **_parse_options(self))
        except ValueError as err:
            raise ChainError(f"{self.label}: {err}") from None

    def __str__(self) -> str:
        return shlex.join([self.name, *self.argv])


def parse_chain(text: str) -> list[Stage]:
    """Split ``text`` on ``|`` (shell quoting respected) and check every stage's options.

    Raises :class:`ChainError` with one line naming the stage and its problem.
    """
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars="|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as err:
        raise ChainError(f"chain {text!r}: {err}") from None
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "|":
            groups.append([])
        elif set(token) == {"|"}:
            raise ChainError(f"chain {text!r}: {token!r} is not a pipe; separate stages with |")
        else:
            groups[-1].append(token)
    if not any(groups):
        raise ChainError('empty chain: give filters separated by |, e.g. "detect | denoise-lr"')
    stages = []
    for index, group in enumerate(groups, start=1):
        if not group:
            raise ChainError(f"stage {index} is empty (two | in a row, or one at an end)")
        stage = Stage(group[0], tuple(group[1:]), index)
        stage.options()
        stages.append(stage)
    return stages


def _filter_class(stage: Stage) -> type[Filter]:
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(stage.name)
    if info is None:
        known = ", ".join(sorted(registered_filters()))
        raise ChainError(f"stage {stage.index}: no filter {stage.name!r} (filters: {known})")
    return info.cls


@cache
def _command(name: str) -> Any:
    """The click command of ``oldphoto NAME``, built by the same code as the CLI's."""
    import typer
    import typer.main

    from oldphoto.cli.filter_commands import add_filter_commands
    from oldphoto.plugins import registered_filters

    app = typer.Typer()
    add_filter_commands(app, {name: registered_filters()[name]})
    app.callback()(lambda: None)  # a callback makes typer build a group, even for one command
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def _parse_options(stage: Stage) -> dict[str, Any]:
    """Parse ``stage.argv`` with the filter's own command; refuse the chain's own options."""
    import typer.core

    from oldphoto.plugins import RESERVED_OPTIONS

    click = getattr(typer.core, "_click", None) or typer.core.click  # vendored since typer 0.2x

    _filter_class(stage)
    if any(arg in ("-h", "--help") for arg in stage.argv):
        raise ChainError(f"{stage.label}: for its options, run `oldphoto {stage.name} -h`")
    command = _command(stage.name)
    try:
        ctx = command.make_context(f"oldphoto {stage.name}", list(stage.argv))
    except click.ClickException as err:
        raise ChainError(f"{stage.label}: {_one_line(err.format_message())}") from None
    for param in command.params:
        if param.name not in RESERVED_OPTIONS:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name != "DEFAULT":
            if param.param_type_name == "argument":
                raise ChainError(f"{stage.label}: unexpected argument "
                                 f"{' '.join(ctx.params[param.name])!r}; inputs go after "
                                 "the chain")
            flag = max(param.opts, key=len)
            raise ChainError(f"{stage.label}: {flag} is an option of the chain, not of a "
                             f"stage; put it after the chain (oldphoto chain \"...\" {flag} ...)")
    return {k: v for k, v in ctx.params.items() if k not in RESERVED_OPTIONS}


def _one_line(text: str) -> str:
    return " ".join(text.split())
