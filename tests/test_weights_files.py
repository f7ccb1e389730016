"""Malformed but safe weight files cost one line, before anything large is allocated; a pickled
checkpoint is refused in one line of ours."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from test_bad_input import invoke

torch = pytest.importorskip("torch")

from oldphoto.colour.models.checkpoint import FORMAT, WEIGHTS_DIR  # noqa: E402


def _checkpoint(path: Path, **changes) -> Path:
    payload = torch.load(WEIGHTS_DIR / "colorize-mlp.pt", weights_only=True)
    payload.update(changes)
    torch.save(payload, path)
    return path


class Sneaky:
    """Any class makes a pickle that ``weights_only`` refuses."""

    def __reduce__(self):
        return (print, ("this must never run",))


def _cases(tmp_path: Path) -> dict[str, Path]:
    mlp = {"model": "mlp", "size": 32, "hidden": 512, "layers": 1}
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": FORMAT, "kind": "colorize-mlp", "arch": Sneaky()}, pickled)
    return {
        "no-arch": _checkpoint(tmp_path / "no-arch.pt", arch=None),
        "wrong-type": _checkpoint(tmp_path / "wrong-type.pt", arch={**mlp, "hidden": "many"}),
        "petabytes": _checkpoint(tmp_path / "petabytes.pt", arch={**mlp, "hidden": 2**50}),
        "too-many-parameters": _checkpoint(tmp_path / "big.pt",
                                           arch={**mlp, "size": 4096, "hidden": 16384}),
        "wrong-shapes": _checkpoint(tmp_path / "shapes.pt", arch={**mlp, "hidden": 64}),
        "state-not-tensors": _checkpoint(tmp_path / "state.pt", state={"w": [1, 2]}),
        "pickled": pickled,
        "garbage": _write(tmp_path / "garbage.pt", b"\x80\x02not a checkpoint" * 10),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_malformed_checkpoints_cost_one_line(tmp_path: Path, photo: Path) -> None:
    for case, path in _cases(tmp_path).items():
        start = time.perf_counter()
        result = invoke("colorize-mlp", str(photo), "--weights", str(path),
                        "-o", str(tmp_path / "out.png"))
        assert result.exit_code == 2, (case, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and path.name in lines[0], (case, lines)
        assert "weights_only" not in lines[0] and "must never run" not in result.stdout
        assert time.perf_counter() - start < 20, case  # nothing huge was built
        assert not (tmp_path / "out.png").exists()


def _npz(path: Path, record: dict | None, weights: np.ndarray) -> Path:
    arrays = {"weights": weights, "band_edges": np.array([0.0, 1.0])}
    if record is not None:
        arrays["record"] = np.array(json.dumps(record))
    np.savez(path, **arrays)
    return path


def test_malformed_denoiser_weights_cost_one_line(tmp_path: Path, photo: Path) -> None:
    good = {"format": "oldphoto-denoise-lr/1", "variant": "default"}
    from oldphoto.denoise import regression

    good["format"] = regression.FORMAT
    cases = {
        "no-window": _npz(tmp_path / "no-window.npz", good, np.zeros((1, 1, 66), np.float32)),
        "window-text": _npz(tmp_path / "window-text.npz", {**good, "window": "5"},
                            np.zeros((1, 1, 66), np.float32)),
        "wrong-shape": _npz(tmp_path / "wrong-shape.npz", {**good, "window": 5},
                            np.zeros((1, 1, 7), np.float32)),
        "two-dims": _npz(tmp_path / "two-dims.npz", {**good, "window": 5},
                         np.zeros((2, 66), np.float32)),
        "no-record": _npz(tmp_path / "no-record.npz", None, np.zeros((1, 1, 66), np.float32)),
        "record-list": _npz(tmp_path / "record-list.npz", [1, 2], np.zeros((1, 1, 66), np.float32)),
    }
    for case, path in cases.items():
        result = invoke("denoise-lr", str(photo), "--weights", str(path),
                        "-o", str(tmp_path / "out.png"))
        assert result.exit_code == 2, (case, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and path.name in lines[0], (case, lines)
