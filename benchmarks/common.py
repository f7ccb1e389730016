"""Helpers for the benchmarks: test photos, medians of timed runs, the machine, shared options."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "samples" / "photos"
#: The main test photo: a natural scene without large pure black or white areas.
SAMPLE = PHOTOS / "coffee.png"
#: DAMF's hard case: 11% of the astronaut's pixels are pure black, which DAMF treats as noise.
HARD_SAMPLE = PHOTOS / "astronaut.png"
BIN = Path(sys.executable).parent


def photo(megapixels: float, aspect: float = 1.5, source: Path = SAMPLE) -> np.ndarray:
    """A real sample photo resized to about ``megapixels`` (width/height ``aspect``), RGB float32."""
    from PIL import Image

    width = round((megapixels * 1e6 * aspect) ** 0.5)
    height = round(megapixels * 1e6 / width)
    with Image.open(source) as image:
        resized = image.convert("RGB").resize((width, height), Image.BICUBIC)
    return np.asarray(resized, np.float32) / 255.0


def median_seconds(action: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def peak_rss_mib(command: list[str]) -> tuple[float, float]:
    """Peak resident memory (MiB) and wall seconds of one run, measured in a fresh wrapper."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "t = time.perf_counter() - t\n"
        "if done.returncode:\n"
        "    lines = done.stderr.decode(errors='replace').strip().splitlines() or ['failed']\n"
        "    print(lines[-1], file=sys.stderr); sys.exit(done.returncode)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, t)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.strip()[-200:] or f"exit status {done.returncode}")
    rss, wall = done.stdout.split()
    return float(rss), float(wall)


def machine() -> dict[str, str]:
    """What the figures were measured on, including whether others were using the CPU."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import torch

    return {
        "cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "numpy": np.__version__,
        "torch": torch.__version__, "torch_threads": str(torch.get_num_threads()),
        "load_average": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def other_heavy_processes() -> list[str]:
    """Other processes using a lot of CPU right now (e.g. a training job), from /proc."""
    found = []
    own = os.getpid()
    ticks = os.sysconf("SC_CLK_TCK")
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
        age = uptime - int(fields[19]) / ticks
        if age > 30 and cpu_seconds / age > 0.5:
            found.append(f"{cmd.strip()[:90]} (~{cpu_seconds / age:.1f} cores on average)")
    return found


def damage_study_options(doc: str, every: int, strengths: str) -> argparse.Namespace:
    """The options the restore studies share: a folder of clean photos, one photo in N,
    the `age --realistic` strengths and the damage's seed (``doc``'s first line is the help)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean photos")
    parser.add_argument("--every", type=int, default=every, help="use one photo in N")
    parser.add_argument("--strengths", default=strengths,
                        help="age --realistic strengths (0: the clean photo itself)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()
