"""What runs in Ray's workers for ``--engine ray``: read, one stage, write.

Each function takes and returns a batch (a dict of columns, one row per input);
an input's frames (its pages) travel together in one :class:`Carry`, so a
multi-page file is written by one sink, as the local engine writes it. Each
worker process builds a stage's filter once and keeps it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto import codecs
from oldphoto.codecs import temp_file
from oldphoto.errors import OldphotoError
from oldphoto.frame import Frame
from oldphoto.inputs import Failure, Item, iter_frames
from oldphoto.outputs import OutputError, PathSink
from oldphoto.runner import Tally, _write
from oldphoto.scale.chain import Stage


@dataclass(frozen=True)
class Settings:
    """What each worker must know that the CLI set in the driver's process."""

    device: str
    max_pixels: int
    quality: int
    compress: str
    prefix: str
    kill: str | None = None

    def apply(self) -> None:
        codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION = (
            self.max_pixels, self.quality, self.compress)


@dataclass
class Carry:
    """One input's frames (its pages) on their way through the stages, and what went wrong."""

    frames: list[Frame] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    failed: int = 0
    fatal: str | None = None  # the run cannot go on (a model that fails to load, a full disk)


@dataclass(frozen=True)
class Target:
    """The ``-o`` the driver chose, rebuilt as a sink in each write task."""

    path: str
    as_folder: bool
    to: str | None
    overwrite: bool

    def sink(self, source: str) -> PathSink:
        return _WorkerSink(Path(self.path), self.as_folder, self.to, self.overwrite,
                           {Path(source).resolve()})


class _WorkerSink(PathSink):
    """Leaves temporary files alone: on a cluster a live writer on another node looks dead
    from here. The driver removes those of dead workers once every worker is done."""

    def _clean(self, folder: Path) -> None:
        return None


def _column(values: list[Any]) -> np.ndarray:
    """An object column Ray carries as it is."""
    column = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        column[index] = value
    return column


def _die_if_asked(settings: Settings, where: str, name: str, dest: Path | None = None) -> None:
    """The test hook (KILL_ENV): die here once, mid-write when ``dest`` is given."""
    if not settings.kill:
        return
    marks, _, targets = settings.kill.partition(":")
    if f"{where}={name}" not in targets.split(","):
        return
    try:
        os.close(os.open(Path(marks) / f"{where}={name}".replace("/", "_"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    if dest is not None:  # what a kill -9 in mid-write leaves: half a temporary file
        os.write(temp_file(dest)[0], b"half an image")
    os._exit(1)


def read_rows(batch: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    settings.apply()
    carries = []
    for path, name in zip(batch["path"], batch["name"], strict=True):
        carry = Carry()
        for entry in iter_frames([Item(Path(str(path)), str(name))]):
            if isinstance(entry, Failure):
                carry.failed += 1
                carry.lines.append(entry.message)
            else:
                carry.lines.extend(entry.notes)
                entry.notes.clear()
                carry.frames.append(entry)
        carries.append(carry)
    return {"i": batch["i"], "name": batch["name"], "path": batch["path"],
            "carry": _column(carries)}


class StageActor:
    """One stage in one process: its filter built and set up once, then fed batch after batch."""

    def __init__(self, stage: Stage, settings: Settings) -> None:
        from oldphoto.scale.chained import Chain

        settings.apply()
        self.stage, self.settings = stage, settings
        self.fatal: str | None = None
        try:
            self.unit = Chain(settings.device, stages=(stage,))
            self.unit.setup()
        except OldphotoError as err:
            self.fatal = f"{stage.label}: {err}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.settings.apply()
        carries: list[Carry] = list(batch["carry"])
        for name in batch["name"]:
            _die_if_asked(self.settings, self.stage.name, str(name))
        owners, frames = [], []
        for index, carry in enumerate(carries):
            carry.fatal = carry.fatal or self.fatal
            if carry.fatal is None:
                owners += [index] * len(carry.frames)
                frames += carry.frames
                carry.frames = []
        if frames:
            results = self.unit.process(frames)
            record = self.unit.record
            for index, result in zip(owners, results, strict=True):
                if isinstance(result, Failure):
                    carries[index].failed += 1
                    carries[index].lines.append(result.message)
                else:
                    result.meta.setdefault("history", []).append(record)
                    carries[index].frames.append(result)
        return {**batch, "carry": _column(carries)}


#: The stages a task's worker process has built: a model-free filter is built once per
#: process too, not once per batch.
_BUILT: dict[tuple[Stage, Settings], StageActor] = {}


def stage_task(batch: dict[str, np.ndarray], stage: Stage,
                settings: Settings) -> dict[str, np.ndarray]:
    unit = _BUILT.get((stage, settings))
    if unit is None:
        unit = _BUILT[(stage, settings)] = StageActor(stage, settings)
    return unit(batch)


class _Lines:
    """Stands for the progress display in a worker: keeps the lines for the driver."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)

    def advance(self, steps: int = 1) -> None:
        return None


def write_rows(batch: dict[str, np.ndarray], target: Target,
                settings: Settings) -> dict[str, np.ndarray]:
    settings.apply()
    counts: dict[str, list[Any]] = {"done": [], "skipped": [], "failed": [], "lines": [],
                                    "fatal": []}
    for path, name, carry in zip(batch["path"], batch["name"], batch["carry"], strict=True):
        tally, lines = Tally(failed=carry.failed), _Lines()
        lines.lines += [f"{settings.prefix}: {line}" for line in carry.lines]
        fatal = carry.fatal
        if fatal is None and carry.frames:
            sink = target.sink(str(path))
            _die_if_asked(settings, "write", str(name), sink.destination(carry.frames[0])[0])
            try:
                for frame in carry.frames:
                    _write(frame, sink, tally, lines, settings.prefix)
                lines.lines += [f"{settings.prefix}: {note}" for note in sink.close()]
                # the driver planned only missing outputs: one that exists now was written
                # by this run, before a worker died and its batch was retried
                tally.done, tally.skipped = tally.done + tally.skipped, 0
            except OutputError as err:
                sink.abort()
                fatal = str(err)
        for key, value in (("done", tally.done), ("skipped", tally.skipped),
                           ("failed", tally.failed), ("lines", "\n".join(lines.lines)),
                           ("fatal", fatal or "")):
            counts[key].append(value)
    return {"i": batch["i"], **{key: np.array(value) for key, value in counts.items()}}

