"""Shared fixtures: the ../shared data folder (skip when absent), and a clean plugin set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OLDPHOTO_SHARED", ROOT.parent / "shared"))


@pytest.fixture(autouse=True)
def _only_builtin_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the built-in filters only, unless a test asks for a plugin."""
    monkeypatch.setenv("OLDPHOTO_LOAD_PLUGINS", "")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder with data and weights; skips the test when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED


@pytest.fixture(scope="module")
def torch_one_thread():
    """Small tensors: one torch thread avoids oversubscription on shared CPUs."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_cli(*args: str, stdin: bytes | None = None, stdout: object = None,
            env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run ``python -m oldphoto`` as a user would; stdout is captured unless a file is given."""
    import subprocess
    import sys

    full_env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "oldphoto", *args],
        input=stdin if stdin is not None else b"",
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE, env=full_env, cwd=cwd, check=False, timeout=300,
    )


@dataclass
class CliResult:
    """What a CLI run left: the same fields as a ``subprocess.run`` result."""

    returncode: int
    stdout: bytes
    stderr: bytes


def invoke(*args: str, stdin: bytes | None = None) -> CliResult:
    """Run the CLI in this process (typer's CliRunner): fast, for tests where a real
    process, pipe or terminal is not the point. stdout is a pipe to the filters.
    """
    from typer.testing import CliRunner

    from oldphoto.cli.main import build_app

    result = CliRunner().invoke(build_app(), list(args), input=stdin or b"")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout_bytes, result.stderr_bytes)


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    """A small colour photo (scikit-image's astronaut, cropped) as PNG."""
    import imageio.v3 as iio
    from skimage import data

    path = tmp_path / "photo.png"
    iio.imwrite(path, data.astronaut()[100:228, 150:246])
    return path
