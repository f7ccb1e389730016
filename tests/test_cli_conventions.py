"""The command line for people and scripts (issue 15): skip before work, Ctrl-C, the -o
rules, images on pipes, score at a terminal, one progress display, the usual conventions."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import typer
from conftest import invoke, run_cli
from typer.testing import CliRunner

from oldphoto import inputs as inputs_module
from oldphoto.cli.filter_commands import build_command
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter
from oldphoto.frame import Frame
from oldphoto.peek import peek_total
from oldphoto.runner import RunOptions, run_filter
from oldphoto.stream import MAGIC, StreamWriter

PNG = b"\x89PNG"


def photos(folder: Path, count: int = 3, size: int = 12) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    paths = []
    for index in range(count):
        path = folder / f"p{index}.png"
        iio.imwrite(path, rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8))
        paths.append(str(path))
    return paths


def stream_of(count: int, total: int | None = None) -> bytes:
    buffer = io.BytesIO()
    writer = StreamWriter(buffer, total)
    for index in range(count):
        writer.write(Frame(np.full((8, 9), 0.5, np.float32), {}, {"name": f"f{index}.png"}))
    writer.close()
    return buffer.getvalue()


class Counting(Filter):
    """Counts its setups and frames; stops like a Ctrl-C at the frame the test asks for."""

    name = "counting-test"
    summary = "Counts."
    setups = 0
    frames = 0
    interrupt_at: int | None = None

    def setup(self) -> None:
        type(self).setups += 1

    def process_frame(self, frame: Frame) -> Frame:
        type(self).frames += 1
        if type(self).frames == type(self).interrupt_at:
            raise KeyboardInterrupt
        return frame


@pytest.fixture()
def counting() -> type[Counting]:
    Counting.setups = Counting.frames = 0
    Counting.interrupt_at = None
    return Counting


def invoke_filter(cls: type[Filter], *args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command(cls.name)(build_command(cls))
    app.command("unused")(lambda: None)  # two commands: the filter's name is a subcommand
    result = CliRunner().invoke(app, [cls.name, *args])
    return result.exit_code, result.stderr


# --- 1. skip before work, and Ctrl-C ----------------------------------------------------


def test_a_rerun_skips_before_decoding_and_before_setting_up(tmp_path, counting,
                                                             monkeypatch) -> None:
    inputs = photos(tmp_path / "in", 4)
    out = str(tmp_path / "out") + "/"
    assert run_filter(counting, {}, RunOptions(inputs=inputs, output=out, quiet=True)) == 0
    assert (counting.setups, counting.frames) == (1, 4)

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("decoded a photo whose output exists")

    monkeypatch.setattr(inputs_module, "iter_pages", no_decoding)
    status, err = invoke_filter(counting, str(tmp_path / "in"), "-r", "-o", out)
    assert status == 0, err
    assert (counting.setups, counting.frames) == (1, 4)  # no model loaded, nothing decoded
    assert re.fullmatch(r"oldphoto counting-test: 0 done, 4 skipped, 0 failed in \d+\.\d s; "
                        r"outputs in .*out/ \(skipped: their outputs exist; --overwrite "
                        r"replaces them\)\n", err)


def test_ctrl_c_prints_one_line_exits_130_and_the_same_command_goes_on(tmp_path,
                                                                       counting) -> None:
    photos(tmp_path / "in", 5)
    args = (str(tmp_path / "in"), "-r", "-o", str(tmp_path / "out"))
    counting.interrupt_at = 3
    status, err = invoke_filter(counting, *args)
    assert status == 130
    assert err == ("interrupted: 2 done, 3 left; run the same command again to go on\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]
    counting.interrupt_at = None
    counting.frames = 0
    status, err = invoke_filter(counting, *args, "-q")
    assert (status, err, counting.frames) == (0, "", 3)  # only the three left are processed
    assert len(list((tmp_path / "out").iterdir())) == 5


def test_a_real_sigint_stops_a_run_with_its_line(tmp_path) -> None:
    """The real signal, in a real process: one line, status 130, no temporary file left."""
    import signal
    import time

    photos(tmp_path / "in", 300, size=64)
    process = subprocess.Popen(
        [sys.executable, "-m", "oldphoto", "age", str(tmp_path / "in"), "-r", "-o",
         str(tmp_path / "out")], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env={**os.environ, "OLDPHOTO_LOAD_PLUGINS": ""})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((tmp_path / "out").glob("*.png"))) < 5:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=60)[1].decode()
    assert process.returncode == 130, err
    match = re.fullmatch(r"interrupted: (\d+) done, (\d+) left; run the same command again "
                         r"to go on\n", err)
    assert match, err
    done = int(match[1])
    assert done + int(match[2]) == 300
    assert len(list((tmp_path / "out").iterdir())) == done  # no temporary file left


# --- 2. the -o rules --------------------------------------------------------------------


def test_one_input_a_to_that_conflicts_with_the_extension_is_refused(photo, tmp_path) -> None:
    result = invoke("gray", str(photo), "-o", str(tmp_path / "z.png"), "--to", "jpg")
    assert result.returncode == 2
    assert "--to jpeg conflicts with -o" in result.stderr.decode()
    assert not (tmp_path / "z.png").exists()


def test_several_inputs_and_a_file_name_are_refused_with_a_hint(tmp_path) -> None:
    inputs = photos(tmp_path / "in", 2)
    result = invoke("gray", *inputs, "-o", str(tmp_path / "x3.png"))
    assert result.returncode == 2
    assert f"give a folder (-o {tmp_path / 'x3'}/)" in result.stderr.decode()
    assert not (tmp_path / "x3.png").exists()


def test_a_stream_announcing_several_frames_and_a_file_name_are_refused(tmp_path) -> None:
    result = invoke("gray", "-o", str(tmp_path / "x.png"), stdin=stream_of(3, total=3))
    assert result.returncode == 2 and "several images" in result.stderr.decode()


@pytest.mark.parametrize("name", ["out", "out/"])
def test_a_name_without_extension_is_a_folder_created_if_needed(tmp_path, name) -> None:
    result = invoke("gray", "-o", str(tmp_path / name), "-q", stdin=stream_of(2))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f0.png", "f1.png"]


def test_one_input_and_a_file_name_writes_that_file(photo, tmp_path) -> None:
    result = invoke("gray", str(photo), "-o", str(tmp_path / "new" / "z.jpg"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "z.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_the_rules_are_in_help() -> None:
    text = invoke("gray", "--help").stdout.decode()
    flat = " ".join(text.split())
    assert "-o FILE.ext (one input)" in flat and "-o NAME or -o NAME/" in flat


# --- 3. images on pipes -----------------------------------------------------------------


@pytest.mark.parametrize("args", [("--to", "png"), ("-o", "-.png")])
def test_an_image_goes_down_a_pipe_when_asked(photo, args) -> None:
    result = run_cli("gray", str(photo), *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PNG)
    assert iio.imread(result.stdout).shape == (128, 96)


def test_several_frames_as_one_image_on_a_pipe_are_refused_before_work(tmp_path) -> None:
    result = invoke("gray", *photos(tmp_path / "in", 2), "--to", "png")
    assert result.returncode == 2 and result.stdout == b""
    assert "stdout takes one png image but the input has 2" in result.stderr.decode()


def test_the_total_travels_in_the_stream() -> None:
    data = stream_of(2, total=7)
    replay, total, is_stream = peek_total(io.BytesIO(data))
    assert (total, is_stream) == (7, True)
    assert replay.read(len(MAGIC)) + replay.read() == data  # nothing is lost by peeking


# --- 4. score at a terminal, detect --show ----------------------------------------------


def read_terminal(leader: int) -> bytes:
    """Everything written to a pseudo-terminal until its writers close it (or 60 s of silence)."""
    seen = b""
    while select.select([leader], [], [], 60)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def in_a_pty(args: list[str], stdin: bytes, stdout_pty: bool = True,
             stderr_pty: bool = True, stdout: object = None) -> tuple[int, bytes, bytes]:
    """Run oldphoto with stdout and/or stderr on a terminal; returns (status, out, err)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": "", "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "oldphoto", *args], stdin=subprocess.PIPE,
        stdout=follower if stdout_pty else (stdout or subprocess.DEVNULL),
        stderr=follower if stderr_pty else subprocess.PIPE, env=env)
    os.close(follower)
    process.stdin.write(stdin)
    process.stdin.close()
    seen = read_terminal(leader)
    err = b"" if stderr_pty else process.stderr.read()
    process.wait(timeout=60)
    os.close(leader)
    return process.returncode, seen, err


def kept_stream(photo: Path) -> bytes:
    result = run_cli("age", str(photo), "--keep-original", "--seed", "1")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_score_at_a_terminal_prints_its_table_and_no_image(photo) -> None:
    status, seen, _ = in_a_pty(["score"], kept_stream(photo))
    assert status == 0, seen
    text = seen.decode(errors="replace")
    assert "PSNR" in text and "photo.png" in text and "refusing" not in text
    assert MAGIC not in seen


def test_score_into_a_pipe_passes_frames_on(photo) -> None:
    result = run_cli("score", stdin=kept_stream(photo))
    assert result.returncode == 0 and result.stdout.startswith(MAGIC)
    assert b"PSNR" in result.stderr


def test_other_filters_still_refuse_a_terminal(photo) -> None:
    status, seen, err = in_a_pty(["gray", str(photo)], b"", stderr_pty=False)
    assert status == 2 and b"refusing to write image data to a terminal" in err
    assert PNG not in seen and MAGIC not in seen


def test_detect_show_with_several_frames_into_one_file_is_refused_before_work(tmp_path) -> None:
    with (tmp_path / "mask.png").open("wb") as handle:
        result = run_cli("detect", "--show", *photos(tmp_path / "in", 3), stdout=handle)
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1  # one line, not one per frame
    assert (tmp_path / "mask.png").stat().st_size == 0


# --- 5. progress and the summary --------------------------------------------------------


def test_only_the_stage_that_does_not_feed_a_pipe_draws(tmp_path) -> None:
    inputs = photos(tmp_path / "in", 3)
    status, upstream, _err = in_a_pty(["age", *inputs, "--seed", "1"], b"", stdout_pty=False,
                                     stdout=subprocess.PIPE)
    assert status == 0 and upstream == b""  # feeding a pipe: no display, no summary
    with (tmp_path / "out.oldphoto").open("wb") as handle:
        handle.write(stream_of(3, total=3))
    status, last, _ = in_a_pty(["gray", str(tmp_path / "out.oldphoto"), "-o",
                                str(tmp_path / "grey")], b"", stdout_pty=True)
    text = last.decode(errors="replace")
    assert status == 0, text
    assert "3/3" in text  # photos done out of the total
    assert "3 done, 0 skipped, 0 failed in" in text and "outputs in" in text


def test_downstream_learns_the_total_from_the_stream(tmp_path) -> None:
    inputs = photos(tmp_path / "in", 4)
    upstream = run_cli("age", *inputs, "--seed", "1")
    status, seen, _ = in_a_pty(["gray", "-o", str(tmp_path / "grey")], upstream.stdout)
    assert status == 0 and "4/4" in seen.decode(errors="replace")


def test_quiet_prints_nothing_but_errors(tmp_path) -> None:
    inputs = photos(tmp_path / "in", 2)
    first = invoke("gray", *inputs, "-o", str(tmp_path / "out"))
    assert first.returncode == 0
    again = invoke("gray", *inputs, "-o", str(tmp_path / "out"), "-q")
    assert (again.returncode, again.stderr) == (0, b"")
    broken = tmp_path / "in" / "broken.png"
    broken.write_bytes(b"not a png")
    failed = invoke("gray", *inputs, str(broken), "-o", str(tmp_path / "out"), "-q")
    assert failed.returncode == 1 and "broken.png" in failed.stderr.decode()


# --- 6. conventions ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["age"], ["compare"], ["bench", "denoise"], ["filters"],
                                     []])
def test_dash_h_is_help_everywhere(command) -> None:
    result = invoke(*command, "-h")
    assert result.returncode == 0 and b"Usage" in result.stdout


def test_shell_completion_is_offered(monkeypatch) -> None:
    from oldphoto.cli.main import build_app

    # typer's own switch: name the shell instead of detecting it from the process tree
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = CliRunner().invoke(build_app(), ["--show-completion", "bash"],
                                prog_name="oldphoto")
    assert result.exit_code == 0 and "complete" in result.stdout
    assert "_oldphoto_completion" in result.stdout
    assert b"--install-completion" in invoke("--help").stdout


def test_help_separates_shared_options_and_has_readable_metavars() -> None:
    text = invoke("denoise-lr", "--help").stdout.decode()
    assert "Input and output (every filter)" in text and "Filter options" in text
    for command in (["age"], ["colorize-cnn"], ["compare"], ["bench", "colorize"]):
        text = invoke(*command, "--help").stdout.decode()
        assert not re.search(r"<[a-z\[\]| ]+>", text), command


def test_quality_and_tiff_compression(photo, tmp_path) -> None:
    import tifffile

    sizes = {}
    for quality in (30, 95):
        out = tmp_path / f"q{quality}.jpg"
        assert invoke("convert", str(photo), "-o", str(out), "--quality", str(quality)
                      ).returncode == 0
        sizes[quality] = out.stat().st_size
    assert sizes[30] < 0.7 * sizes[95]
    for how, expected in ((None, "DEFLATE"), ("none", "NONE"), ("lzw", "LZW")):
        out = tmp_path / f"{how}.tif"
        extra = ["--compress", how] if how else []
        assert invoke("convert", str(photo), "-o", str(out), *extra).returncode == 0
        with tifffile.TiffFile(out) as tif:
            assert tif.pages[0].compression.name.endswith(expected)
        assert np.array_equal(iio.imread(out), iio.imread(photo))  # lossless


def test_device_defaults_to_auto_and_the_choice_is_in_the_history(photo) -> None:
    from oldphoto.stream import read_stream

    assert "auto|cpu|cuda|mps" in " ".join(invoke("age", "--help").stdout.decode().split())
    result = invoke("gray", str(photo))
    frame = next(read_stream(io.BytesIO(result.stdout), "test"))
    assert frame.meta["history"][-1]["device"] == "cpu"  # no model: the CPU


def test_mps_is_refused_clearly_where_absent() -> None:
    pytest.importorskip("torch")
    import torch

    from oldphoto.device import resolve_device

    if not torch.backends.mps.is_available():
        with pytest.raises(OldphotoError, match="no Apple MPS device"):
            resolve_device("mps")
    assert resolve_device("auto") in ("cpu", "cuda", "mps")


def test_batches_grow_while_quick_and_stay_single_when_slow() -> None:
    from oldphoto.runner import _batches

    now = [0.0]

    def take(seconds_each: float) -> list[int]:
        sizes = []
        for batch in _batches(range(40), 16, clock=lambda: now[0]):
            sizes.append(len(batch))
            now[0] += seconds_each * len(batch)
        return sizes

    assert take(2.0) == [1] * 40  # slow photos: counted one by one
    quick = take(0.01)
    assert quick[0] == 1 and max(quick) == 16 and sum(quick) == 40


def test_a_pipe_of_three_stages_on_one_terminal_draws_one_display(tmp_path) -> None:
    inputs = photos(tmp_path / "in", 3)
    oldphoto = f"{sys.executable} -m oldphoto"
    line = (f"{oldphoto} age {' '.join(inputs)} --seed 1 | {oldphoto} detect "
            f"| {oldphoto} gray -o {tmp_path / 'out'}")
    leader, follower = pty.openpty()
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": "", "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(["bash", "-o", "pipefail", "-c", line], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    seen = read_terminal(leader)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert "3/3" in text and "gray" in text
    assert "age " not in text and "detect" not in text  # the upstream stages stay quiet
    assert len(list((tmp_path / "out").iterdir())) == 3
