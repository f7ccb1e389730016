"""Finding filters and commands: one pluggy manager fed from the ``oldphoto`` entry points.

Set ``OLDPHOTO_LOAD_PLUGINS`` to a comma-separated list of distribution names
to load only those third-party plugins (empty: built-ins only), as the tests do.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

import pluggy

from oldphoto import hookspecs
from oldphoto.filter import Filter

if TYPE_CHECKING:
    import typer

GROUP = "oldphoto"
BUILTIN_DIST = "oldphoto"
RESERVED_OPTIONS = {"inputs", "recursive", "output", "to", "device", "overwrite", "quiet",
                    "max_pixels", "flatten_rename"}


@dataclass(frozen=True)
class FilterInfo:
    """A registered filter class and where it came from (for ``oldphoto filters``)."""

    cls: type[Filter]
    origin: str  # e.g. "built-in" or "oldphoto-sharpen 0.1.0"
    module: str


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """Load every allowed entry point once; a broken plugin costs one stderr line."""
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    allowed = os.environ.get("OLDPHOTO_LOAD_PLUGINS")
    allowed_names = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for entry in _entry_points():
        dist = _dist_name(entry)
        if dist != BUILTIN_DIST and allowed_names is not None and dist not in allowed_names:
            continue
        try:
            module = entry.load()
            manager.register(module, name=f"{dist}:{entry.name}")
        except Exception as err:  # a plugin's bug must not take the tool down
            _complain(f"plugin '{entry.name}' ({dist}) failed to load: "
                      f"{type(err).__name__}: {_first_line(err)}")
    return manager


def _entry_points() -> list[EntryPoint]:
    """Built-ins first, then plugins by distribution and entry name: the same order every run."""
    return sorted(entry_points(group=GROUP),
                  key=lambda e: (_dist_name(e) != BUILTIN_DIST, _dist_name(e), e.name, e.value))


def ordered_plugins() -> list[tuple[str, object]]:
    """(name, module) in loading order (pluggy's own ``get_plugins`` is a set)."""
    return [(name, plugin) for name, plugin in plugin_manager().list_name_plugin()
            if plugin is not None]


def _dist_name(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.name if dist is not None else "unknown"


def _origin(plugin_name: str) -> str:
    dist = plugin_name.split(":", 1)[0]
    if dist == BUILTIN_DIST:
        return "built-in"
    try:
        from importlib.metadata import version

        return f"{dist} {version(dist)}"
    except Exception:
        return dist


@lru_cache(maxsize=1)
def registered_filters() -> dict[str, FilterInfo]:
    """Every filter by name. Built-ins come first, so a plugin can never take their names."""
    found: dict[str, FilterInfo] = {}
    for name, plugin in ordered_plugins():
        impl = getattr(plugin, "register_filters", None)
        if impl is None:
            continue

        def register(cls: type[Filter], _origin_name: str = name) -> None:
            _add_filter(found, cls, _origin_name)

        try:
            impl(register=register)
        except Exception as err:
            _complain(f"plugin '{name}' failed to register filters: {type(err).__name__}: "
                      f"{_first_line(err)}")
    return found


def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """Let each plugin add commands, in loading order; one that raises, or that reuses a
    command name already taken, costs one line and changes nothing."""
    groups = (cli, train, bench)
    for name, plugin in ordered_plugins():
        impl = getattr(plugin, "register_commands", None)
        if impl is None:
            continue
        before = [(list(g.registered_commands), list(g.registered_groups)) for g in groups]
        try:
            impl(cli=cli, train=train, bench=bench)
        except Exception as err:
            for group, (commands, subgroups) in zip(groups, before, strict=True):
                group.registered_commands[:] = commands
                group.registered_groups[:] = subgroups
            _complain(f"plugin '{name}' failed to register commands: {type(err).__name__}: "
                      f"{_first_line(err)}")
            continue
        for group, (commands, _) in zip(groups, before, strict=True):
            taken = {_command_name(c) for c in commands}
            if group is cli:
                taken |= set(registered_filters()) | {"filters", "train", "bench"}
            for command in group.registered_commands[len(commands):]:
                if _command_name(command) in taken:
                    group.registered_commands.remove(command)
                    _complain(f"plugin '{name}': command '{_command_name(command)}' is already "
                              "taken; ignored")


def _command_name(command: object) -> str:
    explicit = getattr(command, "name", None)
    if explicit:
        return str(explicit)
    callback = getattr(command, "callback", None)
    return getattr(callback, "__name__", "").replace("_", "-")


def _complain(message: str) -> None:
    print(f"oldphoto: {message}", file=sys.stderr)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else ""


def _add_filter(found: dict[str, FilterInfo], cls: type[Filter], plugin_name: str) -> None:
    problem = _filter_problem(cls)
    if problem:
        _complain(f"plugin '{plugin_name}': {problem}; ignored")
        return
    if cls.name in found:
        _complain(f"plugin '{plugin_name}': filter '{cls.name}' is already registered by "
                  f"{found[cls.name].origin}; refused")
        return
    found[cls.name] = FilterInfo(cls, _origin(plugin_name), cls.__module__)


def _filter_problem(cls: object) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, Filter)):
        return f"{cls!r} is not an oldphoto Filter"
    if not getattr(cls, "name", None) or not getattr(cls, "summary", None):
        return f"{cls.__name__} has no name or summary"
    clash = RESERVED_OPTIONS & {opt.name for opt in cls.options}
    if clash:
        return f"filter '{cls.name}' uses reserved option name(s) {', '.join(sorted(clash))}"
    return None
