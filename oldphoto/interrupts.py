"""Signals during a run: Ctrl-C, SIGTERM and SIGHUP unwind the run, never in mid-write.

A Ctrl-C drops the photo in hand; writes are atomic, and a signal that comes
while an output is being written waits until it is, so no half file and no
temporary file is left behind.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Guard:
    """Signals wait while an output is being written, so a Ctrl-C drops the photo in hand
    but never leaves half a file or a temporary one; at any other moment they act at once."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: BaseException | None = None

    def handle(self, signum: int, _frame: object) -> None:
        error: BaseException = (KeyboardInterrupt() if signum == signal.SIGINT
                                else SystemExit(128 + signum))
        if self.depth:
            self.pending = self.pending or error
            return
        raise error

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending is not None:
                error, self.pending = self.pending, None
                raise error


GUARD = Guard()


@contextmanager
def signals_end_the_run() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so temporary files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, GUARD.handle)
             for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        GUARD.pending = None
