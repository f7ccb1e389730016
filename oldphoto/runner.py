"""Running one filter over inputs: read, batch, transform, write, report.

The filter is set up once per process; frames are read lazily and written as
soon as their batch is done, so memory stays flat. A bad input costs one line
and the run goes on; the exit status says whether anything failed.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from oldphoto import codecs
from oldphoto.codecs import format_of
from oldphoto.console import Progress, say
from oldphoto.destinations import choose_sink
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.inputs import STDIN, Failure, discover, iter_frames
from oldphoto.interrupts import GUARD, signals_end_the_run
from oldphoto.outputs import (
    NullSink,
    OutputError,
    PathSink,
    StdoutFileSink,
    StreamFileSink,
)
from oldphoto.peek import Work, count_frames, not_done


@dataclass
class RunOptions:
    """The options every filter command shares."""

    inputs: list[str] = field(default_factory=list)
    recursive: bool = False
    output: str | None = None
    to: str | None = None
    device: str = "auto"
    overwrite: bool = False
    quiet: bool = False
    max_pixels: int | None = None
    flatten_rename: bool = False
    quality: int = 95
    compress: str = "deflate"
    jobs: int = 1
    engine: str = "local"  # or "ray": oldphoto.scale.ray_engine
    address: str | None = None  # the Ray cluster to join; None starts a local instance


@dataclass
class Tally:
    done: int = 0
    skipped: int = 0
    failed: int = 0


def run_filter(cls: type[Filter], values: dict[str, Any], run: RunOptions) -> int:
    """Run ``cls`` with option ``values`` as the CLI asked; returns the exit status."""
    prefix = f"oldphoto {cls.name}"
    inputs = list(run.inputs or [])
    if not inputs:
        if sys.stdin.isatty():
            raise OldphotoError("no input: give image files or folders (-r), or pipe an image "
                                "or an oldphoto stream into stdin")
        inputs = [STDIN]
    saved = codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION
    if run.compress not in codecs.TIFF_CODECS:
        raise OldphotoError(f"--compress {run.compress}: expected one of "
                            f"{', '.join(codecs.TIFF_CODECS)}")
    try:
        if run.max_pixels is not None:
            codecs.MAX_PIXELS = run.max_pixels
        codecs.QUALITY, codecs.TIFF_COMPRESSION = run.quality, run.compress
        return _run_all(cls, values, run, inputs, prefix)
    finally:
        codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION = saved


def _run_all(cls: type[Filter], values: dict[str, Any], run: RunOptions, inputs: list[str],
             prefix: str) -> int:
    items, roots = discover(inputs, run.recursive)
    stdin, count = count_frames(items)
    files = [item.path for item in items if item.path is not None]
    sink = choose_sink(run.output, run.to, run.overwrite, count, files, roots,
                       pass_through=cls.passes_through)
    if isinstance(sink, PathSink):
        planned = [i for i, item in enumerate(items)  # a saved stream names its own frames
                   if item.path is not None and item.problem is None
                   and format_of(item.name) != "stream"]
        names = sink.plan([(items[i].label, items[i].name) for i in planned], run.flatten_rename)
        for i, name in zip(planned, names, strict=True):
            items[i] = replace(items[i], name=name)
    todo, skipped = not_done(items, sink)
    try:
        if run.engine == "ray":
            from oldphoto.scale.ray_engine import run_on_ray

            with signals_end_the_run():
                return run_on_ray(values, run, Work(todo, skipped, count.frames, stdin), sink,
                                  prefix)
        if run.jobs > 1:
            from oldphoto.scale.jobs import refuse_jobs, run_jobs

            refuse_jobs(run.jobs, items, sink, count.many)
            if len(todo) > 1:
                return run_jobs(cls, values, run, Work(todo, skipped, count.frames, None),
                                sink, prefix)
        with signals_end_the_run():
            return _run(cls, values, run, Work(todo, skipped, count.frames, stdin), sink, prefix)
    except BaseException as err:
        sink.abort()
        if isinstance(err, OutputError) and not isinstance(sink, PathSink | StreamFileSink):
            _silence_stdout()  # stdout failed: let Python exit without a second complaint
        raise


def _origin(cls: type[Filter]) -> str:
    """Who provides a filter, for error lines that must name the plugin."""
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(cls.name)
    if info is not None and info.cls is cls:
        return "built-in" if info.origin == "built-in" else f"plugin {info.origin}"
    return f"module {cls.__module__}"


def _run(cls: type[Filter], values: dict[str, Any], run: RunOptions, work: Work,
         sink: Any, prefix: str) -> int:
    started = time.monotonic()
    tally = Tally(skipped=work.skipped)
    try:
        filt = cls(device=run.device, **values)
    except ValueError as err:
        raise OldphotoError(str(err)) from None
    if not work.items:  # every output exists: no model to load, nothing to read
        _summary(prefix, run, tally, sink, started)
        return 0
    _setup(filt)
    device = _device_used(run.device)
    draw = not run.quiet and _draws(sink)
    with Progress(cls.name, work.total, enabled=draw, completed=work.skipped) as progress:
        try:
            for batch in _batches(iter_frames(work.items, work.stdin), max(1, filt.batch_size)):
                _run_batch(filt, batch, sink, tally, progress, prefix, device)
            for note in sink.close():
                progress.log(f"{prefix}: {note}")
        except BrokenPipeError:
            _silence_stdout()
            return 0 if not tally.failed else 1
        except KeyboardInterrupt:
            progress.stop()
            if _writes_files(sink):
                say(_interrupted(tally, work.total))
            raise
        _call_hook(filt.finish, cls)
    line = _call_hook(filt.report, cls)
    if line and not run.quiet:
        say(f"{prefix}: {line}")
    _summary(prefix, run, tally, sink, started)
    return 1 if tally.failed else 0


def _call_hook(hook: Any, cls: type[Filter], failure: str = "") -> Any:
    """A filter's ``setup``, ``finish`` or ``report`` may fail (a plugin's bug): one line
    naming the filter and its origin, not a traceback (``OLDPHOTO_DEBUG`` shows it)."""
    try:
        return hook()
    except OldphotoError:
        raise
    except Exception as err:
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        failure = failure or f"{hook.__name__}() failed"
        raise OldphotoError(f"filter {cls.name} ({_origin(cls)}) {failure}: "
                            f"{type(err).__name__}: {_first_line(err)}") from None


def _setup(filt: Filter) -> None:
    _call_hook(filt.setup, type(filt), "failed to set up")


def _draws(sink: Any) -> bool:
    """One display per terminal: a stage whose stdout feeds a pipe leaves it to the last one."""
    if isinstance(sink, PathSink | StreamFileSink | NullSink):
        return True
    try:
        return not stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return True


def _writes_files(sink: Any) -> bool:
    return isinstance(sink, PathSink | StreamFileSink | StdoutFileSink)


def _interrupted(tally: Tally, total: int | None) -> str:
    done = tally.done + tally.skipped
    left = f", {total - done - tally.failed} left" if total is not None else ""
    return f"interrupted: {done} done{left}; run the same command again to go on"


def _summary(prefix: str, run: RunOptions, tally: Tally, sink: Any, started: float) -> None:
    seen = tally.done + tally.skipped + tally.failed
    if ((run.quiet or not _draws(sink)) and not tally.failed) or seen == 0:
        return  # quiet, or a stage feeding a pipe: the last stage speaks for the pipe
    if seen == 1 and not tally.skipped:
        return  # one photo: its output, or its error line, says it all
    line = (f"{prefix}: {tally.done} done, {tally.skipped} skipped, {tally.failed} failed "
            f"in {time.monotonic() - started:.1f} s")
    place = getattr(sink, "place", None)
    if place and (tally.done or tally.skipped):
        line += f"; outputs in {place}"
    if tally.skipped:
        line += " (skipped: their outputs exist; --overwrite replaces them)"
    say(line)


def _device_used(requested: str) -> str:
    """Where the filter ran, for the history: a filter that loaded no torch ran on the CPU."""
    if "torch" not in sys.modules:
        return "cpu"
    from oldphoto.device import resolve_device

    try:
        return resolve_device(requested)
    except OldphotoError:
        return requested


def _run_batch(filt: Filter, batch: list[Frame | Failure], sink: Any, tally: Tally,
               progress: Progress, prefix: str, device: str) -> None:
    frames = []
    for entry in batch:
        if isinstance(entry, Failure):
            tally.failed += 1
            progress.log(f"{prefix}: {entry.message}")
            progress.advance(1)
        else:
            frames.append(entry)
            for note in entry.notes:
                progress.log(f"{prefix}: {note}")
    if not frames:
        return
    try:
        results = filt.process(frames)
    except OldphotoError as err:
        _fail_all(frames, str(err), tally, progress, prefix)
        return
    except MemoryError:
        _fail_all(frames, "out of memory: lower --max-pixels, or use a smaller working size "
                          "(or batch)", tally, progress, prefix)
        return
    except Exception as err:  # a filter bug: report it per frame and keep going
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        _fail_all(frames, f"{type(err).__name__}: {_first_line(err)}", tally, progress, prefix)
        return
    problem = _bad_results(results, len(frames))
    if problem:
        _fail_all(frames, f"filter {filt.name} ({_origin(type(filt))}) {problem}", tally,
                  progress, prefix)
        return
    record = filt.record  # a chain's names the device its last stage ran on
    for frame in results:
        if isinstance(frame, Failure):  # a chain's stage failed on this frame alone
            tally.failed += 1
            progress.log(f"{prefix}: {frame.message}")
            progress.advance(1)
            continue
        frame.meta.setdefault("history", []).append(
            {**record, "device": record.get("device", device)})
        with GUARD.writing():  # a Ctrl-C now waits until the photo is written and counted
            _write(frame, sink, tally, progress, prefix)


def _write(frame: Frame, sink: Any, tally: Tally, progress: Progress, prefix: str) -> None:
    try:
        result = sink.write(frame)
    except (BrokenPipeError, OutputError):
        raise
    except OldphotoError as err:
        tally.failed += 1
        progress.log(f"{prefix}: {err}")
        return
    except OSError as err:
        tally.failed += 1
        progress.log(f"{prefix}: {frame.name}: cannot write ({err.strerror or err})")
        return
    except Exception as err:  # an encoder's surprise: one line, keep going
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        tally.failed += 1
        progress.log(f"{prefix}: {frame.name}: cannot encode ({type(err).__name__}: {err})")
        return
    if result.skipped:
        tally.skipped += 1
    else:
        tally.done += 1
    progress.advance(1)


def _bad_results(results: object, expected: int) -> str | None:
    """What is wrong with what a filter returned, if anything (plugins may return anything)."""
    if not isinstance(results, list | tuple):
        return f"returned {type(results).__name__}, not a list of frames"
    for result in results:
        if not isinstance(result, Frame | Failure):
            return f"returned {type(result).__name__}, not a Frame"
    if len(results) != expected:
        return f"returned {len(results)} frames for {expected}"
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else ""


def _fail_all(frames: list[Frame], reason: str, tally: Tally, progress: Progress,
              prefix: str) -> None:
    for frame in frames:
        tally.failed += 1
        progress.advance(1)
        message = reason if reason.startswith(frame.name) else f"{frame.name}: {reason}"
        progress.log(f"{prefix}: {message}")


#: A batch should take about this long: the count moves photo by photo on big photos, and a
#: Ctrl-C loses at most this much work, while small photos still batch up to the filter's size.
BATCH_SECONDS = 0.5


#: A batch also closes once it holds this many pixels, before the next frame is read, so a
#: folder of 12 MP scans goes through a batching filter one photo at a time and memory
#: stays flat, while small photos still batch in full.
BATCH_PIXELS = 2_000_000


def _batches(entries: Iterable[Frame | Failure], limit: int,
             clock: Callable[[], float] = time.monotonic) -> Iterator[list[Frame | Failure]]:
    """Batches that start at one frame and grow, up to ``limit``, while they stay quick."""
    size, pixels = 1, 0
    batch: list[Frame | Failure] = []
    for entry in entries:
        batch.append(entry)
        if isinstance(entry, Frame):
            pixels += entry.pixels.shape[0] * entry.pixels.shape[1]
        if len(batch) >= size or pixels >= BATCH_PIXELS:  # before reading the next frame
            started = clock()
            yield batch  # the caller processes and writes it before resuming us
            each = (clock() - started) / len(batch)
            size = limit if each <= 0 else max(1, min(limit, int(BATCH_SECONDS / each)))
            batch, pixels = [], 0
    if batch:
        yield batch


def _silence_stdout() -> None:
    """After the reader of our pipe went away, stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
