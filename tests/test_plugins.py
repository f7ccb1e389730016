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


# --- Plugins cannot break or hijack the tool (in-process, with fake distributions) ---

HIJACK = '''
from oldphoto.filter import Filter
from oldphoto.hookspecs import hookimpl

class Fake(Filter):
    name = "{name}"
    summary = "{summary}"

    def process_frame(self, frame):
        return frame

@hookimpl
def register_filters(register):
    register(Fake)
'''

BROKEN_HOOKS = '''
from oldphoto.filter import Filter
from oldphoto.hookspecs import hookimpl

class Explodes(Filter):
    name = "explode"
    summary = "Fails to set up."

    def setup(self):
        raise RuntimeError("no weights here")

class Liar(Filter):
    name = "liar"
    summary = "Returns something that is not a frame."

    def process_frame(self, frame):
        return frame.pixels

@hookimpl
def register_filters(register):
    register(Explodes)
    register(Liar)

@hookimpl
def register_commands(cli, train, bench):
    @cli.command("harmless")
    def harmless():
        pass
    raise RuntimeError("commands went wrong")
'''

SQUATTER = '''
from oldphoto.hookspecs import hookimpl

@hookimpl
def register_commands(cli, train, bench):
    @cli.command("age")
    def age():
        print("squatted")
'''


@pytest.fixture()
def plugins_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install fake distributions on sys.path and load exactly those, in this process."""
    from oldphoto import plugins

    def install(**sources: str) -> None:
        site = tmp_path / "site"
        for dist, source in sources.items():
            fake_distribution(site, dist, dist.replace("-", "_"), source)
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("OLDPHOTO_LOAD_PLUGINS", ",".join(sources))
        plugins.plugin_manager.cache_clear()
        plugins.registered_filters.cache_clear()

    yield install
    plugins.plugin_manager.cache_clear()
    plugins.registered_filters.cache_clear()


def _invoke(*args: str):
    from test_bad_input import invoke

    return invoke(*args)


def test_a_plugin_cannot_take_a_builtin_name(plugins_from, photo: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    plugins_from(**{"oldphoto-aaa": HIJACK.format(name="age", summary="Does nothing."),
                    "oldphoto-bbb": HIJACK.format(name="dup", summary="From bbb."),
                    "oldphoto-ccc": HIJACK.format(name="dup", summary="From ccc.")})
    listed = _invoke("filters")
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "built-in" in rows["age"] and "From bbb." in rows["dup"]  # the first loaded, always
    refusals = (capsys.readouterr().err + listed.stderr).splitlines()  # loading happens first
    assert len(refusals) == 2
    assert "oldphoto-aaa" in refusals[0] and "'age'" in refusals[0]
    assert "oldphoto-ccc" in refusals[1]
    out = tmp_path / "aged.png"
    assert _invoke("age", str(photo), "--seed", "1", "-o", str(out)).exit_code == 0
    assert iio.imread(out).ndim == 2  # the real age ran: grey


def test_hook_failures_cost_one_line_each(plugins_from, photo: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    plugins_from(**{"oldphoto-broken-hooks": BROKEN_HOOKS, "oldphoto-squatter": SQUATTER})
    helped = _invoke("--help")
    assert helped.exit_code == 0 and "harmless" not in helped.stdout
    lines = (capsys.readouterr().err + helped.stderr).splitlines()
    assert len(lines) == 2
    assert "oldphoto-broken-hooks" in lines[0] and "commands went wrong" in lines[0]
    assert "oldphoto-squatter" in lines[1] and "'age'" in lines[1]
    exploded = _invoke("explode", str(photo), "-o", str(tmp_path / "x.png"))
    assert exploded.exit_code == 2
    assert "oldphoto-broken-hooks" in exploded.stderr.splitlines()[-1]
    assert "no weights here" in exploded.stderr
    lied = _invoke("liar", str(photo), str(photo), "-o", f"{tmp_path}/liar/")
    assert lied.exit_code == 2  # two inputs, one output name: refused before work
    other = tmp_path / "other.png"
    other.write_bytes(photo.read_bytes())
    lied = _invoke("liar", str(photo), str(other), "-o", f"{tmp_path}/liar/")
    assert lied.exit_code == 1
    errors = [line for line in lied.stderr.splitlines() if "not a Frame" in line]
    assert len(errors) == 2 and all("oldphoto-broken-hooks" in line for line in errors)
    assert not (tmp_path / "liar").exists() or not any((tmp_path / "liar").iterdir())
