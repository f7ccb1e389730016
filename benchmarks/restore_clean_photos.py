"""Does `restore` leave clean photos alone, and does it still restore light scans?

    python benchmarks/restore_clean_photos.py --data ../shared/data

1. Clean photos through `restore` against themselves: BSD68 in grey, and every
   third `scenes/val` photo in colour. Counted: photos below 38 dB (issue 18's
   floor), the worst, and the photos taken for clean (no grain removed, only
   the dust the finder is sure of filled). The control in the same run is
   `restore` told the classical level (`block_noise`): the behaviour before
   the learned estimator, wherever the blocks read 3/255 or more.
2. Light scans: every fourth `scenes/val` photo in grey, aged by `age
   --realistic` at strengths 0.5, 0.75 and 1 (grain of 3.2, 4.8 and 6.4 levels
   before JPEG). PSNR against the clean photo of the aged scan, of median +
   non-local means, of `restore` at the classical level, and of `restore`; and
   how many scans `restore` took for clean photos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _read(path: Path, colour: bool) -> np.ndarray:
    from oldphoto.codecs import read_image
    from oldphoto.denoise.images import read_grey

    return read_image(path).pixels if colour else read_grey(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--strengths", default="0.5,0.75,1", help="age --realistic strengths")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import torch

    from oldphoto.aging import to_grey
    from oldphoto.bench.restore import _median_nlm, damage
    from oldphoto.denoise.images import list_images
    from oldphoto.metrics import psnr
    from oldphoto.restore.estimate import block_noise
    from oldphoto.restore.pipeline import RestoreSettings, restore

    torch.set_num_threads(1)

    def both(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """restore as shipped, restore at the classical level, and whether it took the
        picture for a clean photo."""
        luma = pixels if pixels.ndim == 2 else to_grey(pixels)
        ours, info, _ = restore(pixels)
        classical = restore(pixels, RestoreSettings(level=block_noise(luma)))[0]
        return ours, classical, info["clean_photo"]

    scenes = list_images(args.data / "scenes" / "val", None)
    print("clean photos against themselves (restore | restore told the classical level)")
    for name, files, colour in (("BSD68, grey", list_images(args.data / "denoise" / "BSD68", None), False),
                                ("scenes/val every 3rd, colour", scenes[::3], True)):
        ours, classical, taken = [], [], 0
        for path in files:
            photo = _read(path, colour)
            out, control, clean_photo = both(photo)
            ours.append(psnr(out, photo))
            classical.append(psnr(control, photo))
            taken += clean_photo
        print(f"  {name} ({len(files)}): below 38 dB {sum(v < 38 for v in ours)} | "
              f"{sum(v < 38 for v in classical)}; worst {min(ours):.2f} | {min(classical):.2f}; "
              f"taken for clean {taken}")
    print("light scans, scenes/val every 4th in grey: PSNR dB against the clean photo")
    print("  strength | aged | median + NLM | restore told the classical level | restore | taken for clean")
    files = scenes[::4]
    for strength in (float(s) for s in args.strengths.split(",")):
        rows, taken = [], 0
        for index, path in enumerate(files):
            clean = _read(path, False)
            rng = np.random.default_rng([args.seed, index, int(strength * 100)])
            aged = damage(clean, ("realistic", strength), rng)
            out, control, clean_photo = both(aged)
            taken += clean_photo
            rows.append([psnr(aged, clean), psnr(np.clip(_median_nlm(aged, 0.0), 0, 1), clean),
                         psnr(control, clean), psnr(out, clean)])
        mean = np.mean(rows, axis=0)
        print(f"  x{strength:g} ({len(files)}) | " + " | ".join(f"{v:.2f}" for v in mean)
              + f" | {taken}", flush=True)


if __name__ == "__main__":
    main()
