"""What a filter is: a name, a summary, typed options, a setup and a transform.

The CLI turns every registered :class:`Filter` into a subcommand with one
``--option`` per :class:`Option`, so a filter never parses arguments itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from oldphoto.frame import Frame

OPTION_TYPES = (int, float, str, bool, Path)
#: Integer options with these names seed random generators, which take no negative seed.
SEED_NAMES = {"seed", "random_seed"}


@dataclass(frozen=True)
class Option:
    """One typed, validated option of a filter.

    ``name`` is a Python identifier; the CLI spells it ``--name-with-dashes``.
    ``choices`` restricts a ``str`` option; ``min``/``max`` bound a number.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise TypeError(f"option {self.name}: type must be one of {OPTION_TYPES}")
        if self.name in SEED_NAMES and self.type is int and self.min is None:
            # numpy and torch refuse negative seeds; refuse them once, at the command line
            object.__setattr__(self, "min", 0)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """Coerce and check a value; raise ValueError naming the flag."""
        if value is None:
            return None
        if self.type is Path:
            return Path(value)
        try:
            value = self.type(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{self.flag}: {value!r} is not a {self.type.__name__}") from err
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.flag}: {value!r} is not one of {', '.join(self.choices)}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{self.flag}: {value} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{self.flag}: {value} is above the maximum {self.max}")
        return value


class Filter:
    """Base class of every filter, built-in or plugin.

    Subclasses set ``name``, ``summary`` and ``options``, may override
    :meth:`setup` (runs once per process: load weights, pick the device) and
    override :meth:`process_frame` or, to batch, :meth:`process`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    #: How many frames :meth:`process` receives at once.
    batch_size: ClassVar[int] = 1
    #: The frames pass on unchanged and the report is the result (``score``): at a
    #: terminal nothing is written, instead of the usual refusal.
    passes_through: ClassVar[bool] = False
    #: Its model runs on ``--device``: under ``--engine ray --device cuda`` each of its
    #: actors takes a GPU (filters without one stay on CPU nodes).
    uses_accelerator: ClassVar[bool] = False

    def __init__(self, device: str = "cpu", **values: Any) -> None:
        self.device = device
        known = {opt.name: opt for opt in self.options}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {', '.join(sorted(unknown))}")
        checked = {
            name: opt.validate(values.get(name, opt.default)) for name, opt in known.items()
        }
        self.params = SimpleNamespace(**checked)

    @property
    def record(self) -> dict[str, Any]:
        """The entry this filter adds to each frame's ``history``."""
        values = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.params).items()}
        return {"filter": self.name, "options": values}

    def setup(self) -> None:
        """Prepare once per process (weights, device). Default: nothing."""

    def process(self, frames: list[Frame]) -> list[Frame]:
        """Transform a batch. Default: one frame at a time."""
        return [self.process_frame(frame) for frame in frames]

    def finish(self) -> None:
        """Called once after the last frame (print a summary, free memory). Default: nothing."""

    def report(self) -> str | None:
        """One line the runner prints on stderr after the run, unless -q. Default: none."""
        return None

    def process_frame(self, frame: Frame) -> Frame:
        raise NotImplementedError(f"{type(self).__name__} must implement process_frame or process")
