"""The CLI as a user drives it: where output goes, folder trees, and what is never lost."""

from __future__ import annotations

import os
import pty
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import invoke, run_cli

from oldphoto.stream import MAGIC


def make_tree(root: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    files = [root / "a.png", root / "sub" / "b.JPG", root / "sub" / "deeper" / "c.tif"]
    for i, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, rng.integers(0, 256, (16 + i, 20, 3), dtype=np.uint8))
    (root / "notes.txt").write_text("not an image")
    return files


def test_pipe_gets_a_stream_and_file_gets_an_image(photo: Path, tmp_path: Path) -> None:
    piped = run_cli("age", str(photo), "--seed", "1")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith(MAGIC)
    out = tmp_path / "aged.jpg"
    with out.open("wb") as handle:
        to_file = run_cli("gray", "-", stdin=piped.stdout, stdout=handle)
    assert to_file.returncode == 0, to_file.stderr
    assert out.read_bytes()[:2] == b"\xff\xd8"  # a JPEG, chosen by the file's name
    assert iio.imread(out).shape == (128, 96)


def test_terminal_gets_a_one_line_refusal(photo: Path) -> None:
    leader, follower = pty.openpty()
    try:
        result = run_cli("age", str(photo), stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode != 0
    message = result.stderr.decode().strip()
    assert len(message.splitlines()) == 1
    assert "terminal" in message and "-o" in message


def test_folder_tree_is_mirrored_keeping_formats(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    result = invoke("age", str(src), "-r", "--seed", "7", "-o", str(tmp_path / "aged"), "-q")
    assert result.returncode == 0, result.stderr
    made = sorted(p.relative_to(tmp_path / "aged").as_posix()
                  for p in (tmp_path / "aged").rglob("*") if p.is_file())
    assert made == ["a.png", "sub/b.JPG", "sub/deeper/c.tif"]
    assert iio.imread(tmp_path / "aged" / "sub" / "b.JPG").ndim == 2  # aged means grey


def test_to_changes_every_format(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    result = invoke("gray", str(src), "-r", "--to", "webp", "-o", str(tmp_path / "w"), "-q")
    assert result.returncode == 0, result.stderr
    assert sorted(p.suffix for p in (tmp_path / "w").rglob("*.*")) == [".webp"] * 3


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    out = tmp_path / "out"
    invoke("gray", str(src), "-r", "-o", str(out), "-q")
    marker = out / "a.png"
    marker.write_bytes(b"keep me")
    again = invoke("gray", str(src), "-r", "-o", str(out))
    assert again.returncode == 0
    assert marker.read_bytes() == b"keep me"
    assert b"skipped" in again.stderr
    forced = invoke("gray", str(src), "-r", "-o", str(out), "--overwrite", "-q")
    assert forced.returncode == 0
    assert marker.read_bytes().startswith(b"\x89PNG")


def test_never_overwrites_an_input(photo: Path) -> None:
    before = photo.read_bytes()
    result = invoke("gray", str(photo), "-o", str(photo), "--overwrite")
    assert result.returncode != 0
    assert b"input" in result.stderr
    assert photo.read_bytes() == before


def test_refuses_output_inside_the_input_tree(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    result = invoke("gray", str(src), "-r", "-o", str(src / "out"))
    assert result.returncode != 0
    assert b"inside the input folder" in result.stderr
    assert not (src / "out").exists()


def test_per_file_errors_do_not_stop_the_run(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    result = invoke("gray", str(src), "-r", "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    errors = result.stderr.decode()
    assert "broken.png" in errors
    assert "3 done, 0 skipped, 1 failed" in errors
    assert len(list((tmp_path / "out").rglob("*.*"))) == 3


def test_stream_names_rebuild_the_tree_downstream(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    make_tree(src)
    aged = invoke("age", str(src), "-r", "--seed", "3", "-q")
    result = invoke("gray", "-o", str(tmp_path / "tree") + "/", "-q", stdin=aged.stdout)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tree" / "sub" / "deeper" / "c.tif").is_file()


def test_history_records_each_filter_with_options(photo: Path) -> None:
    import io

    from oldphoto.stream import read_stream

    aged = invoke("age", str(photo), "--seed", "5", "--density", "0.2")
    grey = invoke("gray", stdin=aged.stdout)
    (frame,) = list(read_stream(io.BytesIO(grey.stdout), "t"))
    history = frame.meta["history"]
    assert [h["filter"] for h in history] == ["age", "gray"]
    assert history[0]["options"]["density"] == 0.2
    assert frame.meta["name"] == "photo.png"


@pytest.mark.parametrize("entry", ["-m oldphoto", "script"])
def test_console_script_and_module_both_work(entry: str) -> None:
    import shutil
    import subprocess
    import sys

    if entry == "script":
        exe = shutil.which("oldphoto", path=str(Path(sys.executable).parent))
        assert exe, "the oldphoto console script is installed next to python"
        cmd = [exe, "--version"]
    else:
        cmd = [sys.executable, "-m", "oldphoto", "--version"]
    out = subprocess.run(cmd, capture_output=True, check=True)
    assert out.stdout.startswith(b"oldphoto ")


def test_sixteen_bit_scan_stays_sixteen_bit_through_a_pipe(tmp_path: Path) -> None:
    import tifffile

    ramp = (np.arange(64 * 80, dtype=np.uint32).reshape(64, 80) * 13 % 65536).astype(np.uint16)
    scan = tmp_path / "scan.tif"
    tifffile.imwrite(scan, ramp)
    streamed = invoke("convert", stdin=scan.read_bytes())
    out = tmp_path / "x.png"
    with out.open("wb") as handle:
        result = run_cli("convert", stdin=streamed.stdout, stdout=handle)
    assert result.returncode == 0, result.stderr
    back = iio.imread(out)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, ramp)


def test_a_stream_saved_to_a_file_pipes_on_later(photo: Path, tmp_path: Path) -> None:
    saved = tmp_path / "aged.oldphoto"
    made = invoke("age", str(photo), "--seed", "2", "--keep-original", "-o", str(saved))
    assert made.returncode == 0, made.stderr
    assert saved.read_bytes().startswith(MAGIC)
    redirected = tmp_path / "again.bin"
    with redirected.open("wb") as handle:
        run_cli("age", str(photo), "--seed", "2", "--keep-original", "--to", "stream",
                stdout=handle)
    assert redirected.read_bytes() == saved.read_bytes()
    out = tmp_path / "grey.png"
    result = invoke("gray", str(saved), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert iio.imread(out).shape == (128, 96)


def test_outputs_get_the_usual_file_mode(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    assert invoke("gray", str(photo), "-o", str(out)).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


# --- Every result lands once, or is refused loudly ---

def _invoke(*args: str, stdin: bytes = b""):
    from test_bad_input import invoke

    return invoke(*args, stdin=stdin)


def test_two_inputs_with_one_output_name_are_refused_before_work(tmp_path: Path,
                                                                 photo: Path) -> None:
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    result = _invoke("gray", str(tmp_path / "d1" / "a.png"), str(tmp_path / "d2" / "a.png"),
                     "-o", f"{out}/")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "would both be written" in result.stderr
    assert not out.exists()
    iio.imwrite(tmp_path / "x.jpg", iio.imread(photo))
    (tmp_path / "x.png").write_bytes(photo.read_bytes())
    result = _invoke("gray", str(tmp_path / "x.png"), str(tmp_path / "x.jpg"), "--to", "png",
                     "-o", f"{out}/")
    assert result.exit_code == 2 and "x.png" in result.stderr and not out.exists()


def test_frames_of_a_stream_with_one_name_are_not_overwritten(tmp_path: Path, photo: Path) -> None:
    for name in ("one", "two"):
        assert _invoke("convert", str(photo), "-o", str(tmp_path / f"{name}.oldphoto")).exit_code == 0
    result = _invoke("gray", str(tmp_path / "one.oldphoto"), str(tmp_path / "two.oldphoto"),
                     "-o", f"{tmp_path}/out/")
    assert result.exit_code == 1 and "written from" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["photo.png"]


def test_appending_to_an_image_is_refused(photo: Path, tmp_path: Path) -> None:
    target = tmp_path / "existing.png"
    target.write_bytes(photo.read_bytes())
    with target.open("ab") as handle:
        result = run_cli("convert", str(photo), stdout=handle)
    assert result.returncode == 2 and b">>" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert target.read_bytes() == photo.read_bytes()


def test_stdout_on_a_full_disk_is_one_line(photo: Path) -> None:
    with open("/dev/full", "wb") as full:
        result = run_cli("convert", str(photo), stdout=full)
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "oldphoto convert: stdout: cannot write (No space left on device)"]


def _disk_full(*_args: object, **_kwargs: object) -> None:
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_stops_the_run_in_one_line(photo: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import oldphoto.outputs

    monkeypatch.setattr(oldphoto.outputs, "write_atomically", _disk_full)
    other = tmp_path / "other.png"
    other.write_bytes(photo.read_bytes())
    result = _invoke("convert", str(photo), str(other), "-o", f"{tmp_path}/out/")
    assert result.exit_code == 2 and "No space left" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_failing_stream_file_leaves_nothing(photo: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import oldphoto.outputs

    monkeypatch.setattr(oldphoto.outputs.StreamWriter, "close", _disk_full)
    result = _invoke("convert", str(photo), "-o", str(tmp_path / "run.oldphoto"))
    assert result.exit_code == 2 and "No space left" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]  # no stream, no temporary file


def test_read_only_output_folder_is_one_line(photo: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for target in (f"{locked}/out/", str(locked / "run.oldphoto")):
            result = _invoke("convert", str(photo), str(photo), "-o", target)
            assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    finally:
        locked.chmod(0o755)


def test_stale_temporary_files_of_a_killed_run_are_removed(photo: Path, tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = out / f".photo.png.oldphoto-{gone.pid}-abc123.tmp"
    stale.write_bytes(b"half a picture")
    mine = out / f".photo.png.oldphoto-{os.getpid()}-abc123.tmp"  # a live run's: kept
    mine.write_bytes(b"still writing")
    result = _invoke("convert", str(photo), "-o", f"{out}/")
    assert result.exit_code == 0
    assert not stale.exists() and mine.exists()
    assert (out / "photo.png").is_file()


def test_sigterm_removes_temporary_files(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "src"
    src.mkdir()
    iio.imwrite(src / "p00.png", np.random.default_rng(0).integers(0, 256, (600, 800, 3), np.uint8))
    for i in range(1, 30):
        os.link(src / "p00.png", src / f"p{i:02}.png")
    out = tmp_path / "run.oldphoto"
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "oldphoto", "convert", str(src), "-r", "-q",
                             "-o", str(out)], stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not any(tmp_path.glob(".run.oldphoto.*.tmp")):
        time.sleep(0.05)
    assert any(tmp_path.glob(".run.oldphoto.*.tmp")), "the run started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_two_processes_on_one_output_both_finish_whole(photo: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from oldphoto.stream import read_stream

    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"p{i}.png").write_bytes(photo.read_bytes())
    out = tmp_path / "run.oldphoto"
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": ""}
    command = [sys.executable, "-m", "oldphoto", "age", str(src), "-r", "-q", "--seed", "1",
               "--overwrite", "-o", str(out)]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert [code for code, _ in results] == [0, 0], results
    with out.open("rb") as handle:
        assert len(list(read_stream(handle, str(out)))) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "run.oldphoto", "src"]


def test_unwritable_output_folder_is_one_line_before_work(photo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Root writes anywhere, so the refusal of the folder is simulated where it is probed."""
    import errno

    import oldphoto.pages

    def denied(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(oldphoto.pages.tempfile, "TemporaryFile", denied)
    other = tmp_path / "other.png"
    other.write_bytes(photo.read_bytes())
    for target in (f"{tmp_path}/out/", str(tmp_path / "run.oldphoto")):
        result = _invoke("convert", str(photo), str(other), "-o", target)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1
        assert "Permission denied" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.png", "photo.png"]


def test_flatten_rename_gives_colliding_inputs_distinct_names(tmp_path: Path, photo: Path) -> None:
    for folder in ("d1", "d2", "d3"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    result = _invoke("convert", *(str(tmp_path / d / "a.png") for d in ("d1", "d2", "d3")),
                     "--flatten-rename", "-o", f"{out}/")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a-2.png", "a-3.png", "a.png"]
