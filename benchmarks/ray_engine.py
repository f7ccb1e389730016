"""The Ray engine against the local one: ``oldphoto chain`` on the same photos, wall time.

    python benchmarks/ray_engine.py              # 20 photos, 2 rounds: about 5 minutes on 2 cores
    python benchmarks/ray_engine.py --photos 6 --rounds 1   # a smoke test

Prints a markdown table (docs/ray.md holds the last one). Each command runs as a user would
run it, in a fresh process: ``--engine ray`` starts its own local Ray instance, and
``--address`` joins one started beforehand with ``ray start --head``, which shows what Ray
costs once running. Needs ../shared (the scenes) and the extra ``oldphoto[ray]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BIN, machine, other_heavy_processes
from scale import CHAIN, load, log, scenes, timed

RAY_START = ["start", "--head", "--num-cpus", "2", "--include-dashboard", "false",
             "--port", "6390"]


def run_rounds(settings: dict[str, list[str]], source: Path, work: Path, rounds: int,
               rows: list[tuple[int, str, float, str]]) -> None:
    """Each setting once per round, taking turns, into fresh output folders."""
    for round_ in range(1, rounds + 1):
        for name, extra in settings.items():
            before = load()
            seconds = timed(["chain", CHAIN, str(source), "-r", "-o",
                             str(work / f"out-{len(rows)}"), *extra])
            rows.append((round_, name, seconds, f"{before} -> {load()}"))
            log(f"round {round_}, {name}: {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    busy = other_heavy_processes()
    own = {"local, --jobs 1": [], "local, --jobs 2": ["--jobs", "2"],
           "ray, own local instance": ["--engine", "ray"]}
    joined = {"ray, --address (instance already running)": ["--address", "127.0.0.1:6390"]}
    rows: list[tuple[int, str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="oldphoto-ray-") as tmp:
        work = Path(tmp)
        source = scenes(work, args.photos)
        run_rounds(own, source, work, args.rounds, rows)
        subprocess.run([str(BIN / "ray"), *RAY_START], check=True, capture_output=True)
        os.environ["RAY_AUTH_MODE"] = "token"  # `ray start` made a token (~/.ray/auth_token)
        try:
            run_rounds(joined, source, work, args.rounds, rows)
        finally:
            subprocess.run([str(BIN / "ray"), "stop"], check=False, capture_output=True)
    info = machine()
    command = shlex.join(["python", "benchmarks/ray_engine.py", *sys.argv[1:]])
    print(f"`{command}`: `oldphoto chain \"{CHAIN}\" aged/ -r -o out/ ...` on {args.photos} "
          f"photos of the shared scenes, {info['cores']} cores ({info['cpu']}).")
    if busy:
        print("\nOther processes were using the CPU: " + "; ".join(busy) + ".")
    print("\n| round | engine | wall s | load average before -> after |\n|---|---|---|---|")
    for round_, name, seconds, loads in rows:
        print(f"| {round_} | {name} | {seconds:.1f} | {loads} |")


if __name__ == "__main__":
    main()
