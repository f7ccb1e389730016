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
STAGES = ("age", "detect", "denoise-lr", "colorize-cnn", "colorize-resnet")
CHAIN = "detect | denoise-lr | colorize-cnn"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(args: list[str]) -> float:
    """Wall seconds of one ``oldphoto ...`` run, OMP_NUM_THREADS unset."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "oldphoto"), *args, "-q"], env=env, check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{shlex.join(args)}: {done.stderr.decode()[-300:]}")
    return seconds


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
    """Seconds per photo of each stage's whole command (decode, filter, encode), start-up and
    model loading taken out: (t(N photos) - t(1 photo)) / (N - 1)."""
    rows = []
    for megapixels, count in sizes.items():
        colour = make_photos(work / f"colour-{megapixels}", count, megapixels, False)
        noisy = make_photos(work / f"noisy-{megapixels}", count, megapixels, True)
        for stage in STAGES:
            source = noisy if stage in ("detect", "denoise-lr") else colour
            before = load()
            one = timed([stage, str(source / "p000.png"), "-o", str(work / "one.png"),
                         "--overwrite"])
            many = timed([stage, str(source), "-r", "-o", str(work / f"out-{stage}"),
                          "--overwrite"])
            each = (many - one) / (count - 1)
            rows.append({"stage": stage, "mp": megapixels, "each": each, "first": one,
                         "load": f"{before} -> {load()}"})
            log(f"{stage} at {megapixels} MP: {each:.3f} s per photo (first photo {one:.2f} s)")
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


def jobs_speedup(work: Path, source: Path, rounds: int) -> list[dict[str, object]]:
    """``oldphoto chain CHAIN`` with --jobs 1 and 2, taking turns, ``rounds`` times each."""
    rows = []
    for round_ in range(1, rounds + 1):
        for jobs in (1, 2):
            before = load()
            seconds = timed(["chain", CHAIN, str(source), "-r", "-o",
                             str(work / f"jobs-{jobs}-{round_}"), "--jobs", str(jobs)])
            rows.append({"round": round_, "jobs": jobs, "seconds": seconds,
                         "load": f"{before} -> {load()}"})
            log(f"round {round_}, --jobs {jobs}: {seconds:.1f} s")
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
            "encode) on N photos, minus the same command on one photo (start-up and model "
            "loading), divided by N - 1. `age` and the colourisers get the colour sample, "
            "`detect` and `denoise-lr` it grey with 10% salt-and-pepper.", "",
            "| stage | MP | s per photo | first photo (start-up included) s | load average "
            "before -> after |", "|---|---|---|---|---|"]
    for row in costs:
        out.append(f"| {row['stage']} | {row['mp']:g} | {row['each']:.3f} | {row['first']:.2f} "
                   f"| {row['load']} |")
    out += ["", f"`oldphoto chain \"{CHAIN}\" aged/ -r -o out/ --jobs N` on {photos} photos of "
            "the shared scenes (validation set, 0.05-0.3 MP, aged with `age --seed 1`), "
            "OMP_NUM_THREADS unset; the two settings take turns.", "",
            "| round | --jobs | wall s | speed-up | load average before -> after |",
            "|---|---|---|---|---|"]
    for row in runs:
        base = next(r["seconds"] for r in runs if r["round"] == row["round"] and r["jobs"] == 1)
        out.append(f"| {row['round']} | {row['jobs']} | {row['seconds']:.1f} | "
                   f"{base / row['seconds']:.2f}x | {row['load']} |")
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
    sizes = {0.25: 3} if args.quick else {1.0: 8, 12.0: 3}
    photos, rounds = (8, 1) if args.quick else (40, 3)
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
