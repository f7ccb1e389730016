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
CELL = 384  # the long side of a photo on the sheet, by default
HEADER = 18  # pixels above the first row at the smallest font, for the column labels
#: Stream columns, in sheet order: (plane or "pixels", label).
STREAM_COLUMNS = ((ORIGINAL, "original"), (TRUE_MASK, "true mask"),
                  (NOISE_MASK, "detected mask"), ("pixels", None))


def font_size(cell: int) -> int:
    """Label size in pixels: readable at any cell size."""
    return max(12, cell // 20)


def header_height(cell: int) -> int:
    return font_size(cell) + 6


@dataclass(frozen=True)
class Layout:
    """Where every cell goes: columns ``widths`` wide, rows ``heights`` tall, ``pad`` apart."""

    widths: tuple[int, ...]
    heights: tuple[int, ...]
    pad: int = 4
    header: int = HEADER

    @classmethod
    def uniform(cls, rows: int, columns: int, cell: int, pad: int = 4) -> Layout:
        """Square cells (every photo square): the simplest sheet."""
        return cls((cell,) * columns, (cell,) * rows, pad, header_height(cell))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole sheet."""
        width = sum(self.widths) + (len(self.widths) + 1) * self.pad
        height = self.header + sum(self.heights) + (len(self.heights) + 1) * self.pad
        return width, height

    def origin(self, row: int, column: int) -> tuple[int, int]:
        """(x, y) of a cell's top-left corner."""
        return (self.pad + sum(self.widths[:column]) + column * self.pad,
                self.header + self.pad + sum(self.heights[:row]) + row * self.pad)


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


def fitted(shape: tuple[int, ...], cell: int) -> tuple[int, int]:
    """(width, height) of an image scaled so that its long side is ``cell``."""
    height, width = shape[:2]
    scale = cell / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def layout_of(sheet: Sheet, cell: int, pad: int = 4) -> Layout:
    """Cells take their photos' shapes: each column as wide, each row as tall, as its
    widest and tallest photo once scaled to ``cell`` on the long side."""
    sizes = [[fitted(p.shape, cell) if p is not None else None for p in row] for row in sheet.grid]
    columns = len(sheet.labels)
    widths = tuple(max([s[0] for row in sizes if (s := row[c]) is not None] or [cell])
                   for c in range(columns))
    heights = tuple(max([s[1] for s in row if s is not None] or [cell]) for row in sizes)
    return Layout(widths, heights, pad, header_height(cell))


def _max_pool(mask: np.ndarray, factor: int) -> np.ndarray:
    """Shrink a mask by keeping a block flagged when any of its pixels is: lone flagged
    pixels stay visible on a sheet instead of fading into grey."""
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    height, width = mask.shape
    padded = np.zeros((-(-height // factor) * factor, -(-width // factor) * factor), bool)
    padded[:height, :width] = mask
    rows, cols = padded.shape[0] // factor, padded.shape[1] // factor
    return padded.reshape(rows, factor, cols, factor).any(axis=(1, 3))


def fit_cell(pixels: np.ndarray, width: int, height: int | None = None) -> Image.Image:
    """Scale to fit a ``width`` x ``height`` cell, keeping the aspect ratio, centred.

    Small images are enlarged with nearest-neighbour so single noisy pixels stay
    visible; masks are shrunk by block maximum for the same reason.
    """
    from PIL import Image

    height = width if height is None else height
    array = np.asarray(pixels)
    scale = min(width / array.shape[1], height / array.shape[0])
    size = (max(1, round(array.shape[1] * scale)), max(1, round(array.shape[0] * scale)))
    if array.dtype == bool and scale < 1:
        array = _max_pool(array, int(1 / scale))
    image = Image.fromarray(to_rgb8(array))
    resample = Image.NEAREST if scale >= 1 or array.dtype == bool else Image.LANCZOS
    image = image.resize(size, resample)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(image, ((width - size[0]) // 2, (height - size[1]) // 2))
    return canvas


def label_font(cell: int) -> object:
    """Pillow's own scalable font (FreeType), at a size that reads at this cell size."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=font_size(cell))
    except (TypeError, ImportError, OSError):  # an old Pillow, or one without FreeType
        return ImageFont.load_default()


def render(sheet: Sheet, cell: int = CELL, pad: int = 4) -> Image.Image:
    """Draw the sheet: labels across the top, one row per photo, grey where one is missing."""
    from PIL import Image, ImageDraw

    layout = layout_of(sheet, cell, pad)
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = label_font(cell)
    for column, label in enumerate(sheet.labels):
        x, _ = layout.origin(0, column)
        draw.text((x + 2, 3), _fit_text(draw, font, label, layout.widths[column] - 4),
                  fill=TEXT, font=font)
    for row, images in enumerate(sheet.grid):
        for column, pixels in enumerate(images):
            x, y = layout.origin(row, column)
            width, height = layout.widths[column], layout.heights[row]
            if pixels is None:
                draw.rectangle((x, y, x + width - 1, y + height - 1), fill=EMPTY)
                draw.text((x + 4, y + 4), "missing", fill=TEXT, font=font)
            else:
                canvas.paste(fit_cell(pixels, width, height), (x, y))
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
