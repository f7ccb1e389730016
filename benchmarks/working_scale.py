"""At what scale should a colouriser see a non-square photo?

    python benchmarks/working_scale.py --data ../shared/data/denoise/McMaster \\
        --weights colorize-cnn --aspect 1.5 --sizes 16,21,27,32,40

Every image is centre-cropped to ``--aspect`` (long side / short side, as a
landscape) and run through the filter's pipeline with the short side of the
working image at each of ``--sizes``. The old rule (long side = 32) is the
short side 32 / aspect, e.g. 21 at 3:2; the filters now use short side = 32,
the scale of the 32x32 photos the models learned from. Gray is scored on the
same crops in the same run.
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
    list_images,
    read_rgb,
    score_weights,
)


def centre_crop(rgb: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred landscape crop whose width / height is ``aspect``."""
    height, width = rgb.shape[:2]
    if width / height > aspect:
        keep = round(height * aspect)
        left = (width - keep) // 2
        return rgb[:, left : left + keep]
    keep = round(width / aspect)
    top = (height - keep) // 2
    return rgb[top : top + keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weights", action="append", required=True)
    parser.add_argument("--aspect", type=float, default=1.5)
    parser.add_argument("--sizes", default="16,21,27,32,40")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    files = list_images(args.data, args.limit)
    truths = [centre_crop(read_rgb(path), args.aspect) for path in files]
    greys = [grey_baseline(truth) for truth in truths]
    print(f"{args.data}: {len(files)} images cropped to {args.aspect}:1")
    print("| weights | short side | long side | gain dB | colourfulness ratio | left grey |")
    print("|---|---|---|---|---|---|")
    for weights in args.weights:
        for size in (int(s) for s in args.sizes.split(",")):
            row = score_weights(files, truths, weights, size, "cpu", greys=greys)
            print(
                f"| {weights} | {size} | {round(size * args.aspect)} | {row['gain_db']:+.2f} "
                f"| {row['colourfulness_ratio']:.2f} | {row['left_grey_fraction']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
