"""The pipe core on its own: Option checks, the runner's failure paths, plugin guard rails."""

from __future__ import annotations

import types
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pluggy
import pytest

from oldphoto import hookspecs, plugins
from oldphoto.errors import OldphotoError
from oldphoto.filter import Filter, Option
from oldphoto.frame import Frame
from oldphoto.runner import RunOptions, run_filter

# --- Option ---------------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "message"), [
    (Option("count", int, 1, "n"), "many", "--count: 'many' is not a int"),
    (Option("mode", str, "a", "m", choices=("a", "b")), "c", "--mode: 'c' is not one of a, b"),
    (Option("level", float, 0.5, "l", min=0, max=1), -0.1, "--level: -0.1 is below the minimum 0"),
    (Option("level", float, 0.5, "l", min=0, max=1), 1.5, "--level: 1.5 is above the maximum 1"),
])
def test_option_refuses_bad_values_naming_the_flag(option, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        option.validate(value)


def test_option_coerces_what_the_command_line_gives() -> None:
    assert Option("count", int, 1, "n").validate("3") == 3
    assert Option("path", Path, None, "p").validate("a/b") == Path("a/b")
    assert Option("path", Path, None, "p").validate(None) is None
    assert Option("max_window", int, 7, "w").flag == "--max-window"


def test_option_types_are_limited_to_what_the_cli_can_parse() -> None:
    with pytest.raises(TypeError, match="type must be one of"):
        Option("items", list, [], "no lists")


class Invert(Filter):
    name = "invert-test"
    summary = "Invert."
    options = (Option("strength", float, 1.0, "How much.", min=0, max=1),)

    def process_frame(self, frame: Frame) -> Frame:
        s = self.params.strength
        return frame.replace(pixels=(1 - s) * frame.pixels + s * (1 - frame.pixels))


def test_a_filter_refuses_unknown_options_and_checks_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        Invert(colour=1)
    with pytest.raises(ValueError, match="--strength"):
        Invert(strength=2)
    assert Invert(strength="0.5").params.strength == 0.5


# --- the runner -----------------------------------------------------------


def photos(folder: Path, count: int = 3) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"p{index}.png"
        iio.imwrite(path, np.full((6, 5), 40 * index, np.uint8))
        paths.append(str(path))
    return paths


class Flaky(Filter):
    """Fails on the photo named p1.png, with the error type the test asks for."""

    name = "flaky-test"
    summary = "Fails on p1."
    options = (Option("error", str, "bug", "bug or user.", choices=("bug", "user")),)

    def process_frame(self, frame: Frame) -> Frame:
        if frame.name == "p1.png":
            if self.params.error == "user":
                raise OldphotoError("p1.png: too dark to tell")
            raise RuntimeError("boom")
        return frame


@pytest.mark.parametrize(("error", "line"), [
    ("bug", "oldphoto flaky-test: p1.png: RuntimeError: boom"),
    ("user", "oldphoto flaky-test: p1.png: too dark to tell"),
])
def test_a_frame_that_fails_costs_one_line_and_the_run_goes_on(tmp_path, capsys, error,
                                                                line) -> None:
    inputs = photos(tmp_path / "in")
    status = run_filter(Flaky, {"error": error},
                        RunOptions(inputs=inputs, output=str(tmp_path / "out") + "/", quiet=True))
    assert status == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p2.png"]
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[0] == line and len(errors) == 2
    assert errors[1].startswith("oldphoto flaky-test: 2 done, 0 skipped, 1 failed in ")


def test_a_filter_bug_raises_under_oldphoto_debug(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OLDPHOTO_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        run_filter(Flaky, {}, RunOptions(inputs=photos(tmp_path / "in"),
                                          output=str(tmp_path / "out") + "/", quiet=True))


def test_bad_option_values_are_a_user_error_before_any_work(tmp_path) -> None:
    with pytest.raises(OldphotoError, match=r"--strength: 3\.0 is above the maximum 1"):
        run_filter(Invert, {"strength": 3}, RunOptions(inputs=photos(tmp_path / "in"),
                                                        output=str(tmp_path / "out") + "/"))
    assert not (tmp_path / "out").exists()


def test_no_input_on_a_terminal_is_a_user_error(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    with pytest.raises(OldphotoError, match="no input"):
        run_filter(Invert, {}, RunOptions())


@pytest.mark.parametrize(("raised", "line"), [
    (OSError(28, "No space left on device"), "cannot write (No space left on device)"),
    (ValueError("codec says no"), "cannot encode (ValueError: codec says no)"),
])
def test_a_write_that_fails_costs_one_line(tmp_path, capsys, monkeypatch, raised, line) -> None:
    from oldphoto.outputs import PathSink

    def write(self, frame):
        if frame.name == "p1.png":
            raise raised
        return original(self, frame)

    original = PathSink.write
    monkeypatch.setattr(PathSink, "write", write)
    status = run_filter(Invert, {}, RunOptions(inputs=photos(tmp_path / "in"),
                                               output=str(tmp_path / "out") + "/", quiet=True))
    assert status == 1
    err = capsys.readouterr().err
    assert f"oldphoto invert-test: p1.png: {line}" in err
    assert "2 done, 0 skipped, 1 failed" in err


# --- plugin guard rails ---------------------------------------------------


def manager_with(*modules: object) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(plugins.GROUP)
    manager.add_hookspecs(hookspecs)
    for index, module in enumerate(modules):
        manager.register(module, name=f"oldphoto-fake{index}:entry")
    return manager


def plugin(register_filters) -> types.ModuleType:
    module = types.ModuleType("fake_plugin")
    module.register_filters = hookspecs.hookimpl(register_filters)  # type: ignore[attr-defined]
    return module


class NoSummary(Filter):
    name = "no-summary"
    summary = ""


class Clashing(Invert):
    name = "clashing"
    options = (Option("output", str, "", "Clashes with -o."),)


class Duplicate(Invert):
    name = "age"


def test_bad_registrations_cost_one_line_each_and_the_rest_still_register(monkeypatch,
                                                                          capsys) -> None:
    def good(register):
        register(Invert)

    def bad(register):
        register(NoSummary)
        register(Clashing)
        register(str)
        register(Duplicate)

    def crashing(register):
        raise RuntimeError("plugin bug")

    def builtin(register):
        register(type("Age", (Invert,), {"name": "age"}))

    manager = manager_with(plugin(builtin), plugin(good), plugin(bad), plugin(crashing))
    monkeypatch.setattr(plugins, "plugin_manager", lambda: manager)
    found = plugins.registered_filters.__wrapped__()
    assert set(found) == {"age", "invert-test"}
    err = capsys.readouterr().err
    assert "NoSummary has no name or summary; ignored" in err
    assert "filter 'clashing' uses reserved option name(s) output; ignored" in err
    assert "is not an oldphoto Filter; ignored" in err
    assert "filter 'age' is already registered by" in err and "; refused" in err
    assert "failed to register filters: RuntimeError: plugin bug" in err
    assert len(err.strip().splitlines()) == 5


def test_reserved_option_names_are_the_shared_command_options() -> None:
    from oldphoto.cli.chain_command import engine_parameters
    from oldphoto.cli.filter_commands import _common_parameters

    shared = _common_parameters() + engine_parameters()  # the chain's --engine, --address too
    assert {p.name for p in shared} == plugins.RESERVED_OPTIONS
    assert {"output", "device", "quiet"} <= plugins.RESERVED_OPTIONS
