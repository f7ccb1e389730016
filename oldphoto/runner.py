"""Running one filter over inputs: read, batch, transform, write, report.

The filter is set up once per process; frames are read lazily and written as
soon as their batch is done, so memory stays flat. A bad input costs one line
and the run goes on; the exit status says whether anything failed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from oldphoto import codecs
from oldphoto.codecs import format_of
from oldphoto.console import Progress, say
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.inputs import STDIN, Failure, discover, iter_frames
from oldphoto.outputs import OutputError, PathSink, StreamFileSink, choose_sink


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
    max_pixels: int | None = None
    flatten_rename: bool = False


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
    limit = codecs.MAX_PIXELS
    try:
        if run.max_pixels is not None:
            codecs.MAX_PIXELS = run.max_pixels
        return _run_all(cls, values, run, inputs, prefix)
    finally:
        codecs.MAX_PIXELS = limit


def _run_all(cls: type[Filter], values: dict[str, Any], run: RunOptions, inputs: list[str],
             prefix: str) -> int:
    items, roots = discover(inputs, run.recursive)
    files = [item.path for item in items if item.path is not None]
    sink = choose_sink(run.output, run.to, run.overwrite, len(items) > 1, files, roots)
    if isinstance(sink, PathSink):
        planned = [i for i, item in enumerate(items)  # a saved stream names its own frames
                   if item.path is not None and item.problem is None
                   and format_of(item.name) != "stream"]
        names = sink.plan([(items[i].label, items[i].name) for i in planned], run.flatten_rename)
        for i, name in zip(planned, names, strict=True):
            items[i] = replace(items[i], name=name)
    try:
        with _signals_end_the_run():
            return _run(cls, values, run, items, sink, prefix)
    except BaseException as err:
        sink.abort()
        if isinstance(err, OutputError) and not isinstance(sink, PathSink | StreamFileSink):
            _silence_stdout()  # stdout failed: let Python exit without a second complaint
        raise


@contextmanager
def _signals_end_the_run() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so temporary files are removed on the way out."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _origin(cls: type[Filter]) -> str:
    """Who provides a filter, for error lines that must name the plugin."""
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(cls.name)
    if info is not None and info.cls is cls:
        return "built-in" if info.origin == "built-in" else f"plugin {info.origin}"
    return f"module {cls.__module__}"


def _run(cls: type[Filter], values: dict[str, Any], run: RunOptions, items: list,
         sink: Any, prefix: str) -> int:
    try:
        filt = cls(device=run.device, **values)
    except ValueError as err:
        raise OldphotoError(str(err)) from None
    try:
        filt.setup()
    except OldphotoError:
        raise
    except Exception as err:
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        raise OldphotoError(f"filter {cls.name} ({_origin(cls)}) failed to set up: "
                            f"{type(err).__name__}: {_first_line(err)}") from None
    tally = Tally()
    total = None if any(item.path is None for item in items) else len(items)
    with Progress(cls.name, total, enabled=not run.quiet) as progress:
        try:
            for batch in _batches(iter_frames(items), max(1, cls.batch_size)):
                _run_batch(filt, batch, sink, tally, progress, prefix)
                progress.advance(len(batch))
            for note in sink.close():
                progress.log(f"{prefix}: {note}")
        except BrokenPipeError:
            _silence_stdout()
            return 0 if not tally.failed else 1
        _call_hook(filt.finish, cls)
    line = _call_hook(filt.report, cls)
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
    for frame in results:
        frame.meta.setdefault("history", []).append(filt.record)
        try:
            result = sink.write(frame)
        except (BrokenPipeError, OutputError):
            raise
        except OldphotoError as err:
            tally.failed += 1
            progress.log(f"{prefix}: {err}")
            continue
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


def _call_hook(hook: Any, cls: type[Filter]) -> Any:
    """``finish`` and ``report`` of a plugin may fail: one line naming it, not a traceback."""
    try:
        return hook()
    except OldphotoError:
        raise
    except Exception as err:
        if os.environ.get("OLDPHOTO_DEBUG"):
            raise
        raise OldphotoError(f"filter {cls.name} ({_origin(cls)}): {hook.__name__}() failed: "
                            f"{type(err).__name__}: {_first_line(err)}") from None


def _bad_results(results: object, expected: int) -> str | None:
    """What is wrong with what a filter returned, if anything (plugins may return anything)."""
    if not isinstance(results, list | tuple):
        return f"returned {type(results).__name__}, not a list of frames"
    for result in results:
        if not isinstance(result, Frame):
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
        message = reason if reason.startswith(frame.name) else f"{frame.name}: {reason}"
        progress.log(f"{prefix}: {message}")


#: A batch closes once it holds this many pixels, before the next frame is read, so a folder of
#: 12 MP scans goes through a batching filter one photo at a time and memory stays flat,
#: while small photos still batch in full.
BATCH_PIXELS = 2_000_000


def _batches(entries: Iterable[Frame | Failure], size: int) -> Iterator[list[Frame | Failure]]:
    batch: list[Frame | Failure] = []
    pixels = 0
    for entry in entries:
        batch.append(entry)
        if isinstance(entry, Frame):
            pixels += entry.pixels.shape[0] * entry.pixels.shape[1]
        if len(batch) >= size or pixels >= BATCH_PIXELS:  # before reading the next frame
            yield batch
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
