"""``--jobs N``: workers share the inputs; outputs, names and safety are those of one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import invoke
from test_chain import _files, _photos

from oldphoto.scale.jobs import threads_per_job


@pytest.mark.parametrize("command", [
    ["age", "--seed", "5", "--density", "0.2"],
    ["chain", "age --seed 5 --density 0.2 | detect | denoise-lr"],
])
def test_two_jobs_write_what_one_does(tmp_path: Path, command: list[str]) -> None:
    photos = _photos(tmp_path / "in", 5)
    for jobs in ("1", "2"):
        result = invoke(*command, str(photos), "-r", "-o", str(tmp_path / jobs), "--jobs", jobs)
        assert result.returncode == 0, result.stderr
    assert "5 done, 0 skipped, 0 failed" in result.stderr.decode()
    assert _files(tmp_path / "2") == _files(tmp_path / "1")
    assert sorted(_files(tmp_path / "2")) == ["p0.png", "p2.png", "p4.png", "sub/p1.png",
                                             "sub/p3.png"]


def test_jobs_skip_finished_outputs(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 4)
    out = tmp_path / "out"
    assert invoke("age", str(photos / "p0.png"), "-o", str(out / "p0.png")).returncode == 0
    result = invoke("age", str(photos), "-r", "-o", str(out), "-j", "2")
    assert result.returncode == 0, result.stderr
    assert "3 done, 1 skipped, 0 failed" in result.stderr.decode()
    again = invoke("age", str(photos), "-r", "-o", str(out), "-j", "2")
    assert "0 done, 4 skipped" in again.stderr.decode()


@pytest.mark.parametrize(("args", "stdin", "expected"), [
    (["-r"], None, "--jobs 2: workers write files in any order; give -o FOLDER/"),
    (["-", "-o", "OUT"], b"STREAM", "--jobs 2: workers read files; give files or folders"),
])
def test_jobs_refuse_what_needs_one_process(tmp_path: Path, args: list[str], stdin: bytes | None,
                                            expected: str) -> None:
    photos = _photos(tmp_path / "in", 2)
    if stdin is not None:
        stdin = invoke("convert", str(photos), "-r").stdout  # a stream of 2 photos
        args = [str(photos / "p0.png"), *[a.replace("OUT", str(tmp_path / "o")) for a in args]]
    else:
        args = [str(photos), *args]
    result = invoke("age", *args, "-j", "2", stdin=stdin)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], lines


def test_a_worker_that_cannot_set_up_stops_the_run_in_one_line(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 3)
    result = invoke("denoise-lr", str(photos), "-r", "-o", str(tmp_path / "out"), "-j", "2",
                    "--weights", "nowhere.npz")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("oldphoto denoise-lr: ") and "nowhere.npz" in lines[0]


def test_threads_are_divided_among_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [threads_per_job(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_job(2) == 1


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_cleanly_and_the_same_command_goes_on(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 30, side=128)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "oldphoto", "chain", "age --seed 1 | denoise-amf",
               str(photos), "-r", "-o", str(out), "-j", "2"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.rglob("*.png"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    written = len(list(out.rglob("*.png")))
    assert proc.returncode == 130, err
    assert "interrupted:" in err.decode() and "run the same command again" in err.decode()
    assert 3 <= written < 30
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    again = subprocess.run(command, capture_output=True, check=False, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{30 - written} done, {written} skipped" in again.stderr.decode()


def test_jobs_never_overwrite_an_input(tmp_path: Path) -> None:
    """Inputs inside the output folder stay untouched, each refused in one line."""
    photos = _photos(tmp_path / "in", 3)
    before = _files(photos)
    files = [str(p) for p in sorted(photos.glob("*.png"))]
    result = invoke("age", *files, "-o", str(photos), "-j", "2")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert sum("refusing to overwrite an input" in line for line in lines) == len(files) == 2
    assert _files(photos) == before
