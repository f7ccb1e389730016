"""Figures for planning a big archive: each stage's cost per photo, and ``--jobs 2`` against 1.

    python benchmarks/scale.py --out BENCHMARKS.md          # about 10 minutes on 2 cores
    python benchmarks/scale.py --quick --out /tmp/scale.md  # a smoke test of the script

Writes its section into ``--out`` between ``<!-- scale -->`` markers, replacing an older one
(``benchmarks/run.py`` keeps the section when it rewrites the file). Each command runs as a
user would run it, in a fresh process, with ``OMP_NUM_THREADS`` unset so that ``--jobs``
divides the cores itself; the load average before and after each run is reported, since
other jobs on the machine change every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from common import BIN, ROOT, machine, other_heavy_processes, photo

START, END = "<!-- scale -->", "<!-- /scale -->"
SCENES = ROOT.parent / "shared" / "data" / "scenes" / "val"
CHAIN = "detect | denoise-lr | colorize-cnn"
#: What is timed per photo: each stage alone, then the restoring chain (one decode, one encode).
STAGES = {"age": ["age"], "detect": ["detect"], "denoise-lr": ["denoise-lr"],
          "colorize-cnn": ["colorize-cnn"], "colorize-resnet": ["colorize-resnet"],
          f"chain \"{CHAIN}\"": ["chain", CHAIN]}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(args: list[str], threads: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, workers included) of one ``oldphoto ...`` run;
    OMP_NUM_THREADS unset, or ``threads``."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "oldphoto"), *args, "-q"], env=env, check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{shlex.join(args)}: {done.stderr.decode()[-300:]}")
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def make_photos(folder: Path, count: int, megapixels: float, grey_noisy: bool) -> Path:
    """``count`` copies of the sample photo at ``megapixels``, slightly different each."""
    folder.mkdir(parents=True)
    base = photo(megapixels)
    rng = np.random.default_rng(0)
    for i in range(count):
        image = np.clip(base * rng.uniform(0.9, 1.0), 0, 1)
        if grey_noisy:
            image = image.mean(axis=2)
            hit = rng.random(image.shape) < 0.1
            image[hit] = rng.random(int(hit.sum())) < 0.5
        iio.imwrite(folder / f"p{i:03d}.png", (image * 255).round().astype(np.uint8))
    return folder


def stage_costs(work: Path, sizes: dict[float, int]) -> list[dict[str, object]]:
    """Seconds per photo of each stage's whole command (decode, filter, encode) on one core,
    start-up and model loading taken out: (t(N photos) - t(1 photo)) / (N - 1), for CPU
    seconds (core-seconds, what an archive pays for) and wall seconds."""
    rows = []
    for megapixels, count in sizes.items():
        colour = make_photos(work / f"colour-{megapixels}", count, megapixels, False)
        noisy = make_photos(work / f"noisy-{megapixels}", count, megapixels, True)
        for stage, command in STAGES.items():
            source = colour if stage in ("age", "colorize-cnn", "colorize-resnet") else noisy
            before = load()
            one = timed([*command, str(source / "p000.png"), "-o", str(work / "one.png"),
                         "--overwrite"], threads=1)
            many = timed([*command, str(source), "-r", "-o", str(work / f"out-{command[0]}"),
                          "--overwrite"], threads=1)
            wall, cpu = ((m - o) / (count - 1) for m, o in zip(many, one, strict=True))
            rows.append({"stage": stage, "mp": megapixels, "cpu": cpu, "wall": wall,
                         "first": one[0], "load": f"{before} -> {load()}"})
            log(f"{stage} at {megapixels} MP: {cpu:.3f} CPU s per photo (wall {wall:.3f} s)")
    return rows


def scenes(work: Path, count: int) -> Path:
    """``count`` photos of the shared scenes (validation set), aged to grey with 10% noise."""
    found = sorted(p for p in SCENES.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if len(found) < count:
        raise SystemExit(f"{SCENES}: needs {count} photos, found {len(found)}")
    step = len(found) // count
    picked = work / "picked"
    for path in found[::step][:count]:
        target = picked / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    timed(["age", str(picked), "-r", "--seed", "1", "--to", "png", "-o", str(work / "aged")])
    return work / "aged"


#: (--jobs, OMP_NUM_THREADS): the two settings compared, and one process on one thread, to
#: tell the gain of two processes from the cost of torch's threads on a busy machine.
SETTINGS = ((1, None), (2, None), (1, 1))


def jobs_speedup(work: Path, source: Path, rounds: int) -> list[dict[str, object]]:
    """``oldphoto chain CHAIN`` with each setting, taking turns, ``rounds`` times each."""
    rows = []
    for round_ in range(1, rounds + 1):
        for jobs, threads in SETTINGS:
            before = load()
            wall, cpu = timed(["chain", CHAIN, str(source), "-r", "-o",
                               str(work / f"jobs-{jobs}-{threads}-{round_}"), "--jobs",
                               str(jobs)], threads)
            rows.append({"round": round_, "jobs": jobs, "threads": threads, "seconds": wall,
                         "cpu": cpu, "load": f"{before} -> {load()}"})
            log(f"round {round_}, --jobs {jobs}, OMP_NUM_THREADS={threads}: {wall:.1f} s")
    return rows


def markdown(costs: list[dict[str, object]], runs: list[dict[str, object]], photos: int,
             command: str, busy: list[str]) -> str:
    info = machine()
    out = [START, "## Scale: cost per photo of each stage, and --jobs", "",
           f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{command}` on "
           f"{info['cores']} cores ({info['cpu']}).", ""]
    if busy:
        out += ["Other processes were using the CPU: " + "; ".join(busy) + ".", ""]
    out += ["Each stage's whole command (`oldphoto STAGE folder -r -o out/ -q`: decode, filter, "
            "encode) with OMP_NUM_THREADS=1, on N photos, minus the same command on one photo "
            "(start-up and model loading), divided by N - 1. CPU seconds (user + system) are "
            "core-seconds, what an archive pays for and the figure least changed by other jobs; "
            "wall seconds follow the machine's load. `age` and the colourisers get the colour "
            "sample, `detect`, `denoise-lr` and the chain it grey with 10% salt-and-pepper.", "",
            "| stage | MP | CPU s per photo | wall s per photo | first photo, wall s (start-up "
            "included) | load average before -> after |", "|---|---|---|---|---|---|"]
    for row in costs:
        stage = str(row["stage"]).replace("|", "\\|")  # a pipe inside a table cell
        out.append(f"| {stage} | {row['mp']:g} | {row['cpu']:.3f} | {row['wall']:.3f} | "
                   f"{row['first']:.2f} | {row['load']} |")
    out += ["", f"`oldphoto chain \"{CHAIN}\" aged/ -r -o out/ --jobs N` on {photos} photos of "
            "the shared scenes (validation set, 0.05-0.3 MP, aged with `age --seed 1`); the "
            "settings take turns in each round. OMP_NUM_THREADS is unset (`--jobs 2` gives each "
            "worker one torch thread) except in the last row of each round, one process on one "
            "thread. Speed-up: against `--jobs 1` of the same round. CPU s: user + system of "
            "every process, workers included.", "",
            "| round | --jobs | OMP_NUM_THREADS | wall s | speed-up | CPU s | load average "
            "before -> after |", "|---|---|---|---|---|---|---|"]
    for row in runs:
        base = next(r["seconds"] for r in runs if r["round"] == row["round"]
                    and r["jobs"] == 1 and r["threads"] is None)
        out.append(f"| {row['round']} | {row['jobs']} | {row['threads'] or 'unset'} | "
                   f"{row['seconds']:.1f} | {base / row['seconds']:.2f}x | {row['cpu']:.1f} | "
                   f"{row['load']} |")
    return "\n".join([*out, END]) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the marked section of ``path``, or append it."""
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="Smoke test: few, small runs.")
    parser.add_argument("--skip", default="", help="costs or jobs: skip that part.")
    args = parser.parse_args()
    sizes = {0.25: 3} if args.quick else {1.0: 6, 12.0: 3}
    photos, rounds = (8, 1) if args.quick else (40, 2)
    busy = other_heavy_processes()
    with tempfile.TemporaryDirectory(prefix="oldphoto-scale-") as tmp:
        work = Path(tmp)
        costs = [] if "costs" in args.skip else stage_costs(work, sizes)
        runs = [] if "jobs" in args.skip else jobs_speedup(work, scenes(work, photos), rounds)
    command = shlex.join(["python", "benchmarks/scale.py", *sys.argv[1:]])
    write_section(args.out, markdown(costs, runs, photos, command, busy))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
