"""Several filters in one process: each frame goes through every stage, with no stream between.

A :class:`Chain` is a :class:`Filter` made of the filters of a parsed chain, so
the runner gives it every input, output, safety and progress rule of a filter.
Each stage appends its own history entry, as it would in a pipe, so a chain's
outputs match the pipe's. A frame that fails in one stage costs one line and
the others go on, as in a pipe.
"""

from __future__ import annotations

import os
from typing import Any

from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.inputs import Failure
from oldphoto.scale.chain import Stage, parse_chain


class Chain(Filter):
    """The stages of ``oldphoto chain "A | B | C"``, run one after another in this process."""

    name = "chain"
    summary = "Run several filters in one process, as a pipe would."

    def __init__(self, device: str = "cpu", stages: tuple[Stage, ...] | str = ()) -> None:
        super().__init__(device)
        self.stages = tuple(parse_chain(stages) if isinstance(stages, str) else stages)
        if not self.stages:
            raise ValueError("a chain needs at least one stage")
        self.filters = [stage.build(device) for stage in self.stages]
        #: The runner batches up to this many frames; each stage then takes its own size.
        self.batch_size = max(max(1, f.batch_size) for f in self.filters)  # type: ignore[misc]
        self.devices = ["cpu"] * len(self.filters)

    @property
    def record(self) -> dict[str, Any]:
        """The last stage's entry: the runner appends it, as the pipe's last stage would."""
        return {**self.filters[-1].record, "device": self.devices[-1]}

    def setup(self) -> None:
        from oldphoto.runner import _call_hook, _device_used

        for index, filt in enumerate(self.filters):
            _call_hook(filt.setup, type(filt), "failed to set up")
            # as in a pipe, a stage ran on the CPU unless torch was loaded by then
            self.devices[index] = _device_used(self.device)

    def process(self, frames: list[Frame]) -> list[Frame | Failure]:  # type: ignore[override]
        current: list[Frame | Failure] = list(frames)
        last = len(self.filters) - 1
        for index, filt in enumerate(self.filters):
            live = [i for i, entry in enumerate(current) if isinstance(entry, Frame)]
            size = max(1, filt.batch_size)
            for start in range(0, len(live), size):
                chunk = live[start:start + size]
                batch = [current[i] for i in chunk]
                results = self._stage(index, batch)  # type: ignore[arg-type]
                for i, result in zip(chunk, results, strict=True):
                    if isinstance(result, Frame) and index < last:
                        result.meta.setdefault("history", []).append(
                            {**filt.record, "device": self.devices[index]})
                    current[i] = result
        return current

    def _stage(self, index: int, frames: list[Frame]) -> list[Frame | Failure]:
        """One stage on one batch; a failure fails that batch's frames, with the stage named."""
        from oldphoto.runner import _bad_results, _first_line, _origin

        filt = self.filters[index]
        try:
            results = filt.process(frames)
            problem = _bad_results(results, len(frames))
            if problem:
                raise OldphotoError(f"filter {filt.name} ({_origin(type(filt))}) {problem}")
            return list(results)
        except OldphotoError as err:
            reason = str(err)
        except MemoryError:
            reason = "out of memory: lower --max-pixels, or use a smaller working size"
        except Exception as err:  # a filter bug: one line per frame, the others go on
            if os.environ.get("OLDPHOTO_DEBUG"):
                raise
            reason = f"{type(err).__name__}: {_first_line(err)}"
        return [_failure(frame, filt.name, reason) for frame in frames]

    def finish(self) -> None:
        for filt in self.filters:
            filt.finish()

    def report(self) -> str | None:
        lines = [f"{filt.name}: {line}" for filt in self.filters if (line := filt.report())]
        return "; ".join(lines) or None


class ReportingChain(Chain):
    """A chain ending in a report (``... | score``): at a terminal its table is the result."""

    passes_through = True


def chain_class(stages: tuple[Stage, ...]) -> type[Chain]:
    """The chain's class: the last stage says whether a terminal gets the report or a refusal."""
    return ReportingChain if stages and stages[-1].cls.passes_through else Chain


def _failure(frame: Frame, stage: str, reason: str) -> Failure:
    """``a.png: denoise-lr: what went wrong``, without naming the photo twice."""
    reason = reason.removeprefix(f"{frame.name}: ")
    return Failure(frame.name, f"{frame.name}: {stage}: {reason}")
