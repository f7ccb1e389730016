"""Reading image folders for training and benches (grey, float32 in [0, 1])."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oldphoto.aging import to_grey
from oldphoto.codecs import image_files


def list_images(folder: Path, limit: int | None = None, every: int = 1) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted so runs are reproducible.

    ``every`` keeps one file in that many (a spread over class folders), then
    ``limit`` keeps the first ones.
    """
    files = image_files(folder)[:: max(every, 1)]
    return files[:limit] if limit else files


def read_grey(path: Path) -> np.ndarray:
    """One image as grey float32 in [0, 1] (colour through BT.601 luma), via the project's reader."""
    from oldphoto.codecs import read_image

    return to_grey(read_image(Path(path)).pixels)


def read_folder(folder: Path, limit: int | None = None, every: int = 1) -> list[np.ndarray]:
    """Every image of a folder (or one in ``every``) as grey arrays."""
    return [read_grey(path) for path in list_images(folder, limit, every)]
