"""``oldphoto chain "..." --engine ray``: the same chain on Ray Data, on one machine or a cluster.

The driver plans exactly as the local engine does (inputs, ``-o`` rules, names,
skip-existing), then hands Ray the list of inputs: a read task decodes each
file; a stage with no model runs as plain tasks, a stage with one in an actor
pool (the model loaded once per actor, a GPU per actor under ``--device
cuda``); a write task writes through the same atomic writer. Only a few
counts per photo come back, so the driver stays light however large the
archive.

A worker that dies mid-run is replaced and its batch retried (Ray's task
retries and actor restarts); the retry skips outputs already written, and the
driver removes the temporary files the dead left behind once every worker is
done, so each output is written exactly once and no half file remains.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oldphoto import codecs
from oldphoto.codecs import format_of, remove_stale_temps
from oldphoto.console import Progress, say
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.inputs import Item, is_stream_file
from oldphoto.outputs import PathSink
from oldphoto.peek import Work
from oldphoto.runner import RunOptions, Tally, _first_line, _interrupted, _summary
from oldphoto.scale.chain import Stage
from oldphoto.scale.ray_workers import Settings, StageActor, Target, read_rows, stage_task, write_rows

INSTALL_HINT = "--engine ray needs Ray: pip install 'oldphoto[ray]'"
#: A batch whose worker died is tried this many more times before its photos count as failed.
RETRIES = 3
#: At most this many photos per block: the unit Ray moves, retries and holds in memory.
BLOCK_ROWS = 8
#: For tests: ``MARK_DIR:where=name,...`` makes the worker that runs ``where`` (a stage's
#: filter name, or ``write``) on photo ``name`` die once, as a killed process would; a
#: marker file in MARK_DIR records that it did.
KILL_ENV = "OLDPHOTO_RAY_KILL"


def import_ray() -> Any:
    """Ray and Ray Data, or a one-line refusal naming the extra that brings them."""
    try:
        import ray
        import ray.data  # with pandas and pyarrow, which the extra brings
    except ImportError:
        raise OldphotoError(INSTALL_HINT) from None
    return ray


def run_on_ray(values: dict[str, Any], run: RunOptions, work: Work, sink: Any,
               prefix: str) -> int:
    """Run the chain in ``values["stages"]`` over ``work`` on Ray; returns the exit status."""
    ray = import_ray()
    stages: Sequence[Stage] = values["stages"]
    _refuse(run, work, sink)
    started = time.monotonic()
    tally = Tally(skipped=work.skipped)
    rows, dests, problems = _rows(work.items, sink)
    settings = Settings(run.device, codecs.MAX_PIXELS, codecs.QUALITY, codecs.TIFF_COMPRESSION,
                        prefix, os.environ.get(KILL_ENV))
    target = Target(str(sink.target), sink.as_folder, sink.to, sink.overwrite)
    with Progress("chain (ray)", work.total, enabled=not run.quiet,
                  completed=work.skipped) as progress:
        for line in problems:
            tally.failed += 1
            progress.log(f"{prefix}: {line}")
            progress.advance(1)
        if rows:
            owned = False
            try:
                with contextlib.redirect_stdout(sys.stderr):  # Ray prints its notices on stdout
                    owned = _connect(ray, run.address)
                    dataset = _dataset(ray, stages, rows, settings, target)
                    _collect(dataset, rows, tally, progress, prefix)
            except KeyboardInterrupt:
                progress.stop()
                say(_interrupted(tally, work.total))
                raise
            finally:
                if owned:
                    ray.shutdown()
                for folder in {dest.parent for dest in dests}:
                    remove_stale_temps(folder)
    _summary(prefix, run, tally, sink, started)
    return 1 if tally.failed else 0


def _refuse(run: RunOptions, work: Work, sink: Any) -> None:
    """What Ray cannot do, refused in one line before it starts."""
    if run.jobs > 1:
        raise OldphotoError("--jobs is for the local engine; on Ray the actor pools size "
                            "themselves to the cluster")
    if not isinstance(sink, PathSink):
        raise OldphotoError("--engine ray writes files: give -o FOLDER/ (or -o FILE.ext for "
                            "one input)")
    for item in work.items:
        if item.path is None:
            raise OldphotoError("--engine ray reads files and folders, not stdin")
        if item.problem is None and (format_of(item.name) == "stream"
                                     or is_stream_file(item.path)):
            raise OldphotoError(f"{item.path}: --engine ray does not read saved streams; "
                                "run the chain without it")


def _rows(items: list[Item], sink: PathSink) -> tuple[list[dict[str, Any]], list[Path], list[str]]:
    """(the rows Ray reads, each output's path, one line per input refused here)."""
    rows, dests, problems = [], [], []
    for index, item in enumerate(items):
        if item.problem is not None:
            problems.append(item.problem)
            continue
        try:
            dest, _ = sink.destination_of(item.name)
        except OldphotoError as err:
            problems.append(str(err))
            continue
        if dest.resolve() in sink.inputs:
            problems.append(f"{dest}: refusing to overwrite an input")
            continue
        rows.append({"i": index, "path": str(item.path), "name": item.name})
        dests.append(dest)
    return rows, dests, problems


def _connect(ray: Any, address: str | None) -> bool:
    """Join ``address`` (or RAY_ADDRESS), or start a local instance; True when this run must
    shut it down (a cluster it joined only loses this driver)."""
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    # Ray's C++ core logs its notices on the driver's stderr; they stay in Ray's log files
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, **quiet)
        else:  # "local": a new instance, even where `ray start` left one running
            ray.init(address="local", num_cpus=local_cpus(), include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        if not address:
            raise OldphotoError(f"cannot start a local Ray instance ({_first_line(err)})") from None
        raise OldphotoError(f"--address {address}: cannot join ({_first_line(err)}); is it "
                            "running? With token authentication, set RAY_AUTH_MODE=token "
                            "here too") from None
    return True


def local_cpus() -> int:
    """Every core this process may use, and at least 2 so a model stage's actor and the
    read and write tasks never wait on each other."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(2, cores)


def _dataset(ray: Any, stages: Sequence[Stage], rows: list[dict[str, Any]], settings: Settings,
             target: Target) -> Any:
    """read -> each stage (tasks, or an actor pool for a model) -> write, as one Dataset."""
    context = ray.data.DataContext.get_current()
    context.max_errored_blocks = -1  # a batch that keeps killing workers fails its photos alone
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    resources = ray.cluster_resources()
    cpus, gpus = max(1, int(resources.get("CPU", 1))), int(resources.get("GPU", 0))
    blocks = min(len(rows), max(math.ceil(len(rows) / BLOCK_ROWS), 4 * cpus))
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    with warnings.catch_warnings():  # Ray 2.60 deprecates passing retries this way, with no
        warnings.simplefilter("ignore")  # other way yet: without them an actor retries forever
        return _plan(dataset, stages, settings, target, cpus, gpus)


def _plan(dataset: Any, stages: Sequence[Stage], settings: Settings, target: Target, cpus: int,
          gpus: int) -> Any:
    from ray.data import ActorPoolStrategy

    dataset = dataset.map_batches(read_rows, batch_size=1, fn_kwargs={"settings": settings},
                                  max_retries=RETRIES)
    share = actor_cpus(cpus, sum(has_model(stage.cls) for stage in stages))
    for stage in stages:
        cls = stage.cls
        size = max(1, cls.batch_size)
        if not has_model(cls):
            dataset = dataset.map_batches(stage_task, batch_size=size, max_retries=RETRIES,
                                          fn_kwargs={"stage": stage, "settings": settings})
            continue
        gpu = wants_gpu(cls, settings.device, gpus)
        pool = ActorPoolStrategy(min_size=1, max_size=max(1, gpus if gpu else cpus))
        dataset = dataset.map_batches(
            StageActor, batch_size=size, compute=pool,
            fn_constructor_kwargs={"stage": stage, "settings": settings},
            num_cpus=share, max_restarts=-1, max_task_retries=RETRIES,
            **({"num_gpus": 1} if gpu else {}))
    return dataset.map_batches(write_rows, batch_size=1, max_retries=RETRIES,
                               fn_kwargs={"target": target, "settings": settings})


def actor_cpus(cpus: int, pools: int) -> float:
    """CPUs each model actor reserves: one, or less on a small machine, since every pool
    keeps an actor alive and a read or write task still needs a whole CPU beside them."""
    if not pools:
        return 1.0
    return max(0.0, min(1.0, (cpus - 1) / pools))


def has_model(cls: type[Filter]) -> bool:
    """A filter that sets something up (weights, a model) gets actors that keep it loaded."""
    return cls.setup is not Filter.setup


def wants_gpu(cls: type[Filter], device: str, gpus: int) -> bool:
    """Its actors take a GPU: the filter runs a model on --device, and a GPU is asked for
    (cuda) or there is one (auto). ``--device cuda`` on a cluster without one is refused."""
    if not cls.uses_accelerator or device not in ("cuda", "auto"):
        return False
    if device == "cuda" and not gpus:
        raise OldphotoError(f"--device cuda: the Ray cluster has no GPU for {cls.name}")
    return gpus > 0


def _collect(dataset: Any, rows: list[dict[str, Any]], tally: Tally, progress: Progress,
             prefix: str) -> None:
    """Count what comes back; a photo that never does was lost with its worker, every retry."""
    names = {row["i"]: row["name"] for row in rows}
    for row in dataset.iter_rows():
        if row["fatal"]:
            raise OldphotoError(row["fatal"])
        names.pop(int(row["i"]), None)
        tally.done += int(row["done"])
        tally.skipped += int(row["skipped"])
        tally.failed += int(row["failed"])
        for line in filter(None, row["lines"].split("\n")):
            progress.log(line)
        progress.advance(1)
    for name in names.values():
        tally.failed += 1
        progress.log(f"{prefix}: {name}: lost: Ray workers died {RETRIES + 1} times on it; "
                     "run the same command again to go on")
        progress.advance(1)


