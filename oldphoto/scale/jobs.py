"""``--jobs N``: N worker processes share one run's inputs, on one machine.

The parent does what a one-process run does before any work (list the
inputs, choose and check the outputs, skip the finished ones), then hands
the photos out a few at a time to whichever worker asks, draws the one
progress display and prints the summary. Each worker sets its filter up once
(models load once per worker), with the machine's cores divided among the
workers for torch, and writes through the same atomic writer, so the folder
tree and file names are those of ``--jobs 1``.

Only files go out in parallel: a stream on stdout must keep its order, so
``--jobs`` with stdout, or with stdin as input, is refused in one line.
Ctrl-C (or SIGTERM) stops the workers once the photo each is writing is
written, then says how many are done; the same command goes on.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from oldphoto import codecs
from oldphoto.console import Progress, say
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.inputs import Item, iter_frames
from oldphoto.interrupts import GUARD, signals_end_the_run
from oldphoto.outputs import PathSink

#: Photos handed out per request: few, so the workers finish together.
MAX_CHUNK = 8


def refuse_jobs(jobs: int, items: list[Item], sink: Any, many: bool) -> None:
    """Before any work: ``--jobs N`` on several photos writes files, from files."""
    if jobs <= 1 or not many:
        return
    if any(item.path is None for item in items):
        raise OldphotoError(f"--jobs {jobs}: workers read files; give files or folders (-r), "
                            "not stdin (or drop --jobs)")
    if not isinstance(sink, PathSink):
        raise OldphotoError(f"--jobs {jobs}: workers write files in any order; give -o FOLDER/ "
                            "(a stream or an image on stdout keeps one process: drop --jobs)")


def threads_per_job(jobs: int) -> int:
    """The machine's cores divided among the workers; an OMP_NUM_THREADS set by the user caps it."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    share = max(1, cores // jobs)
    asked = os.environ.get("OMP_NUM_THREADS", "")
    return min(share, int(asked)) if asked.isdigit() and int(asked) > 0 else share


@dataclass
class Job:
    """What a worker needs to rebuild the run: picklable (the filter class and its options)."""

    cls: type[Filter]
    values: dict[str, Any]
    device: str
    sink: PathSink
    prefix: str
    threads: int
    settings: tuple[int, int, str]  # codecs.MAX_PIXELS, QUALITY, TIFF_COMPRESSION


def run_jobs(cls: type[Filter], values: dict[str, Any], run: Any, work: Any, sink: PathSink,
             prefix: str) -> int:
    """Run ``work`` on ``run.jobs`` processes; returns the exit status, as ``_run`` does."""
    from oldphoto.runner import Tally, _draws, _interrupted, _summary

    try:
        filt = cls(device=run.device, **values)  # checked here, before any worker starts
    except ValueError as err:
        raise OldphotoError(str(err)) from None
    for stage in getattr(filt, "filters", [filt]):
        if stage.passes_through:
            raise OldphotoError(f"--jobs {run.jobs}: {stage.name} reports on every photo at "
                                "once, so it runs in one process; drop --jobs")
    jobs = min(run.jobs, len(work.items))
    job = Job(cls, values, run.device, _light(sink), prefix, threads_per_job(jobs),
              (codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION))
    started = time.monotonic()
    draw = not run.quiet and _draws(sink)
    with Progress(cls.name, work.total, enabled=draw, completed=work.skipped) as progress:
        pool = _Pool(job, jobs, list(work.items), progress)
        try:
            pool.run()
        finally:
            pool.close()
    tally = Tally(skipped=work.skipped)
    for done, skipped, failed in pool.tallies.values():
        tally.done, tally.skipped, tally.failed = (tally.done + done, tally.skipped + skipped,
                                                   tally.failed + failed)
    if pool.signal is not None:
        say(_interrupted(tally, work.total))
        raise KeyboardInterrupt if pool.signal == signal.SIGINT else SystemExit(128 + pool.signal)
    if pool.error is not None:
        raise OldphotoError(pool.error)
    if not run.quiet:
        for line in pool.reports:
            say(f"{prefix}: {line}")
    for line in pool.crashes:
        say(f"{prefix}: {line}")
    _summary(prefix, run, tally, sink, started)
    return 1 if tally.failed or pool.crashes else 0


def _light(sink: PathSink) -> PathSink:
    """The sink each worker gets: of the inputs it must never overwrite, only those inside the
    output folder (no output lands elsewhere), so a million inputs are not sent to each worker."""
    light = copy.copy(sink)
    if sink.as_folder:
        target = sink.target.resolve()
        light.inputs = {path for path in sink.inputs if target in path.parents}
    return light


class _Pool:
    """The parent's side: start the workers, answer their requests, relay what they say."""

    def __init__(self, job: Job, jobs: int, items: list[Item], progress: Progress) -> None:
        self.items = items
        self.next = 0
        self.jobs = jobs
        self.progress = progress
        self.tallies: dict[int, tuple[int, int, int]] = {}
        self.reports: list[str] = []
        self.crashes: list[str] = []
        self.error: str | None = None
        self.signal: int | None = None
        self.stopping = False
        context = multiprocessing.get_context("spawn")  # no forked torch or lock state
        self.conns: dict[int, Connection] = {}
        self.procs: dict[int, Any] = {}
        for wid in range(jobs):
            mine, theirs = context.Pipe()
            proc = context.Process(target=_worker, args=(job, theirs, wid), daemon=True,
                                   name=f"oldphoto-job-{wid + 1}")
            self.conns[wid], self.procs[wid] = mine, proc
        self.saved = {sig: signal.signal(sig, self._on_signal)
                      for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        for proc in self.procs.values():
            proc.start()

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signal = self.signal or signum

    def run(self) -> None:
        live = dict(self.conns)
        while live:
            if (self.signal is not None or self.error is not None) and not self.stopping:
                self._stop()
            for conn in wait(list(live.values()), timeout=0.2):
                wid = next(w for w, c in live.items() if c is conn)
                try:
                    message = conn.recv()
                except (EOFError, OSError):  # the worker is gone
                    del live[wid]
                    self.procs[wid].join()
                    self._gone(wid)
                    continue
                if self._handle(wid, conn, message):
                    del live[wid]

    def _handle(self, wid: int, conn: Connection, message: tuple[Any, ...]) -> bool:
        """Act on one message; True when the worker has finished."""
        kind = message[0]
        if kind == "want":
            count = max(1, min(MAX_CHUNK, (len(self.items) - self.next) // (2 * self.jobs)))
            chunk = [] if self.stopping else self.items[self.next:self.next + count]
            self.next += len(chunk)
            conn.send(chunk)
            return False
        if len(message) > 2:
            self.tallies[wid] = message[2]
        if kind == "tick":
            self.progress.advance(message[1])
        elif kind == "log":
            self.progress.log(message[1])
        elif kind == "end":
            self.reports.extend([message[1]] if message[1] else [])
            return True
        elif kind == "error":
            self.error = self.error or message[1]
            return True
        return False

    def _gone(self, wid: int) -> None:
        code = self.procs[wid].exitcode
        if not self.stopping:
            self.crashes.append(f"worker {wid + 1} stopped unexpectedly (exit status {code}); "
                                "the photos it held were not written: run the same command "
                                "again to go on")

    def _stop(self) -> None:
        """Ask every worker to stop once the photo it is writing is written."""
        self.stopping = True
        for proc in self.procs.values():
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)

    def close(self) -> None:
        if any(proc.is_alive() for proc in self.procs.values()) and not self.stopping:
            self._stop()
        for proc in self.procs.values():
            proc.join()
        for conn in self.conns.values():
            conn.close()
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


class _Relay:
    """A worker's stand-in for the progress display: each count and line goes to the parent,
    with the worker's tally, under the write guard so a signal never cuts a message."""

    def __init__(self, conn: Connection, tally: Any) -> None:
        self.conn = conn
        self.tally = tally

    def _send(self, kind: str, value: Any) -> None:
        with GUARD.writing():
            self.conn.send((kind, value, (self.tally.done, self.tally.skipped, self.tally.failed)))

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        self._send("tick", steps)

    def log(self, message: str) -> None:
        self._send("log", message)

    def stop(self) -> None:
        """Nothing to stop: the parent draws."""


def _requests(conn: Connection) -> Iterator[Item]:
    """The photos the parent hands out, a few at a time, until it has none left."""
    while True:
        with GUARD.writing():
            conn.send(("want",))
            chunk = conn.recv()
        if not chunk:
            return
        yield from chunk


def _worker(job: Job, conn: Connection, wid: int) -> None:
    """One worker: set the filter up once, then process what the parent hands out."""
    from oldphoto.runner import Tally, _batches, _call_hook, _device_used, _run_batch, _setup

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before torch is imported
        os.environ[name] = str(job.threads)
    codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION = job.settings
    tally = Tally()
    relay = _Relay(conn, tally)
    try:
        with signals_end_the_run():
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides, with SIGTERM
            entries = iter_frames(_requests(conn))  # type: ignore[arg-type]
            first = next(entries, None)
            if first is not None:
                filt = job.cls(device=job.device, **job.values)
                _setup(filt)
                if "torch" in sys.modules:
                    import torch

                    torch.set_num_threads(job.threads)
                device = _device_used(job.device)
                for batch in _batches(_chain(first, entries), max(1, filt.batch_size)):
                    _run_batch(filt, batch, job.sink, tally, relay,  # type: ignore[arg-type]
                               job.prefix, device)
                for note in job.sink.close():
                    relay.log(f"{job.prefix}: {note}")
                _call_hook(filt.finish, job.cls)
                line = _call_hook(filt.report, job.cls)
            else:
                line = None
            relay._send("end", line)
    except OldphotoError as err:
        job.sink.abort()
        with contextlib.suppress(OSError, EOFError):
            relay._send("error", str(err))
    except (KeyboardInterrupt, SystemExit, EOFError, OSError):  # stopped, or the parent is gone
        job.sink.abort()
    finally:
        conn.close()


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
