"""Does ``--device cuda`` give the CPU's pictures? One short script for a session lent a GPU.

    python benchmarks/device_check.py                 # cuda against cpu
    python benchmarks/device_check.py --device cpu    # the script itself, anywhere

Every model filter runs on the shipped sample photos (and, for the grain and
scan filters, on the same photos aged by ``age --realistic``), once on the CPU
and once on the device, through the library API, so model loading, batching and
the read-out are the filters' own. For each it prints the PSNR of the device's
picture against the CPU's, the largest pixel difference (0..255) and both wall
times (the first call includes loading). It exits 1 when any picture is below
``--min-psnr``: float32 kernels differ in the last bits between devices, which
should stay far below what an eye or the benches can see, while a real device
bug (a wrong dtype, a missed ``.to(device)``) shows as tens of dB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Filters with a model, and whether they take the aged photos (scans) or the clean ones (grey).
MODEL_FILTERS = {"colorize-mlp": False, "colorize-cnn": False, "colorize-resnet": False,
                 "denoise-grain": True, "restore": True}


def _photos(folder: Path) -> dict[str, np.ndarray]:
    from oldphoto.codecs import read_image

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return {path.name: read_image(path).pixels for path in paths}


def _timed(name: str, picture: np.ndarray, device: str) -> tuple[np.ndarray, float]:
    import oldphoto

    started = time.perf_counter()
    out = oldphoto.run(name, picture, device=device).pixels
    return out, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU")
    parser.add_argument("--photos", type=Path, default=ROOT / "samples" / "photos")
    parser.add_argument("--min-psnr", type=float, default=40.0,
                        help="the device's picture against the CPU's, dB")
    args = parser.parse_args()

    import torch

    from oldphoto.aging import to_grey
    from oldphoto.bench.restore import damage
    from oldphoto.metrics import psnr

    if args.device == "cuda" and not torch.cuda.is_available():
        print("device_check: no CUDA device here (torch sees none)", file=sys.stderr)
        return 2
    photos = _photos(args.photos)
    if not photos:
        print(f"device_check: {args.photos}: no PNG or JPEG photos", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}; {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    print("| filter | photo | PSNR device vs cpu (dB) | max diff (0..255) | cpu s | device s |")
    print("|---|---|---|---|---|---|")
    failed = 0
    for name, scans in MODEL_FILTERS.items():
        for index, (photo_name, photo) in enumerate(photos.items()):
            grey = photo if photo.ndim == 2 else to_grey(photo)
            picture = damage(grey, ("realistic", 1.0), np.random.default_rng(index)) if scans else grey
            on_cpu, cpu_s = _timed(name, picture, "cpu")
            on_device, device_s = _timed(name, picture, args.device)
            score = psnr(on_device, on_cpu)
            worst = float(np.abs(on_device - on_cpu).max()) * 255.0
            failed += score < args.min_psnr
            print(f"| {name} | {photo_name} | {score:.2f} | {worst:.1f} | {cpu_s:.2f} | {device_s:.2f} |",
                  flush=True)
    print(f"{failed} picture(s) below {args.min_psnr:g} dB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
