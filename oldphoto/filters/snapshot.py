"""``oldphoto snapshot``: keep the picture as it is now in a plane, for a contact sheet.

A pipe keeps only its last picture; a snapshot carries an intermediate stage
along (as the ``snapshot:LABEL`` plane), so that ``oldphoto compare`` at the end
of the pipe can show original, aged, denoised and coloured side by side.
"""

from __future__ import annotations

from collections.abc import Callable

from oldphoto.filter import Filter, Option
from oldphoto.frame import Frame
from oldphoto.hookspecs import hookimpl

PREFIX = "snapshot:"


class SnapshotFilter(Filter):
    """Copies the current pixels into the `snapshot:LABEL` plane and passes the frame on.
    LABEL defaults to the last filter the frame went through (e.g. `age`).
    """

    name = "snapshot"
    summary = "Keep the picture as it is now (a plane), for `oldphoto compare` downstream."
    options = (
        Option("label", str, None, "Column label (default: the last filter applied)."),
    )

    def process_frame(self, frame: Frame) -> Frame:
        label = self.params.label or last_filter(frame) or "snapshot"
        return frame.replace(**{PREFIX + label: frame.pixels.copy()})


def last_filter(frame: Frame) -> str | None:
    """The name of the last filter in a frame's history, if any."""
    history = frame.meta.get("history") or []
    return str(history[-1].get("filter")) if history else None


@hookimpl
def register_filters(register: Callable[[type[Filter]], None]) -> None:
    register(SnapshotFilter)
