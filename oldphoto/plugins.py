"""Finding filters and commands: one pluggy manager fed from the ``oldphoto`` entry points.

Set ``OLDPHOTO_LOAD_PLUGINS`` to a comma-separated list of distribution names
to load only those third-party plugins (empty: built-ins only), as the tests do.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

import pluggy

from oldphoto import hookspecs
from oldphoto.filter import Filter
from oldphoto.runner import RunOptions

GROUP = "oldphoto"
BUILTIN_DIST = "oldphoto"
#: Option names a filter may not use: the ones every filter command already has.
RESERVED_OPTIONS = frozenset(f.name for f in fields(RunOptions))


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
            reason = str(err).splitlines()[0] if str(err) else ""
            print(f"oldphoto: plugin '{entry.name}' ({dist}) failed to load: "
                  f"{type(err).__name__}: {reason}", file=sys.stderr)
    return manager


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=GROUP), key=lambda e: (_dist_name(e) != BUILTIN_DIST, e.name))


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
    """Every filter by name. A later duplicate name is reported and ignored."""
    manager = plugin_manager()
    found: dict[str, FilterInfo] = {}
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin) or "unknown"
        impl = getattr(plugin, "register_filters", None)
        if impl is None:
            continue

        def register(cls: type[Filter], _origin_name: str = name) -> None:
            _add_filter(found, cls, _origin_name)

        try:
            impl(register=register)
        except Exception as err:
            print(f"oldphoto: plugin '{name}' failed to register filters: "
                  f"{type(err).__name__}: {err}", file=sys.stderr)
    return found


def _add_filter(found: dict[str, FilterInfo], cls: type[Filter], plugin_name: str) -> None:
    problem = _filter_problem(cls)
    if problem:
        print(f"oldphoto: plugin '{plugin_name}': {problem}; ignored", file=sys.stderr)
        return
    if cls.name in found:
        print(f"oldphoto: plugin '{plugin_name}': filter '{cls.name}' already registered by "
              f"{found[cls.name].origin}; ignored", file=sys.stderr)
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
