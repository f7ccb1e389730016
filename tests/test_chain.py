"""``oldphoto chain``: stages parsed by their filters' own commands, outputs equal to the pipe's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import invoke

from oldphoto.denoise.detect import DEFAULT_THRESHOLD
from oldphoto.scale.chain import ChainError, Stage, parse_chain

OLDPHOTO = [sys.executable, "-m", "oldphoto"]


def _photos(folder: Path, count: int = 3, side: int = 48) -> Path:
    """A small tree of colour photos, one in a sub-folder, so names and folders are checked."""
    rng = np.random.default_rng(0)
    for i in range(count):
        where = folder / ("sub" if i % 2 else "") / f"p{i}.png"
        where.parent.mkdir(parents=True, exist_ok=True)
        smooth = np.cumsum(rng.integers(0, 9, (side, side + 8, 3)), axis=1)
        iio.imwrite(where, (smooth * 255 // max(1, smooth.max())).astype(np.uint8))
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _pipe(stages: list[list[str]], first_args: list[str], last_args: list[str]) -> None:
    """``oldphoto A first_args | oldphoto B | ... last_args`` as a shell would run it."""
    procs: list[subprocess.Popen] = []
    upstream = None
    for index, stage in enumerate(stages):
        args = [*stage, *(first_args if index == 0 else []),
                *(last_args if index == len(stages) - 1 else []), "-q"]
        proc = subprocess.Popen([*OLDPHOTO, *args], stdin=upstream or subprocess.DEVNULL,
                                stdout=subprocess.PIPE if index < len(stages) - 1 else None)
        if upstream is not None:
            upstream.close()
        upstream = proc.stdout
        procs.append(proc)
    assert [proc.wait(timeout=300) for proc in procs] == [0] * len(procs)


def test_parse_splits_on_pipes_and_keeps_quotes() -> None:
    stages = parse_chain("age --seed 1|detect --threshold 0.4 | snapshot --label 'a | b'")
    assert [(s.name, s.argv, s.index) for s in stages] == [
        ("age", ("--seed", "1"), 1), ("detect", ("--threshold", "0.4"), 2),
        ("snapshot", ("--label", "a | b"), 3)]
    assert str(stages[2]) == "snapshot --label 'a | b'"


def test_stage_options_are_the_filter_commands() -> None:
    """Flags, --no- flags and typed values arrive as the filter's own command parses them."""
    stage = parse_chain("detect --no-extreme --threshold 0.25 --channels each")[0]
    filt = stage.build()
    assert (filt.params.extreme, filt.params.threshold, filt.params.channels) == (False, 0.25, "each")
    assert Stage("detect").options()["threshold"] == DEFAULT_THRESHOLD


@pytest.mark.parametrize(("text", "expected"), [
    ("detect | sharpen", "stage 2: no filter 'sharpen'"),
    ("detect --threshold 2", "stage 1 (detect): Invalid value for '--threshold'"),
    ("age | detect --bogus", "stage 2 (detect): No such option: --bogus"),
    ("detect | denoise-lr --window", "stage 2 (denoise-lr): Option '--window' requires an argument"),
    ("age -o out/", "stage 1 (age): --output is an option of the chain"),
    ("age --jobs 2", "stage 1 (age): --jobs is an option of the chain"),
    ("detect photo.png", "stage 1 (detect): unexpected argument 'photo.png'"),
    ("detect || denoise-lr", "'||' is not a pipe"),
    ("detect | | denoise-lr", "stage 2 is empty"),
    ("detect |", "stage 2 is empty"),
    ("  ", "empty chain"),
    ("age --seed -1", "stage 1 (age): Invalid value for '--seed'"),
    ("detect -h", "run `oldphoto detect -h`"),
])
def test_bad_stages_are_refused_in_one_line(text: str, expected: str) -> None:
    with pytest.raises(ChainError) as caught:
        parse_chain(text)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_refuses_a_bad_stage_before_any_work(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 1)
    result = invoke("chain", "detect | denoise-lr --window 9", str(photos), "-r",
                    "-o", str(tmp_path / "out"))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert lines[0].startswith("oldphoto chain: stage 2 (denoise-lr): Invalid value for '--window'")
    assert not (tmp_path / "out").exists()


def test_chain_equals_the_pipe_bit_for_bit(tmp_path: Path) -> None:
    """Same folder tree, same names, same bytes; the saved stream (history included) too."""
    photos = _photos(tmp_path / "in")
    stages = [["age", "--seed", "3", "--density", "0.2"], ["detect"], ["denoise-lr"]]
    _pipe(stages, [str(photos), "-r"], ["-o", str(tmp_path / "pipe.oldphoto")])
    convert = invoke("convert", str(tmp_path / "pipe.oldphoto"), "-o", str(tmp_path / "pipe"))
    assert convert.returncode == 0, convert.stderr
    text = " | ".join(" ".join(stage) for stage in stages)
    for out in ("chain", "chain.oldphoto"):
        result = invoke("chain", text, str(photos), "-r", "-o", str(tmp_path / out), "-q")
        assert result.returncode == 0, result.stderr
    assert _files(tmp_path / "chain") == _files(tmp_path / "pipe")
    assert sorted(_files(tmp_path / "chain")) == ["p0.png", "p2.png", "sub/p1.png"]
    assert (tmp_path / "chain.oldphoto").read_bytes() == (tmp_path / "pipe.oldphoto").read_bytes()


def test_chain_skips_finished_outputs_and_never_loads_a_model(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    first = invoke("chain", "detect | denoise-lr", str(photos), "-r", "-o", str(out))
    again = invoke("chain", "detect | colorize-cnn --weights nowhere.pt", str(photos), "-r",
                   "-o", str(out))
    assert first.returncode == 0 and again.returncode == 0
    assert "0 done, 2 skipped" in again.stderr.decode()


def test_a_stage_that_cannot_set_up_stops_the_chain_in_one_line(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 2)
    result = invoke("chain", "detect | denoise-lr --weights nowhere.npz", str(photos), "-r",
                    "-o", str(tmp_path / "out"))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("oldphoto chain: ") and "nowhere.npz" in lines[0]


def test_a_stage_failing_on_one_photo_costs_one_line_and_the_others_go_on(tmp_path: Path) -> None:
    """A frame whose mask does not fit fails in denoise-lr alone; its neighbour is written."""
    from oldphoto.frame import Frame
    from oldphoto.stream import StreamWriter

    saved = tmp_path / "two.oldphoto"
    with saved.open("wb") as out:
        writer = StreamWriter(out, 2)
        pixels = np.full((32, 40), 0.5, np.float32)
        writer.write(Frame(pixels, {"noise_mask": np.zeros((8, 8), bool)}, {"name": "bad.png"}))
        writer.write(Frame(pixels, {}, {"name": "good.png"}))
        writer.close()
    result = invoke("chain", "denoise-lr | convert", str(saved), "-o", str(tmp_path / "out"))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("oldphoto chain: bad.png: denoise-lr: noise_mask is (8, 8)")
    assert "1 done, 0 skipped, 1 failed" in lines[-1]
    assert sorted(_files(tmp_path / "out")) == ["good.png"]


@pytest.mark.slow
def test_chain_with_colorize_equals_the_pipe(tmp_path: Path, torch_one_thread: None) -> None:
    """The colouriser in a chain gives the pipe's pixels (one photo: the same batches)."""
    photos = _photos(tmp_path / "in", 1, side=64)
    _pipe([["denoise-lr"], ["colorize-cnn", "--size", "64"]], [str(photos), "-r"],
          ["-o", str(tmp_path / "pipe")])
    result = invoke("chain", "denoise-lr | colorize-cnn --size 64", str(photos), "-r",
                    "-o", str(tmp_path / "chain"), "-q")
    assert result.returncode == 0, result.stderr
    pipe, chain = iio.imread(tmp_path / "pipe/p0.png"), iio.imread(tmp_path / "chain/p0.png")
    assert chain.shape == pipe.shape and chain.ndim == 3
    assert np.abs(chain.astype(int) - pipe.astype(int)).max() <= 1


def test_a_chain_ending_in_score_prints_its_table_at_a_terminal(photo: Path) -> None:
    from test_cli_conventions import in_a_pty

    status, seen, _ = in_a_pty(["chain", "age --keep-original --seed 1 | detect | denoise-lr "
                                "| score", str(photo)], b"")
    text = seen.decode(errors="replace")
    assert status == 0, text
    assert "PSNR" in text and "photo.png" in text and "refusing" not in text
