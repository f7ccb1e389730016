"""Output helpers for pages and folders: multi-page TIFFs written page by page, writable checks."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from oldphoto.codecs import temp_file, tiff_writer, write_tiff_page
from oldphoto.errors import OldphotoError
from oldphoto.frame import Frame


def page_of(frame: Frame) -> tuple[str, int, int] | None:
    """(source name, page, pages) for a page of a multi-page file, else None."""
    page = frame.meta.get("page")
    name = frame.name
    if (isinstance(page, list) and len(page) == 2 and all(isinstance(v, int) for v in page)
            and 1 <= page[0] <= page[1] and "#" in name):
        return name.rsplit("#", 1)[0], page[0], page[1]
    return None


class PageFile:
    """A multi-page TIFF being written page by page, renamed when the last page is in."""

    def __init__(self, path: Path, pages: int) -> None:
        handle, self.temp = temp_file(path)
        os.close(handle)
        self.path = path
        self.writer = tiff_writer(str(self.temp))
        self.pages = pages
        self.received = 0

    def add(self, frame: Frame) -> bool:
        """Append a page; True when the file is complete and in place."""
        write_tiff_page(self.writer, frame)
        self.received += 1
        if self.received < self.pages:
            return False
        self.finish()
        return True

    def finish(self) -> None:
        self.writer.close()
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        self.temp.unlink(missing_ok=True)



def check_writable(folder: Path, what: str) -> None:
    """Refuse in one line, before any work, an output folder that cannot be written."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OldphotoError(f"{what}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise OldphotoError(f"{what}: cannot write in {existing} ({err.strerror or err})") from None
