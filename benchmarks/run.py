"""Speed benchmarks of oldphoto, written to BENCHMARKS.md with the machine they ran on.

    python benchmarks/run.py --out BENCHMARKS.md          # the full run (about 10 minutes)
    python benchmarks/run.py --quick --out /tmp/quick.md  # a smoke test of the script

Every figure is a median over repeated runs, shown beside a baseline measured
in the same run: throughput against DAMF, start-up against ``python -c pass``,
the pipe against the same work in one process, peak memory against
``oldphoto convert``. Targets that are missed get a profile of the hot path.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import pstats
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    BIN,
    HARD_SAMPLE,
    ROOT,
    SAMPLE,
    machine,
    median,
    median_seconds,
    other_heavy_processes,
    peak_rss_mib,
    photo,
)

THROUGHPUT_FILTERS = ("age", "detect", "denoise-lr", "denoise-median", "denoise-amf",
                      "denoise-damf", "colorize-mlp", "colorize-cnn", "colorize-resnet")
BASELINE = "denoise-damf"
#: Extra rows: (label, filter, torch threads). One thread shows what oversubscription costs.
THREAD_VARIANTS = (("colorize-mlp, 1 torch thread", "colorize-mlp", 1),
                   ("colorize-cnn, 1 torch thread", "colorize-cnn", 1))
SIZES = (0.25, 1.0, 4.0)
TARGETS = {
    "denoise-lr vs DAMF": "denoise-lr MP/s >= denoise-damf MP/s (4 MP grey, 10% noise)",
    "denoise-lr vs DAMF (hard case)": "the same on a photo with 11% pure black (not a target, "
                                      "DAMF's worst case)",
    "colorize-cnn": ">= 2 MP/s at 1 MP on CPU",
    "start-up": "`oldphoto age --help` < 0.3 s, without importing torch",
    "stream": "3-stage pipe < 15% slower than the same work in one process",
    "colorize-cnn, 12 MP": "`oldphoto colorize-cnn big.png -o out.png` <= 8x the wall time of "
                           "`oldphoto convert big.png -o out.png`, peak < 2 GB",
    "colorize-resnet, 12 MP": "the same for colorize-resnet",
}


@dataclass
class Report:
    """Everything measured, ready to be written as markdown and JSON."""

    quick: bool
    machine: dict[str, str] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)
    throughput: dict[str, dict[str, Any]] = field(default_factory=dict)
    startup: dict[str, dict[str, float]] = field(default_factory=dict)
    torch_free: bool | None = None
    stream: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, dict[str, float | str]] = field(default_factory=dict)
    memory_mp: float = 12.0
    hard_case: dict[str, dict[str, float]] = field(default_factory=dict)
    colour_big: dict[str, dict[str, float]] = field(default_factory=dict)
    restore_big: dict[str, dict[str, float]] = field(default_factory=dict)
    targets: dict[str, tuple[bool | None, str]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- throughput


def inputs_for(megapixels: float, aspect: float = 1.5, source: Path = SAMPLE) -> dict[str, Any]:
    """The frame each kind of filter gets: colour for age, aged grey for detect/denoise,
    clean grey for the colourisers."""
    from oldphoto.aging import to_grey
    from oldphoto.frame import Frame
    from oldphoto.plugins import registered_filters

    clean = photo(megapixels, aspect, source)
    age = registered_filters()["age"].cls(density=0.1, seed=1)
    age.setup()
    aged = age.process_frame(Frame(clean, {}, {"name": "photo.png"}))
    return {"colour": Frame(clean, {}, {"name": "photo.png"}),
            "aged": Frame(aged.pixels, {}, {"name": "photo.png"}),
            "grey": Frame(to_grey(clean), {}, {"name": "photo.png"})}


def input_kind(name: str) -> str:
    return "colour" if name == "age" else ("grey" if name.startswith("colorize") else "aged")


def make_filter(name: str) -> Any:
    from oldphoto.plugins import registered_filters

    info = registered_filters().get(name)
    if info is None:
        return None
    options = {"seed": 1} if name == "age" else {}
    filt = info.cls(device="cpu", **options)
    filt.setup()
    return filt


def bench_throughput(report: Report, sizes: tuple[float, ...], repeats: dict[float, int]) -> None:
    filters = {}
    for name in THROUGHPUT_FILTERS:
        try:
            filters[name] = make_filter(name)
        except Exception as err:  # a filter whose weights are not shipped yet
            filters[name] = None
            report.throughput[name] = {"missing": str(err).split(" (")[0][:120]}
        if filters[name] is None and name not in report.throughput:
            report.throughput[name] = {"missing": "not registered"}
    live = {name: (filt, 0) for name, filt in filters.items() if filt is not None}
    live.update({label: (filters[name], threads) for label, name, threads in THREAD_VARIANTS
                 if filters.get(name) is not None})
    for size in sizes:
        frames = inputs_for(size)
        jobs = {label: (filt, threads, frames[input_kind(filt.name)])
                for label, (filt, threads) in live.items()}
        for filt, threads, frame in jobs.values():  # warm-up: first calls are not throughput
            timed_call(filt, frame, threads)
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(repeats[size]):  # round-robin, so load from other jobs hits all alike
            for name, (filt, threads, frame) in jobs.items():
                times[name].append(timed_call(filt, frame, threads))
        for name, (_, _, frame) in jobs.items():
            pixels = frame.pixels.shape[0] * frame.pixels.shape[1] / 1e6
            report.throughput.setdefault(name, {})[str(size)] = {
                "mp": round(pixels, 3), "seconds": median(times[name]), "runs": len(times[name]),
                "mp_per_s": pixels / median(times[name])}
            log(f"throughput {name} @ {size} MP: {pixels / median(times[name]):.2f} MP/s")


def timed_call(filt: Any, frame: Any, threads: int = 0) -> float:
    """Seconds of one ``process`` call, with torch limited to ``threads`` when non-zero."""
    previous = None
    if threads:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        return median_seconds(lambda: filt.process([frame]), 1, 0)[0]
    finally:
        if previous is not None:
            import torch

            torch.set_num_threads(previous)


def bench_hard_case(report: Report, size: float, repeats: int) -> None:
    """denoise-lr and DAMF on the astronaut, whose pure black areas DAMF takes for noise."""
    frame = inputs_for(size, 1.0, HARD_SAMPLE)["aged"]
    jobs = {name: make_filter(name) for name in ("denoise-lr", "denoise-damf")}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for filt in jobs.values():
        filt.process([frame])
    for _ in range(repeats):
        for name, filt in jobs.items():
            times[name] += median_seconds(lambda f=filt: f.process([frame]), 1, 0)
    pixels = frame.pixels.shape[0] * frame.pixels.shape[1] / 1e6
    report.hard_case = {name: {"mp": round(pixels, 3), "seconds": median(t),
                               "mp_per_s": pixels / median(t)} for name, t in times.items()}
    log(f"hard case: {report.hard_case}")


def mp_per_s(report: Report, name: str, size: float) -> float | None:
    entry = report.throughput.get(name, {}).get(str(size))
    return entry["mp_per_s"] if isinstance(entry, dict) else None


# ----------------------------------------------------------------------------- start-up


def bench_startup(report: Report, work: Path, repeats: int) -> None:
    from oldphoto.codecs import encode_image, write_atomically
    from oldphoto.frame import Frame

    tiny = work / "tiny.png"
    write_atomically(tiny, encode_image(Frame(photo(0.004)), "png"))
    oldphoto = str(BIN / "oldphoto")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import numpy, typer'": [sys.executable, "-c", "import numpy, typer"],
        "oldphoto age --help": [oldphoto, "age", "--help"],
        "oldphoto colorize-cnn --help": [oldphoto, "colorize-cnn", "--help"],
        "oldphoto age tiny.png > /dev/null (64x64)": [
            "bash", "-c", f"exec {shlex.quote(oldphoto)} age {shlex.quote(str(tiny))} -q "
                          "> /dev/null"],
        "oldphoto colorize-cnn tiny.png > /dev/null (64x64)": [
            "bash", "-c", f"exec {shlex.quote(oldphoto)} colorize-cnn {shlex.quote(str(tiny))} "
                          "-q > /dev/null"],
    }
    for label, command in commands.items():
        try:
            runs = [run_with_cpu(command, shell=False) for _ in range(repeats + 1)][1:]
        except subprocess.CalledProcessError as err:
            report.startup[label] = {"error": f"exit status {err.returncode}"}  # type: ignore[dict-item]
            continue
        report.startup[label] = {"seconds": median([w for w, _ in runs]),
                                 "cpu_seconds": median([c for _, c in runs]), "runs": len(runs)}
        log(f"start-up {label}: {report.startup[label]['seconds']:.3f} s")
    probe = ("import sys\nsys.argv = ['oldphoto', 'age', '--help']\n"
             "from oldphoto.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    report.torch_free = "TORCH False" in done.stderr


def import_profile(top: int = 12) -> str:
    """The slowest imports of `oldphoto age --help`, from python -X importtime."""
    probe = ("import sys\nsys.argv = ['oldphoto', 'age', '--help']\n"
             "from oldphoto.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True,
                          text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            parts = [p.strip() for p in line.split(":", 1)[1].split("|")]
            rows.append((int(parts[1]), parts[2]))
    rows.sort(reverse=True)
    return "\n".join(f"{us / 1e6:8.3f} s  {name}" for us, name in rows[:top])


# ----------------------------------------------------------------------------- stream


def make_folder(folder: Path, count: int, side: int) -> None:
    """``count`` colour photos of side x side: seeded crops of the sample photos."""
    from PIL import Image

    sources = sorted((ROOT / "samples" / "photos").glob("*"))
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as image:
            rgb = image.convert("RGB")
            scale = side / min(rgb.size) * 1.3
            rgb = rgb.resize((int(rgb.width * scale) + 1, int(rgb.height * scale) + 1))
            left = int(rng.integers(0, rgb.width - side))
            top = int(rng.integers(0, rgb.height - side))
            rgb.crop((left, top, left + side, top + side)).save(folder / f"{index:03d}.png")


def run_with_cpu(command: list[str] | str, shell: bool) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, shell=shell, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, executable="/bin/bash" if shell else None)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench_stream(report: Report, work: Path, count: int, side: int, repeats: int) -> None:
    source = work / "photos"
    make_folder(source, count, side)
    o = shlex.quote(str(BIN / "oldphoto"))
    src = shlex.quote(str(source))
    pipe = (f"set -o pipefail; {o} age {src} -r --seed 1 -q | {o} detect -q | "
            f"{o} denoise-lr -q --overwrite -o {shlex.quote(str(work / 'out-pipe'))}/")
    single = [sys.executable, str(Path(__file__).with_name("inprocess.py")), str(source),
              str(work / "out-single")]
    results: dict[str, list[tuple[float, float]]] = {"pipe": [], "single": []}
    for _ in range(repeats + 1):  # the first round warms the file cache and is dropped
        results["pipe"].append(run_with_cpu(pipe, shell=True))
        results["single"].append(run_with_cpu(single, shell=False))
    for key in results:
        results[key] = results[key][1:]
    stream_file = work / "age.stream"  # one stage's output, to time a pass-through stage
    subprocess.run(f"{o} age {src} -r --seed 1 -q | cat > {shlex.quote(str(stream_file))}",
                   shell=True, check=True, executable="/bin/bash")
    hop = f"{o} convert -q < {shlex.quote(str(stream_file))} | cat > /dev/null"
    results["pass-through stage"] = [run_with_cpu(hop, shell=True) for _ in range(repeats + 1)][1:]
    results["start-up only"] = [run_with_cpu([str(BIN / "oldphoto"), "convert", "--help"],
                                             shell=False) for _ in range(repeats + 1)][1:]
    wall = {k: median([w for w, _ in v]) for k, v in results.items()}
    cpu = {k: median([c for _, c in v]) for k, v in results.items()}

    def shown(text: str) -> str:
        return text.replace(str(BIN / "oldphoto"), "oldphoto").replace(str(work), "$TMP")

    report.stream = {
        "photos": count, "side": side, "runs": repeats,
        "pipe_command": shown(pipe.split("; ", 1)[1]),
        "single_command": shown(" ".join(single[1:])).replace(str(ROOT) + "/", ""),
        "hop_command": shown(hop), "wall": wall, "cpu": cpu,
        "wall_overhead": wall["pipe"] / wall["single"] - 1.0,
        "cpu_overhead": cpu["pipe"] / cpu["single"] - 1.0,
    }
    log(f"stream: pipe {wall['pipe']:.2f} s, one process {wall['single']:.2f} s")


# ----------------------------------------------------------------------------- memory


def bench_memory(report: Report, work: Path, megapixels: float) -> None:
    from oldphoto.codecs import encode_image, write_atomically

    frames = inputs_for(megapixels, aspect=4 / 3)
    frames["hard"] = inputs_for(megapixels, 4 / 3, HARD_SAMPLE)["aged"]
    paths = {}
    for kind, frame in frames.items():
        paths[kind] = work / f"big-{kind}.png"
        write_atomically(paths[kind], encode_image(frame, "png"))
    oldphoto = str(BIN / "oldphoto")
    runs = [(name, name, "colour" if name == "convert" else input_kind(name))
            for name in ("convert", *THROUGHPUT_FILTERS)]
    runs += [(f"{name} (hard case: astronaut)", name, "hard")
             for name in ("denoise-lr", "denoise-damf")]
    for label, name, kind in runs:
        options = " --seed 1" if name == "age" else ""
        command = ["bash", "-c", f"exec {shlex.quote(oldphoto)} {name} "
                   f"{shlex.quote(str(paths[kind]))} -q{options} > /dev/null"]
        try:
            rss, wall = peak_rss_mib(command)
        except RuntimeError as err:
            report.memory[label] = {"error": str(err).splitlines()[-1][:150]}
            continue
        report.memory[label] = {"peak_mib": rss, "seconds": wall}
        log(f"memory {label}: {rss:.0f} MiB in {wall:.1f} s")


#: The whole colourising command on a 12 MP grey photo, against `convert` of the same file.
COLOUR_BIG_TARGET = {"wall_ratio": 8.0, "peak_mib": 2048.0}


def bench_colour_big(report: Report, work: Path, megapixels: float, repeats: int) -> None:
    """`oldphoto NAME big.png -o out.png` wall time (best of ``repeats``) and peak memory."""
    from oldphoto.codecs import encode_image, write_atomically

    big = work / "big-grey.png"
    write_atomically(big, encode_image(inputs_for(megapixels, aspect=4 / 3)["grey"], "png"))
    time_commands(report.colour_big, ("convert", "colorize-cnn", "colorize-resnet"), big, work,
                  megapixels, repeats)


def time_commands(into: dict[str, dict[str, float]], names: tuple[str, ...], big: Path, work: Path,
                  megapixels: float, repeats: int) -> None:
    """Each `oldphoto NAME big.png -o out.png`: best wall time of ``repeats`` and peak memory."""
    for name in names:
        command = [str(BIN / "oldphoto"), name, str(big), "-o", str(work / f"out-{name}.png"),
                   "-q", "--overwrite"]
        runs = [peak_rss_mib(command) for _ in range(repeats)]
        into[name] = {"peak_mib": max(r[0] for r in runs), "seconds": min(r[1] for r in runs),
                      "mp": megapixels}
        log(f"{megapixels:g} MP {name}: {into[name]}")


#: `oldphoto restore` on a 12 MP grey scan (issue 18): at most 20 s and 2 GB.
RESTORE_BIG_TARGET = {"seconds": 20.0, "peak_mib": 2048.0}


def bench_restore_big(report: Report, work: Path, megapixels: float, repeats: int) -> None:
    """`oldphoto restore big.png -o out.png` on a grainy grey scan: wall time and peak memory."""
    import numpy as np

    from oldphoto.aging import film_grain
    from oldphoto.codecs import encode_image, write_atomically
    from oldphoto.frame import Frame

    grey = inputs_for(megapixels, aspect=4 / 3)["grey"]
    grainy = grey.pixels + film_grain(grey.pixels, 12 / 255, np.random.default_rng(0))
    big = work / "big-grainy.png"
    write_atomically(big, encode_image(Frame(np.clip(grainy, 0, 1), meta={"name": "big"}), "png"))
    time_commands(report.restore_big, ("convert", "restore"), big, work, megapixels, repeats)


def _restore_big_md(report: Report) -> list[str]:
    if not report.restore_big:
        return []
    out = ["", "## `restore` on a 12 MP grey scan", "",
           "`oldphoto restore big.png -o out.png --overwrite -q` on a 4000x3000 grey PNG (the "
           "coffee sample with film grain of std 12/255), best wall time of the runs and the "
           "largest peak resident memory; target (issue 18): at most "
           f"{RESTORE_BIG_TARGET['seconds']:g} s and {RESTORE_BIG_TARGET['peak_mib']:g} MiB.", "",
           "| command | wall s | peak MiB |", "|---|---|---|"]
    out += [f"| {name} | {e['seconds']:.1f} | {e['peak_mib']:.0f} |"
            for name, e in report.restore_big.items()]
    return out


# ----------------------------------------------------------------------------- targets


def profile_filter(name: str, megapixels: float, top: int = 14) -> str:
    """cProfile of one call of a filter on its usual input, by cumulative time."""
    filt = make_filter(name)
    frame = inputs_for(megapixels)[input_kind(name)]
    profiler = cProfile.Profile()
    profiler.enable()
    filt.process([frame])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    text = out.getvalue().replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
    lines = [line for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])


def check_targets(report: Report, big: float) -> None:
    lr, damf = mp_per_s(report, "denoise-lr", big), mp_per_s(report, BASELINE, big)
    if lr and damf:
        report.targets["denoise-lr vs DAMF"] = (
            lr >= damf, f"{lr:.2f} vs {damf:.2f} MP/s ({lr / damf:.2f}x) at {big} MP")
        if lr < damf:
            report.profiles["denoise-lr"] = profile_filter("denoise-lr", big)
    cnn = mp_per_s(report, "colorize-cnn", 1.0)
    if cnn:
        report.targets["colorize-cnn"] = (cnn >= 2.0, f"{cnn:.2f} MP/s at 1 MP")
        if cnn < 2.0:
            report.profiles["colorize-cnn"] = profile_filter("colorize-cnn", 1.0)
    age = report.startup.get("oldphoto age --help", {}).get("seconds")
    if age is not None:
        ok = age < 0.3 and bool(report.torch_free)
        cpu = report.startup["oldphoto age --help"]["cpu_seconds"]
        report.targets["start-up"] = (ok, f"{age:.3f} s wall ({cpu:.3f} s CPU), torch imported: "
                                          f"{'no' if report.torch_free else 'yes'}")
        if not ok:
            report.profiles["oldphoto age --help (imports)"] = import_profile()
    hard = report.hard_case
    if hard.get("denoise-lr") and hard.get("denoise-damf"):
        lr, damf = hard["denoise-lr"]["mp_per_s"], hard["denoise-damf"]["mp_per_s"]
        report.targets["denoise-lr vs DAMF (hard case)"] = (
            lr >= damf, f"{lr:.2f} vs {damf:.2f} MP/s ({lr / damf:.2f}x), astronaut, "
                        f"{hard['denoise-lr']['mp']:g} MP")
    base = report.colour_big.get("convert")
    for name in ("colorize-cnn", "colorize-resnet"):
        entry = report.colour_big.get(name)
        if base and entry:
            ratio = entry["seconds"] / base["seconds"]
            limit = COLOUR_BIG_TARGET
            ok = ratio <= limit["wall_ratio"] and entry["peak_mib"] < limit["peak_mib"]
            report.targets[f"{name}, {entry['mp']:g} MP"] = (
                ok, f"{entry['seconds']:.1f} s = {ratio:.1f}x convert ({base['seconds']:.1f} s), "
                    f"peak {entry['peak_mib']:.0f} MiB")
    if report.stream:
        overhead = report.stream["wall_overhead"]
        report.targets["stream"] = (overhead < 0.15, f"{overhead:+.1%} wall, "
                                                     f"{report.stream['cpu_overhead']:+.1%} CPU")


# ----------------------------------------------------------------------------- markdown


def markdown(report: Report, command: str) -> str:
    out = ["# Benchmarks", "",
           f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with:", "",
           "```sh", command, "```", "",
           "Each figure is the median of repeated runs (after one untimed warm-up run) and "
           "sits beside a baseline measured in the same run.", ""]
    out += ["## Machine", ""] + [f"- {k}: {v}" for k, v in report.machine.items()]
    if report.busy:
        out += ["", "**The machine was shared while this ran**; other processes using the "
                "CPU at the start, so absolute figures are pessimistic and ratios are the "
                "figures to compare:", ""] + [f"- `{p}`" for p in report.busy]
    if report.quick:
        out += ["", "**Quick mode**: fewer repeats and smaller sizes; a smoke test only."]
    out += ["", "## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for key, wanted in TARGETS.items():
        met, text = report.targets.get(key, (None, "not measured"))
        out.append(f"| {key} | {wanted} | {text} | "
                   f"{'yes' if met else ('**no**' if met is not None else '-')} |")
    out += _throughput_md(report) + _startup_md(report) + _stream_md(report)
    out += _memory_md(report) + _colour_big_md(report) + _restore_big_md(report)
    if report.errors:
        out += ["", "## Sections that failed", ""]
        out += [f"- {name}: `{text}`" for name, text in report.errors.items()]
    if report.profiles:
        out += ["", "## Profiles of missed targets", ""]
        for name, text in report.profiles.items():
            out += [f"### {name}", "", "```", text, "```", ""]
    analysis = Path(__file__).with_name("analysis.md")
    if analysis.is_file() and not report.quick:
        out += ["", analysis.read_text().strip()]
    return "\n".join(out).rstrip() + "\n"


def _throughput_md(report: Report) -> list[str]:
    sizes = sorted({float(k) for v in report.throughput.values() for k in v if k != "missing"})
    out = ["", "## Throughput (megapixels per second, in one process)", "",
           "One frame per call, `Filter.process` timed alone (no decoding or encoding); the "
           "filters take turns in each round, so load from other jobs hits them alike. "
           "Inputs: the coffee sample (no large pure black or white areas) resized at 3:2; "
           "`age` gets colour, `detect` and the "
           "denoisers get it aged to grey with 10% salt-and-pepper (no mask, so each runs its "
           "own detection), the colourisers get its clean grey. Ratio: against DAMF at the "
           "same size.", "",
           "| filter | " + " | ".join(f"{s:g} MP" for s in sizes) + " |",
           "|---|" + "---|" * len(sizes)]
    for name in (*THROUGHPUT_FILTERS, *(label for label, _, _ in THREAD_VARIANTS)):
        entry = report.throughput.get(name, {"missing": "not measured"})
        if "missing" in entry:
            out.append(f"| {name} | " + " | ".join([f"missing: {entry['missing']}"]
                                                  + [""] * (len(sizes) - 1)) + " |")
            continue
        cells = []
        for size in sizes:
            value, base = mp_per_s(report, name, size), mp_per_s(report, BASELINE, size)
            ratio = f" ({value / base:.2f}x)" if value and base else ""
            cells.append(f"{value:.2f}{ratio}" if value else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def _startup_md(report: Report) -> list[str]:
    base = report.startup.get("python -c pass", {}).get("seconds")
    out = ["", "## Start-up (whole process)", "",
           "Wall seconds is what a user waits; CPU seconds (user + system) is less sensitive "
           "to other jobs on the machine.", "",
           "| command | wall s | vs `python -c pass` | CPU s |", "|---|---|---|---|"]
    for label, entry in report.startup.items():
        if "seconds" not in entry:
            out.append(f"| `{label}` | error: {entry.get('error')} | | |")
            continue
        ratio = f"{entry['seconds'] / base:.1f}x" if base else ""
        out.append(f"| `{label}` | {entry['seconds']:.3f} | {ratio} | "
                   f"{entry['cpu_seconds']:.3f} |")
    if report.torch_free is not None:
        out += ["", f"`oldphoto age --help` imports torch: "
                    f"{'no' if report.torch_free else '**yes**'}."]
    return out


def _stream_md(report: Report) -> list[str]:
    s = report.stream
    if not s:
        return []
    return ["", "## Stream overhead", "",
            f"{s['photos']} colour photos of {s['side']}x{s['side']}, median of {s['runs']} "
            "runs each. Wall time is what a user waits (the pipe's stages overlap on 2 "
            "cores); CPU time (user + system of every process) is the work done.", "",
            "| how | wall s | CPU s |", "|---|---|---|",
            f"| pipe: `{s['pipe_command']}` | {s['wall']['pipe']:.2f} | {s['cpu']['pipe']:.2f} |",
            f"| one process: `python {s['single_command']}` | {s['wall']['single']:.2f} | "
            f"{s['cpu']['single']:.2f} |",
            f"| overhead of the pipe | {s['wall_overhead']:+.1%} | {s['cpu_overhead']:+.1%} |",
            "", "Where the overhead goes: each extra stage costs one start-up plus reading and "
            "writing the stream. A pass-through stage over the same frames "
            f"(`{s['hop_command']}`) takes {s['cpu']['pass-through stage']:.2f} s CPU, of "
            f"which {s['cpu']['start-up only']:.2f} s is start-up (`oldphoto convert --help`) "
            f"and {s['cpu']['pass-through stage'] - s['cpu']['start-up only']:.2f} s moving "
            f"{s['photos']} frames through the stream."]


def _colour_big_md(report: Report) -> list[str]:
    if not report.colour_big:
        return []
    base = report.colour_big.get("convert", {}).get("seconds")
    out = ["", "## The whole colourising command on a 12 MP grey photo", "",
           "`oldphoto NAME big.png -o out.png --overwrite -q` on a 4000x3000 grey PNG (the coffee "
           "sample, resized), best wall time of 3 runs and the largest peak resident memory, "
           "against `oldphoto convert` of the same file (decode and encode only).", "",
           "| command | wall s | vs convert | peak MiB |", "|---|---|---|---|"]
    for name, entry in report.colour_big.items():
        ratio = f"{entry['seconds'] / base:.1f}x" if base else ""
        out.append(f"| {name} | {entry['seconds']:.1f} | {ratio} | {entry['peak_mib']:.0f} |")
    return out


def _memory_md(report: Report) -> list[str]:
    base = report.memory.get("convert", {}).get("peak_mib")
    out = ["", f"## Peak memory on a {report.memory_mp:g} MP photo (4:3)", "",
           "One run each of `oldphoto FILTER big.png > /dev/null` (PNG in, the frame stream "
           "out), peak resident set size of the process (`getrusage` of the child). `age` and "
           "the "
           "colourisers get the colour photo (coffee sample), the others the aged grey one; "
           "the hard cases get the astronaut aged, 11% of it pure black. Baseline: "
           "`oldphoto convert` (decode and stream only).", "",
           "| filter | peak MiB | vs convert | wall s (one run) |", "|---|---|---|---|"]
    for name, entry in report.memory.items():
        if "peak_mib" not in entry:
            out.append(f"| {name} | error: {entry.get('error')} | | |")
            continue
        ratio = f"{entry['peak_mib'] / base:.1f}x" if base else ""
        out.append(f"| {name} | {entry['peak_mib']:.0f} | {ratio} | {entry['seconds']:.1f} |")
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=None, help="Also write raw results here.")
    parser.add_argument("--quick", action="store_true", help="Smoke test: few, small runs.")
    parser.add_argument("--skip", default="", help="Comma list of sections to skip: "
                                                   "throughput,startup,stream,memory,colour-big,restore-big.")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    report = Report(quick=args.quick, machine=machine(), busy=other_heavy_processes())
    sizes = (0.25, 1.0) if args.quick else SIZES
    repeats = {0.25: 2, 1.0: 2} if args.quick else {0.25: 5, 1.0: 5, 4.0: 3}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oldphoto-bench-") as tmp:
        work = Path(tmp)
        report.memory_mp = 1.0 if args.quick else 12.0
        sections = {
            "throughput": lambda: bench_throughput(report, sizes, repeats),
            "startup": lambda: bench_startup(report, work, 3 if args.quick else 7),
            "stream": lambda: bench_stream(report, work, 20 if args.quick else 100, 512,
                                           1 if args.quick else 3),
            "memory": lambda: bench_memory(report, work, report.memory_mp),
            "colour-big": lambda: bench_colour_big(report, work, report.memory_mp, 1 if args.quick else 3),
            "restore-big": lambda: bench_restore_big(report, work, report.memory_mp,
                                                     1 if args.quick else 2),
            "hard-case": lambda: bench_hard_case(report, max(sizes), repeats[max(sizes)]),
            "targets": lambda: check_targets(report, max(sizes)),
        }
        for name, run in sections.items():
            if name in skip:
                continue
            try:
                run()
            except Exception as err:  # one broken section must not lose the others
                report.errors[name] = f"{type(err).__name__}: {str(err)[-300:]}"
                log(f"{name} failed: {report.errors[name]}")
    report.machine["load_average_after"] = " / ".join(
        f"{x:.2f}" for x in __import__("os").getloadavg())
    report.machine["benchmark_minutes"] = f"{(time.perf_counter() - started) / 60:.1f}"
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--json"
             and (i == 0 or sys.argv[i] != "--json")]  # --json only saves raw numbers
    command = shlex.join(["python", "benchmarks/run.py", *shown])
    kept = args.out.read_text() if args.out.exists() else ""  # benchmarks/scale.py's section
    kept = kept[kept.find("<!-- scale -->"):] if "<!-- scale -->" in kept else ""
    args.out.write_text(markdown(report, command) + ("\n" + kept if kept else ""))
    if args.json:
        args.json.write_text(json.dumps(report.__dict__, indent=2, default=str) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
