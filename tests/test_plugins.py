"""Plugins: built-ins on the same path as third parties, a real example, and a broken one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT, invoke, run_cli

from oldphoto.stream import MAGIC


def test_builtins_are_listed_with_their_origin() -> None:
    result = invoke("filters")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.decode().splitlines()}
    for name in ("age", "gray", "convert"):
        assert "built-in" in rows[name]


def test_age_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['oldphoto', 'age', '--help']\n"
        "from oldphoto.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('no torch')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False,
                         env={"OLDPHOTO_LOAD_PLUGINS": "", "PATH": ""})
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.strip().endswith(b"no torch")
    assert b"--density" in out.stdout


def test_every_filter_has_help() -> None:
    listed = invoke("filters").stdout.decode().split("\n")
    for name in [line.split()[0] for line in listed if line.strip()]:
        result = invoke(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert b"--output" in result.stdout


def fake_distribution(site: Path, name: str, module: str, source: str) -> None:
    """A minimal installed distribution with an oldphoto entry point."""
    dist = site / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[oldphoto]\n{module} = {module}\n")
    (site / f"{module}.py").write_text(source)


def test_a_broken_plugin_costs_one_line_and_nothing_else(tmp_path: Path, photo: Path) -> None:
    site = tmp_path / "site"
    fake_distribution(site, "oldphoto-broken", "broken_plugin", "raise ImportError('boom')\n")
    env = {"PYTHONPATH": str(site), "OLDPHOTO_LOAD_PLUGINS": "oldphoto-broken"}
    listed = run_cli("filters", env=env)
    assert listed.returncode == 0
    errors = listed.stderr.decode().strip().splitlines()
    assert len(errors) == 1
    assert "broken_plugin" in errors[0] and "boom" in errors[0]
    assert b"age" in listed.stdout
    piped = run_cli("age", str(photo), "--seed", "1", env=env)
    assert piped.returncode == 0 and piped.stdout.startswith(MAGIC)


def test_plugins_stay_out_unless_asked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_distribution(site, "oldphoto-broken", "broken_plugin", "raise ImportError('boom')\n")
    quiet = run_cli("filters", env={"PYTHONPATH": str(site), "OLDPHOTO_LOAD_PLUGINS": ""})
    assert b"boom" not in quiet.stderr


@pytest.fixture(scope="module")
def sharpen_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the example plugin from plugins/ into a private folder, as pip would."""
    site = tmp_path_factory.mktemp("sharpen-site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--target", str(site), str(ROOT / "plugins" / "oldphoto-sharpen")]
    subprocess.run(cmd, check=True, capture_output=True)
    return site


def test_example_plugin_installs_and_works_in_a_pipe(sharpen_site: Path, photo: Path,
                                                     tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(sharpen_site), "OLDPHOTO_LOAD_PLUGINS": "oldphoto-sharpen"}
    listed = run_cli("filters", env=env)
    line = next(row for row in listed.stdout.decode().splitlines() if row.startswith("sharpen"))
    assert "oldphoto-sharpen 0.1.0" in line
    grey = run_cli("gray", str(photo), env=env)
    out = tmp_path / "sharp.png"
    with out.open("wb") as handle:
        result = run_cli("sharpen", "--amount", "1.5", stdin=grey.stdout, stdout=handle, env=env)
    assert result.returncode == 0, result.stderr
    sharp = iio.imread(out).astype(float)
    soft = iio.imread(photo).astype(float) @ [0.2125, 0.7154, 0.0721]
    # sharpening adds high-frequency energy: the Laplacian grows
    lap = lambda a: np.abs(np.diff(a, 2, axis=0)).mean() + np.abs(np.diff(a, 2, axis=1)).mean()  # noqa: E731
    assert lap(sharp) > 1.2 * lap(soft)
