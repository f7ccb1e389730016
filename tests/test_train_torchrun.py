"""``torchrun -m oldphoto train ...``: two CPU processes (gloo) train one model with DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from conftest import invoke  # noqa: E402
from PIL import Image  # noqa: E402

from oldphoto.colour import distributed  # noqa: E402
from oldphoto.colour.models.checkpoint import read_checkpoint  # noqa: E402

#: 12 images per class, 0.25 for val: 18 to train, 9 per rank, 2 steps of 4 per epoch.
TRAIN = ("train", "colorize-cnn", "--size", "16", "--width", "4", "--batch-size", "4",
         "--val-split", "0.25", "--seed", "3")


def _class_folders(root: Path, per_class: int = 12) -> Path:
    """Two classes of small colour pictures whose colour follows their lightness."""
    rng = np.random.default_rng(0)
    for name, mix in (("warm", (1.0, 0.5, 0.1)), ("cool", (0.2, 0.6, 1.0))):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            level = rng.random((20, 20, 1))
            rgb = np.clip(level * np.asarray(mix) + 0.1 * rng.random((20, 20, 3)), 0, 1)
            Image.fromarray((rgb * 255).astype(np.uint8)).save(root / name / f"{index}.png")
    return root


def torchrun(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 --standalone -m oldphoto ARGS``, one torch thread each."""
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--standalone", "-m", "oldphoto", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0 or not check, done.stderr[-3000:]
    return done


def opt_in(request: pytest.FixtureRequest) -> None:
    """Skip unless ``pytest -m slow``: each torchrun launch costs a few seconds."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("another torchrun launch (~6 s): run with pytest -m slow")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch on two ranks; returns the run's folder (checkpoint ``ck.pt``)."""
    root = tmp_path_factory.mktemp("torchrun")
    _class_folders(root / "data")
    done = torchrun(*TRAIN, "--data", "data", "--cache-dir", "cache", "--epochs", "1",
                    "-o", "ck.pt", cwd=root)
    # only rank 0 reports (and writes): one summary line, not two
    assert done.stdout.count("ck.pt: {") == 1, done.stdout
    return root


def test_two_ranks_write_one_checkpoint_that_colorize_cnn_loads(trained: Path) -> None:
    assert sorted(p.name for p in trained.iterdir()) == ["cache", "ck.pt", "ck.pt.state", "data"]
    assert len(list((trained / "cache").iterdir())) == 1  # rank 0 filled it, rank 1 read it
    record = read_checkpoint(trained / "ck.pt")["record"]
    assert record["world_size"] == 2
    assert record["data"]["train_images"] == 18
    assert record["history"][0]["steps"] == 2  # each rank took its half of the 18, 4 at a time
    grey = np.full((24, 30), 120, np.uint8)
    Image.fromarray(grey).save(trained / "grey.png")
    done = invoke("colorize-cnn", str(trained / "grey.png"), "--weights", str(trained / "ck.pt"),
                  "-o", str(trained / "out.png"), "-q")
    assert done.returncode == 0, done.stderr
    assert np.asarray(Image.open(trained / "out.png")).shape == (24, 30, 3)


def test_resume_under_torchrun_goes_on_from_the_state(trained: Path) -> None:
    first = read_checkpoint(trained / "ck.pt")["record"]
    torchrun(*TRAIN, "--data", "data", "--cache-dir", "cache", "--epochs", "2", "-o", "ck.pt",
             "--resume", "ck.pt", cwd=trained)
    record = read_checkpoint(trained / "ck.pt")["record"]
    assert [row["epoch"] for row in record["history"]] == [1, 2]
    assert record["history"][0] == first["history"][0]  # loaded, not trained again
    assert record["world_size"] == 2 and record["epochs_done"] == 2
    assert record["resumed_with"] and "--resume" in record["resumed_with"][0]


@pytest.mark.slow
def test_scene_trainer_runs_under_torchrun(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    opt_in(request)
    rng = np.random.default_rng(1)
    (tmp_path / "scenes").mkdir()
    for index in range(4):
        photo = (rng.random((72, 80, 3)) * 255).astype(np.uint8)
        Image.fromarray(photo).save(tmp_path / "scenes" / f"s{index}.png")
    torchrun("train", "colorize-cnn-scenes", "--scenes", "scenes", "-o", "sc.pt", "--steps", "2",
             "--save-every", "2", "--batch-size", "2", "--crop", "64", "--calibrate-on", "0", "-q",
             cwd=tmp_path)
    record = read_checkpoint(tmp_path / "sc.pt")["record"]
    assert record["world_size"] == 2 and record["steps_done"] == 2


@pytest.mark.slow
def test_a_bad_option_is_one_line_per_rank_not_a_traceback(tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    opt_in(request)
    done = torchrun(*TRAIN, "--data", "nowhere", "-o", "x.pt", cwd=tmp_path, check=False)
    assert done.returncode != 0
    assert "oldphoto train colorize-cnn: --data nowhere: not a folder" in done.stderr
    assert "[rank1]: Traceback" not in done.stderr and "[rank0]: Traceback" not in done.stderr
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("size", [2, 3])
def test_ranks_share_an_epoch_without_overlap(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    order = np.random.default_rng(0).permutation(20)
    shares = []
    for rank in range(size):
        monkeypatch.setattr(distributed, "world", lambda rank=rank: distributed.World(rank, size))
        shares.append(distributed.shard(order))
    assert len({len(share) for share in shares}) == 1  # equal steps on every rank
    taken = np.concatenate(shares)
    assert len(set(taken.tolist())) == len(taken) == 20 - 20 % size


def test_one_process_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(key, raising=False)
    order = np.arange(7)
    model = torch.nn.Linear(2, 2)
    with distributed.session("cpu") as device:
        assert device == "cpu" and distributed.world() == distributed.World()
        assert distributed.shard(order) is order and distributed.replicate(model) is model
