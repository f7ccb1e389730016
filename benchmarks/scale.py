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

MARKS = ("<!-- scale -->", "<!-- /scale -->")
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


def markdown(costs: list[dict[str, object]], runs: list[dict[str, object]], source: str,
             command: str, busy: list[str], marks: tuple[str, str]) -> str:
    info = machine()
    title = "cost per photo of each stage, and --jobs" if costs else f"--jobs on {source}"
    out = [marks[0], f"## Scale: {title}", "",
           f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{command}` on "
           f"{info['cores']} cores ({info['cpu']}).", ""]
    if busy:
        out += ["Other processes were using the CPU: " + "; ".join(busy) + ".", ""]
    if costs:
        out += [
            "Each stage's whole command (`oldphoto STAGE folder -r -o out/ -q`: decode, filter, "
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
        out.append("")
    if runs:
        out += [
            f"`oldphoto chain \"{CHAIN}\" IN/ -r -o out/ --jobs N` on {source}; the settings "
            "take turns in each round. OMP_NUM_THREADS is unset (`--jobs 2` gives each worker "
            "one torch thread, `--jobs 1` lets torch take both cores) except in the last row of "
            "each round, one process on one thread. Speed-up: the same round's `--jobs 1` wall "
            "time over this row's, with OMP_NUM_THREADS unset and set to 1. CPU s: user + system "
            "of every process, workers included.", "",
            "| round | --jobs | OMP_NUM_THREADS | wall s | speed-up (unset) | speed-up (1 thread) "
            "| CPU s | load average before -> after |", "|---|---|---|---|---|---|---|---|"]
        for row in runs:
            same = [r for r in runs if r["round"] == row["round"] and r["jobs"] == 1]
            unset = next(r["seconds"] for r in same if r["threads"] is None)
            one = next(r["seconds"] for r in same if r["threads"] == 1)
            out.append(f"| {row['round']} | {row['jobs']} | {row['threads'] or 'unset'} | "
                       f"{row['seconds']:.1f} | {unset / row['seconds']:.2f}x | "
                       f"{one / row['seconds']:.2f}x | {row['cpu']:.1f} | {row['load']} |")
    return "\n".join([*out, marks[1]]) + "\n"


def write_section(path: Path, section: str, marks: tuple[str, str]) -> None:
    """Replace the marked section of ``path``, or append it."""
    text = path.read_text() if path.exists() else ""
    if marks[0] in text and marks[1] in text:
        head, rest = text.split(marks[0], 1)
        text = head + section.rstrip("\n") + rest.split(marks[1], 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="Smoke test: few, small runs.")
    parser.add_argument("--skip", default="", help="costs or jobs: skip that part.")
    parser.add_argument("--jobs-mp", type=float, default=None, metavar="MP",
                        help="Only --jobs, on copies of the sample at MP megapixels (its own "
                             "section) instead of the shared scenes.")
    parser.add_argument("--photos", type=int, default=None, help="Photos for --jobs (40).")
    parser.add_argument("--rounds", type=int, default=None, help="Rounds of --jobs (2).")
    args = parser.parse_args()
    sizes = {0.25: 3} if args.quick else {1.0: 6, 12.0: 3}
    photos = args.photos or (8 if args.quick else 40)
    rounds = args.rounds or (1 if args.quick else 2)
    busy = other_heavy_processes()
    marks = MARKS
    with tempfile.TemporaryDirectory(prefix="oldphoto-scale-") as tmp:
        work = Path(tmp)
        if args.jobs_mp:
            marks = (f"<!-- scale-jobs-{args.jobs_mp:g} -->", f"<!-- /scale-jobs-{args.jobs_mp:g} -->")
            source = f"{photos} copies of the sample at {args.jobs_mp:g} MP, grey with 10% noise"
            costs = []
            runs = jobs_speedup(work, make_photos(work / "in", photos, args.jobs_mp, True), rounds)
        else:
            source = (f"{photos} photos of the shared scenes (validation set, 0.05-0.3 MP, aged "
                      "with `age --seed 1`)")
            costs = [] if "costs" in args.skip else stage_costs(work, sizes)
            runs = [] if "jobs" in args.skip else jobs_speedup(work, scenes(work, photos), rounds)
    command = shlex.join(["python", "benchmarks/scale.py", *sys.argv[1:]])
    write_section(args.out, markdown(costs, runs, source, command, busy, marks), marks)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
