"""Running one filter over inputs: read, batch, transform, write, report.

The filter is set up once per process; frames are read lazily and written as
soon as their batch is done, so memory stays flat. A bad input costs one line
and the run goes on; the exit status says whether anything failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from oldphoto.console import Progress, say
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.inputs import STDIN, Failure, discover, iter_frames
from oldphoto.outputs import choose_sink


@dataclass
class RunOptions:
    """The options every filter command shares."""

    inputs: list[str] = field(default_factory=list)
    recursive: bool = False
    output: str | None = None
    to: str | None = None
    device: str = "cpu"
    overwrite: bool = False
    quiet: bool = False


@dataclass
class Tally:
    done: int = 0
    skipped: int = 0
    failed: int = 0


def run_filter(cls: type[Filter], values: dict[str, Any], run: RunOptions) -> int:
    """Run ``cls`` with option ``values`` as the CLI asked; returns the exit status."""
    prefix = f"oldphoto {cls.name}"
    inputs = list(run.inputs)
    if not inputs:
        if sys.stdin.isatty():
            raise OldphotoError("no input: give image files or folders (-r), or pipe an image "
                                "or an oldphoto stream into stdin")
        inputs = [STDIN]
    items, roots = discover(inputs, run.recursive)
    files = [item.path for item in items if item.path is not None]
    sink = choose_sink(run.output, run.to, run.overwrite, len(items) > 1, files, roots)
    try:
        return _run(cls, values, run, items, sink, prefix)
    except BaseException:
        sink.abort()
        raise


def _run(cls: type[Filter], values: dict[str, Any], run: RunOptions, items: list,
         sink: Any, prefix: str) -> int:
    try:
        filt = cls(device=run.device, **values)
    except ValueError as err:
        raise OldphotoError(str(err)) from None
    filt.setup()
    tally = Tally()
    total = None if any(item.path is None for item in items) else len(items)
    with Progress(cls.name, total, enabled=not run.quiet) as progress:
        try:
            for batch in _batches(iter_frames(items), max(1, cls.batch_size)):
                _run_batch(filt, batch, sink, tally, progress, prefix)
                progress.advance(len(batch))
            sink.close()
        except BrokenPipeError:
            _silence_stdout()
            return 0 if not tally.failed else 1
        filt.finish()
    line = filt.report()
    if line and not run.quiet:
        say(f"{prefix}: {line}")
    seen = tally.done + tally.skipped + tally.failed
    if seen > 1 and (tally.failed or not run.quiet):
        say(f"{prefix}: {tally.done} done, {tally.skipped} skipped, {tally.failed} failed")
    return 1 if tally.failed else 0


def _run_batch(filt: Filter, batch: list[Frame | Failure], sink: Any, tally: Tally,
               progress: Progress, prefix: str) -> None:
    frames = []
    for entry in batch:
        if isinstance(entry, Failure):
            tally.failed += 1
            progress.log(f"{prefix}: {entry.message}")
        else:
            frames.append(entry)
    if not frames:
        return
    try:
        results = filt.process(frames)
    except OldphotoError as err:
        _fail_all(frames, str(err), tally, progress, prefix)
        return
    except Exception as err:  # a filter bug: report it per frame and keep going
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        _fail_all(frames, f"{type(err).__name__}: {err}", tally, progress, prefix)
        return
    for frame in results:
        frame.meta.setdefault("history", []).append(filt.record)
        try:
            result = sink.write(frame)
        except OldphotoError as err:
            tally.failed += 1
            progress.log(f"{prefix}: {err}")
            continue
        except BrokenPipeError:
            raise
        except OSError as err:
            tally.failed += 1
            progress.log(f"{prefix}: {frame.name}: cannot write ({err.strerror or err})")
            continue
        except Exception as err:  # an encoder's surprise: one line, keep going
            if os.environ.get("OLDPHOTO_DEBUG"):
                raise
            tally.failed += 1
            progress.log(f"{prefix}: {frame.name}: cannot encode ({type(err).__name__}: {err})")
            continue
        if result.skipped:
            tally.skipped += 1
            progress.log(f"{prefix}: skipped {result.skipped}")
        else:
            tally.done += 1


def _fail_all(frames: list[Frame], reason: str, tally: Tally, progress: Progress,
              prefix: str) -> None:
    for frame in frames:
        tally.failed += 1
        message = reason if reason.startswith(frame.name) else f"{frame.name}: {reason}"
        progress.log(f"{prefix}: {message}")


def _batches(entries: Iterable[Frame | Failure], size: int) -> Iterator[list[Frame | Failure]]:
    batch: list[Frame | Failure] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _silence_stdout() -> None:
    """After the reader of our pipe went away, stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
