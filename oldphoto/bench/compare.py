"""``oldphoto compare``: a labelled contact sheet of the same photos through several stages.

People judge restoration, colourisation above all, by looking; a sheet puts the
stages side by side. Columns come from folders (files matched by their path
relative to each folder, extension aside) or from the planes a stream carries
(original, ``snapshot`` stages, true mask, detected mask, result). Rows are photos.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oldphoto.errors import OldphotoError
from oldphoto.filters.snapshot import PREFIX
from oldphoto.frame import NOISE_MASK, ORIGINAL, TRUE_MASK, Frame

if TYPE_CHECKING:
    from PIL import Image

BACKGROUND = (24, 24, 24)
EMPTY = (64, 64, 64)
TEXT = (235, 235, 235)
HEADER = 18  # pixels above the first row, for the column labels
#: Stream columns, in sheet order: (plane or "pixels", label).
STREAM_COLUMNS = ((ORIGINAL, "original"), (TRUE_MASK, "true mask"),
                  (NOISE_MASK, "detected mask"), ("pixels", None))


@dataclass(frozen=True)
class Layout:
    """Where every cell goes: ``cell`` px squares, ``pad`` px apart, labels on top."""

    rows: int
    columns: int
    cell: int = 160
    pad: int = 4
    header: int = HEADER

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole sheet."""
        width = self.columns * self.cell + (self.columns + 1) * self.pad
        height = self.header + self.rows * self.cell + (self.rows + 1) * self.pad
        return width, height

    def origin(self, row: int, column: int) -> tuple[int, int]:
        """(x, y) of a cell's top-left corner."""
        return (self.pad + column * (self.cell + self.pad),
                self.header + self.pad + row * (self.cell + self.pad))


@dataclass
class Sheet:
    """Column labels, row names and a rows x columns grid of images (None: missing)."""

    labels: list[str]
    names: list[str]
    grid: list[list[np.ndarray | None]]


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Any frame array (grey, RGB, bool mask) as uint8 RGB for display."""
    array = np.asarray(pixels)
    array = array.astype(np.float32) if array.dtype == bool else array
    if array.ndim == 3 and array.shape[2] != 3:
        array = array.max(axis=2)  # a per-channel mask: flagged in any channel
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def fit_cell(pixels: np.ndarray, cell: int) -> Image.Image:
    """Scale to fit a square cell, keeping the aspect ratio, centred on the background.

    Small images are enlarged with nearest-neighbour so single noisy pixels stay visible.
    """
    from PIL import Image

    image = Image.fromarray(to_rgb8(pixels))
    width, height = image.size
    scale = cell / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.NEAREST if scale >= 1 else Image.LANCZOS
    image = image.resize(size, resample)
    canvas = Image.new("RGB", (cell, cell), BACKGROUND)
    canvas.paste(image, ((cell - size[0]) // 2, (cell - size[1]) // 2))
    return canvas


def render(sheet: Sheet, cell: int = 160, pad: int = 4) -> Image.Image:
    """Draw the sheet: labels across the top, one row per photo, grey where one is missing."""
    from PIL import Image, ImageDraw, ImageFont

    layout = Layout(len(sheet.grid), len(sheet.labels), cell, pad)
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for column, label in enumerate(sheet.labels):
        x, _ = layout.origin(0, column)
        draw.text((x + 2, 3), _fit_text(draw, font, label, cell - 4), fill=TEXT, font=font)
    for row, images in enumerate(sheet.grid):
        for column, pixels in enumerate(images):
            x, y = layout.origin(row, column)
            if pixels is None:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=EMPTY)
                draw.text((x + 4, y + 4), "missing", fill=TEXT, font=font)
            else:
                canvas.paste(fit_cell(pixels, cell), (x, y))
    return canvas


def _fit_text(draw: object, font: object, text: str, width: int) -> str:
    """Shorten a label with an ellipsis until it fits the cell."""
    while text and draw.textlength(text, font=font) > width:  # type: ignore[attr-defined]
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def image_files(folder: Path) -> dict[str, Path]:
    """Images under ``folder`` keyed by relative path without extension (aged.png ~ aged.jpg)."""
    from oldphoto.codecs import IMAGE_SUFFIXES

    found = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in found}


def expand_folders(inputs: list[Path]) -> list[Path]:
    """One folder holding only sub-folders (out/demo/) stands for those sub-folders."""
    if len(inputs) == 1 and inputs[0].is_dir():
        children = sorted(p for p in inputs[0].iterdir() if p.is_dir())
        has_images = any(p.is_file() for p in inputs[0].iterdir())
        if children and not has_images:
            return children
    return inputs


def sheet_from_folders(folders: list[Path], labels: list[str] | None, limit: int) -> Sheet:
    """Columns are folders; rows are the first folder's photos, matched by relative name."""
    from oldphoto.codecs import read_image

    for folder in folders:
        if not folder.is_dir():
            raise OldphotoError(f"{folder}: not a folder (give folders, or pipe a stream)")
    labels = _labels(labels, [f.name for f in folders])
    columns = [image_files(folder) for folder in folders]
    names = sorted(columns[0])[:limit]
    if not names:
        raise OldphotoError(f"{folders[0]}: no images found")
    grid = [[read_image(files[name]).pixels if name in files else None for files in columns]
            for name in names]
    return Sheet(labels, names, grid)


def stream_columns(frames: list[Frame]) -> list[tuple[str, str | None]]:
    """(plane or "pixels", label) in sheet order: original, snapshots in pipe order,
    true mask, detected mask, and the result (labelled None: named by the last filter)."""
    snapshots: list[str] = []
    for frame in frames:
        snapshots += [k for k in frame.planes if k.startswith(PREFIX) and k not in snapshots]
    columns = [(ORIGINAL, "original"), *[(k, k[len(PREFIX):]) for k in snapshots],
               *STREAM_COLUMNS[1:]]
    return [(key, label) for key, label in columns
            if key == "pixels" or any(key in f.planes for f in frames)]


def sheet_from_frames(frames: Iterable[Frame], labels: list[str] | None, limit: int) -> Sheet:
    """Columns are what the frames carry: original, snapshots, true and detected masks,
    and the result."""
    kept: list[Frame] = []
    for frame in frames:
        kept.append(frame)
        if len(kept) >= limit:
            break
    if not kept:
        raise OldphotoError("no frames to compare")
    present = stream_columns(kept)
    result_label = _result_label(kept[0])
    defaults = [label or result_label for _, label in present]
    grid = [[f.pixels if key == "pixels" else f.planes.get(key) for key, _ in present]
            for f in kept]
    return Sheet(_labels(labels, defaults), [f.name for f in kept], grid)


#: Filters that pass the picture on unchanged: the result is named after the one before.
PASS_THROUGH = {"score", "snapshot", "convert"}


def _result_label(frame: Frame) -> str:
    """The last filter that changed the picture (e.g. colorize-cnn), else 'result'."""
    for entry in reversed(frame.meta.get("history") or []):
        name = str(entry.get("filter", ""))
        if name and name not in PASS_THROUGH:
            return name
    return "result"


def _labels(given: list[str] | None, defaults: list[str]) -> list[str]:
    if not given:
        return defaults
    if len(given) != len(defaults):
        raise OldphotoError(f"--labels: {len(given)} label(s) for {len(defaults)} column(s)")
    return given


def write_sheet(image: Image.Image, path: Path) -> None:
    """Save as PNG (or as the extension asks) through a temporary file."""
    import io

    from oldphoto.codecs import format_of, write_atomically

    fmt = {"jpeg": "JPEG", "tiff": "TIFF", "webp": "WEBP", "bmp": "BMP"}.get(
        format_of(str(path)) or "png", "PNG")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    write_atomically(path, buffer.getvalue())
