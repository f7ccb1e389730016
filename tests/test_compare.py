"""`oldphoto compare`: the sheet's size and layout, from folders and from a stream."""

from __future__ import annotations

import io
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import invoke

from oldphoto.bench.compare import (
    BACKGROUND,
    EMPTY,
    HEADER,
    Layout,
    Sheet,
    expand_folders,
    render,
    sheet_from_folders,
    sheet_from_frames,
)
from oldphoto.errors import OldphotoError
from oldphoto.frame import NOISE_MASK, ORIGINAL, TRUE_MASK, Frame
from oldphoto.stream import StreamWriter

RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def solid(colour: tuple[float, float, float], height: int = 20, width: int = 20) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.float32), (height, width, 3)).copy()


def test_layout_size_follows_rows_columns_cell_and_padding() -> None:
    layout = Layout.uniform(rows=3, columns=4, cell=50, pad=5)
    assert layout.size == (4 * 50 + 5 * 5, HEADER + 3 * 50 + 4 * 5)
    assert layout.origin(0, 0) == (5, HEADER + 5)
    assert layout.origin(2, 3) == (5 + 3 * 55, HEADER + 5 + 2 * 55)


def test_render_puts_each_image_in_its_cell() -> None:
    sheet = Sheet(["a", "b"], ["one", "two"],
                  [[solid(RED), solid(GREEN)], [solid(BLUE), None]])
    image = np.asarray(render(sheet, cell=40, pad=4))
    layout = Layout.uniform(2, 2, 40, 4)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    expected = {(0, 0): (255, 0, 0), (0, 1): (0, 255, 0), (1, 0): (0, 0, 255), (1, 1): EMPTY}
    for (row, column), colour in expected.items():
        x, y = layout.origin(row, column)
        assert tuple(image[y + 30, x + 20]) == colour, (row, column)
    assert tuple(image[HEADER + 1, 1]) == BACKGROUND  # padding between cells


def test_cells_keep_the_photos_shape() -> None:
    sheet = Sheet(["wide"], ["w"], [[solid(RED, height=10, width=40)]])
    image = np.asarray(render(sheet, cell=40, pad=0))
    assert image.shape == (HEADER + 10, 40, 3)  # a 40x10 cell, not a 40x40 square
    assert (image[HEADER:] == (255, 0, 0)).all()


def test_a_wide_photo_beside_a_square_one_is_letterboxed_not_stretched() -> None:
    sheet = Sheet(["wide", "square"], ["w"], [[solid(RED, height=10, width=40), solid(BLUE)]])
    image = np.asarray(render(sheet, cell=40, pad=0))
    column = image[HEADER : HEADER + 40, 20]
    red_rows = np.flatnonzero((column == (255, 0, 0)).all(axis=1))
    assert red_rows.size == 10 and red_rows[0] == 15  # 40x10 centred in the row's 40 px


def test_default_cells_are_384_on_the_long_side_with_a_scalable_font(tmp_path) -> None:
    from PIL import ImageFont

    from oldphoto.bench.compare import CELL, label_font, layout_of

    sheet = Sheet(["a"], ["x"], [[solid(RED, height=300, width=200)]])
    layout = layout_of(sheet, CELL)
    assert CELL == 384 and (layout.widths, layout.heights) == ((256,), (384,))
    assert isinstance(label_font(CELL), ImageFont.FreeTypeFont)


def test_a_sparse_mask_stays_visible_when_shrunk() -> None:
    mask = np.zeros((400, 400), bool)
    mask[::20, ::20] = True  # one flagged pixel in 400
    sheet = Sheet(["mask"], ["m"], [[mask]])
    image = np.asarray(render(sheet, cell=40, pad=0))[HEADER:]
    assert (image == 255).all(axis=2).mean() > 0.2  # every block with a flag shows white


def test_an_existing_sheet_is_refused_without_overwrite(tmp_path) -> None:
    write_folder(tmp_path / "aged", ["a"], RED)
    out = tmp_path / "sheet.png"
    out.write_bytes(b"keep me")
    result = invoke("compare", str(tmp_path / "aged"), "-o", str(out))
    assert result.returncode == 2 and "exists (use --overwrite)" in result.stderr.decode()
    assert out.read_bytes() == b"keep me"
    again = invoke("compare", str(tmp_path / "aged"), "-o", str(out), "--overwrite")
    assert again.returncode == 0 and iio.imread(out).ndim == 3


def write_folder(folder: Path, names: list[str], colour: tuple[float, float, float],
                 suffix: str = ".png") -> None:
    for name in names:
        path = folder / (name + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, (solid(colour) * 255).astype(np.uint8))


def test_folders_are_matched_by_relative_name_whatever_the_extension(tmp_path: Path) -> None:
    write_folder(tmp_path / "aged", ["x", "sub/y", "z"], RED)
    write_folder(tmp_path / "restored", ["x", "sub/y"], GREEN, suffix=".jpg")
    sheet = sheet_from_folders(expand_folders([tmp_path]), None, limit=10)
    assert sheet.labels == ["aged", "restored"]
    assert sheet.names == ["sub/y", "x", "z"]
    assert sheet.grid[2][1] is None  # z was not restored
    assert sheet.grid[0][1] is not None


def test_labels_must_match_the_columns(tmp_path: Path) -> None:
    write_folder(tmp_path / "a", ["x"], RED)
    with pytest.raises(OldphotoError):
        sheet_from_folders([tmp_path / "a"], ["one", "two"], limit=5)


def test_stream_columns_are_original_masks_then_result() -> None:
    truth = np.zeros((20, 20), bool)
    frame = Frame(solid(GREEN), {ORIGINAL: solid(RED), TRUE_MASK: truth, NOISE_MASK: truth},
                  {"name": "p.png", "history": [{"filter": "denoise-lr", "options": {}}]})
    sheet = sheet_from_frames([frame, frame], None, limit=1)
    assert sheet.labels == ["original", "true mask", "detected mask", "denoise-lr"]
    assert len(sheet.grid) == 1


def test_cli_from_folders_writes_a_sheet_of_the_right_size(tmp_path: Path) -> None:
    write_folder(tmp_path / "aged", ["a", "b", "c"], RED)
    write_folder(tmp_path / "restored", ["a", "b", "c"], BLUE)
    out = tmp_path / "sheet.png"
    result = invoke("compare", str(tmp_path / "aged"), str(tmp_path / "restored"),
                     "--labels", "aged,restored", "--cell", "32", "--limit", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr.decode()
    width, height = Layout.uniform(2, 2, 32).size
    assert iio.imread(out).shape == (height, width, 3)


def test_cli_from_a_stream(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    writer = StreamWriter(buffer)
    for index in range(3):
        writer.write(Frame(solid(GREEN), {ORIGINAL: solid(RED)}, {"name": f"{index}.png"}))
    writer.close()
    out = tmp_path / "sheet.png"
    result = invoke("compare", "--cell", "24", "-o", str(out), stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr.decode()
    width, height = Layout.uniform(3, 2, 24).size
    assert iio.imread(out).shape == (height, width, 3)


def test_snapshots_become_columns_in_pipe_order() -> None:
    from oldphoto.filters.snapshot import SnapshotFilter

    frame = Frame(solid(RED), {ORIGINAL: solid(BLUE)},
                  {"name": "p.png", "history": [{"filter": "age", "options": {}}]})
    aged = SnapshotFilter().process_frame(frame)
    denoised = SnapshotFilter(label="denoised").process_frame(aged.replace(pixels=solid(GREEN)))
    denoised.meta["history"] += [{"filter": "colorize-cnn", "options": {}},
                                 {"filter": "score", "options": {}}]  # a pass-through
    sheet = sheet_from_frames([denoised], None, limit=5)
    assert sheet.labels == ["original", "age", "denoised", "colorize-cnn"]
    assert sheet.grid[0][1][0, 0, 0] == 1.0  # the red aged picture, kept
    assert sheet.grid[0][2][0, 0, 1] == 1.0  # green at the denoised stage
