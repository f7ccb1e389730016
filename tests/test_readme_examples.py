"""The README's command-line examples, run as written on (small copies of) the samples.

Only names the samples cannot supply are replaced: ``photos/`` and ``scans/``
are a folder of samples, ``scan.tif`` one sample as TIFF, ``magick`` a plain
``cat`` where ImageMagick is absent, and ``--device cuda`` ``auto`` where
CUDA is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT

SAMPLES = ROOT / "samples" / "photos"


def use_examples() -> list[str]:
    """The command lines of the README's first shell block under "## Use"."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Use", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def small_samples(folder: Path) -> None:
    """Every sample, cut to 64 px on the long side: the same formats, a fraction of the time."""
    folder.mkdir()
    for path in sorted(SAMPLES.iterdir()):
        image = iio.imread(path)
        step = max(1, max(image.shape[:2]) // 64)
        iio.imwrite(folder / path.name, np.ascontiguousarray(image[::step, ::step]))


@pytest.mark.slow
def test_the_readme_use_examples_run_as_written(tmp_path: Path) -> None:
    small_samples(tmp_path / "photos")
    shutil.copytree(tmp_path / "photos", tmp_path / "scans")
    iio.imwrite(tmp_path / "scan.tif", iio.imread(tmp_path / "photos" / "camera.png"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "OLDPHOTO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    examples = use_examples()
    assert len(examples) >= 6
    for line in examples:
        if shutil.which("magick") is None:
            line = re.sub(r"magick - .* (\S+)$", r"cat > \1", line)
        if "--device cuda" in line and not _has_cuda():
            line = line.replace("--device cuda", "--device auto")
        result = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env,
                                capture_output=True, timeout=300, check=False)
        assert result.returncode == 0, (line, result.stderr.decode())
    assert len(list((tmp_path / "aged").iterdir())) == 5
    assert len(list((tmp_path / "masks").iterdir())) == 5
    assert iio.imread(tmp_path / "x.png").ndim == 2
    assert iio.imread(tmp_path / "small.png").shape == iio.imread(tmp_path / "scan.tif").shape
    assert len(list((tmp_path / "coloured").iterdir())) == 5


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
