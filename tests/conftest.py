"""Shared fixtures: the ../shared data folder (skip when absent), and a clean plugin set."""

from __future__ import annotations

import os
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
