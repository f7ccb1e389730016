"""Is colouriser B better than colouriser A on these photos, or is it noise?

    python benchmarks/paired_colourisers.py --data ../shared/data/denoise/CBSD68 \\
        --weights colorize-cnn --against colorize-resnet

Both run the filter's full pipeline, each at its own calibrated grading, on
the same photos; gray is scored in the same run. The mean gain of each over
gray hides how much the two disagree photo by photo (on CBSD68, about 0.45 dB
either way), so this prints the per-photo difference B - A with its standard
error, and how many photos each wins. Files stored single-channel (no colour
to recover, gray is exact) are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oldphoto.bench.colour import (  # noqa: E402
    grey_baseline,
    is_single_channel,
    list_images,
    read_rgb,
)
from oldphoto.colour.pipeline import Colouriser  # noqa: E402
from oldphoto.metrics import psnr  # noqa: E402


def paired_psnr(
    files: list[Path], first: Colouriser, second: Colouriser, batch: int = 64
) -> np.ndarray:
    """Rows of (gray, first, second) PSNR in dB, one per photo."""
    rows = []
    for start in range(0, len(files), batch):
        truths = [read_rgb(path) for path in files[start : start + batch]]
        outputs = zip(first.colourise(truths), second.colourise(truths), strict=True)
        for truth, ((one, _), (two, _)) in zip(truths, outputs, strict=True):
            rows.append((psnr(grey_baseline(truth), truth), psnr(one, truth), psnr(two, truth)))
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of colour photos")
    parser.add_argument("--weights", default="colorize-cnn", help="colouriser A")
    parser.add_argument("--against", default="colorize-resnet", help="colouriser B")
    parser.add_argument("--limit", type=int, default=0, help="evenly spaced subset (0 = all)")
    args = parser.parse_args()
    files = [p for p in list_images(args.data, args.limit) if not is_single_channel(p)]
    scores = paired_psnr(files, Colouriser(args.weights), Colouriser(args.against))
    gray, first, second = scores.T
    difference = second - first
    error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    print(f"{args.data} ({len(files)} photos stored in colour), gray {gray.mean():.2f} dB")
    print(f"  {args.weights}: {first.mean() - gray.mean():+.3f} dB over gray")
    print(f"  {args.against}: {second.mean() - gray.mean():+.3f} dB over gray")
    print(f"  {args.against} - {args.weights}, per photo: {difference.mean():+.3f} +- {error:.3f} dB"
          f" (better on {int((difference > 0).sum())}, worse on {int((difference < 0).sum())})")


if __name__ == "__main__":
    main()
