"""``oldphoto chain ... --engine ray``: the pipe's outputs on a local Ray instance, even when
workers are killed mid-run; refusals in one line. Needs the extra ``oldphoto[ray]``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
from _synthetic import synthetic_photo
from conftest import invoke
from test_chain import _files, _pipe

from oldphoto.scale.ray_engine import INSTALL_HINT, KILL_ENV, actor_cpus

NO_RAY = "Ray is not installed: pip install 'oldphoto[ray]' to run the Ray engine's tests"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One small local Ray instance for the module: starting one costs seconds."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    pytest.importorskip("ray.data", reason=NO_RAY)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def _noisy_photos(folder: Path, count: int = 5, side: int = 40) -> Path:
    """Grey photos with 10% salt-and-pepper noise, every other one in a sub-folder."""
    rng = np.random.default_rng(1)
    for i in range(count):
        pixels = synthetic_photo(i, side)
        hit = rng.random(pixels.shape) < 0.1
        pixels[hit] = rng.integers(0, 2, int(hit.sum()))
        where = folder / ("sub" if i % 2 else "") / f"p{i}.png"
        where.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(where, (pixels * 255).round().astype(np.uint8))
    return folder


def _kill(monkeypatch: pytest.MonkeyPatch, marks: Path, *targets: str) -> Path:
    """Make the worker running each ``stage=photo`` die once (os._exit), as if killed."""
    marks.mkdir()
    monkeypatch.setenv(KILL_ENV, f"{marks}:{','.join(targets)}")
    return marks


def test_ray_matches_the_pipe_after_killed_workers(local_ray: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A denoise-lr actor dies on one photo and a write task dies in mid-write on another:
    Ray restarts them and retries, and every output is written once, equal to the pipe's,
    with no temporary file left. A second run finds them all done without starting Ray."""
    photos = _noisy_photos(tmp_path / "in")
    _pipe([["detect"], ["denoise-lr"]], [str(photos), "-r"], ["-o", str(tmp_path / "pipe")])
    marks = _kill(monkeypatch, tmp_path / "marks", "denoise-lr=sub/p1.png", "write=p2.png")
    out = tmp_path / "ray"
    result = invoke("chain", "detect | denoise-lr", str(photos), "-r", "-o", str(out),
                    "--engine", "ray")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in marks.iterdir()) == ["denoise-lr=sub_p1.png", "write=p2.png"]
    assert _files(out) == _files(tmp_path / "pipe")  # every file, and nothing else
    assert sorted(_files(out)) == ["p0.png", "p2.png", "p4.png", "sub/p1.png", "sub/p3.png"]
    assert "5 done, 0 skipped, 0 failed" in result.stderr.decode()
    monkeypatch.delenv(KILL_ENV)
    again = invoke("chain", "detect | denoise-lr", str(photos), "-r", "-o", str(out),
                   "--engine", "ray")
    assert again.returncode == 0 and "0 done, 5 skipped" in again.stderr.decode()


def test_ray_colourises_as_the_filter_does(local_ray: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """colorize-cnn in an actor pool, its actor killed once, gives the command's pixels."""
    photos = _noisy_photos(tmp_path / "in", 3)
    local = invoke("colorize-cnn", str(photos), "-r", "-o", str(tmp_path / "local"), "-q",
                   "--size", "32")
    assert local.returncode == 0, local.stderr
    marks = _kill(monkeypatch, tmp_path / "marks", "colorize-cnn=p2.png")
    result = invoke("chain", "colorize-cnn --size 32", str(photos), "-r", "-q",
                    "-o", str(tmp_path / "ray"), "--engine", "ray")
    assert result.returncode == 0, result.stderr
    assert list(marks.iterdir())
    expected, got = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert sorted(got) == sorted(expected) == ["p0.png", "p2.png", "sub/p1.png"]
    for name in expected:
        ours, theirs = iio.imread(tmp_path / "ray" / name), iio.imread(tmp_path / "local" / name)
        assert ours.shape == theirs.shape and ours.ndim == 3  # coloured
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1  # batches may differ


@pytest.mark.parametrize(("args", "expected"), [
    ([], "--engine ray writes files: give -o FOLDER/"),
    (["-o", "OUT/", "--jobs", "2"], "--jobs is for the local engine"),
])
def test_ray_refusals_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    pytest.importorskip("ray", reason=NO_RAY)
    photos = _noisy_photos(tmp_path / "in", 2)
    args = [arg.replace("OUT", str(tmp_path / "out")) for arg in args]
    result = invoke("chain", "detect", str(photos), "-r", "--engine", "ray", *args)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1
    assert lines[0].startswith(f"oldphoto chain: {expected}")


def test_without_ray_the_engine_names_the_extra(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, installed or not
    photos = _noisy_photos(tmp_path / "in", 1)
    result = invoke("chain", "detect", str(photos), "-r", "-o", str(tmp_path / "out"),
                    "--address", "auto")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == f"oldphoto chain: {INSTALL_HINT}"


def test_model_actors_leave_a_cpu_for_reading_and_writing() -> None:
    """Every model pool keeps an actor alive: on 2 CPUs two pools share one, or Ray waits
    forever for a CPU to read with."""
    assert actor_cpus(2, 2) == 0.5
    assert actor_cpus(2, 1) == 1.0
    assert actor_cpus(64, 3) == 1.0
    assert actor_cpus(1, 1) == 0.0
