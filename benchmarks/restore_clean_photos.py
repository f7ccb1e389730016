"""Does `restore` leave clean photos alone, and does it still restore light scans?

    python benchmarks/restore_clean_photos.py --data ../shared/data

Three columns for every row, in the same run: `restore` as shipped (`--strength
auto`); `restore` told the level it reads itself, which takes out the whole of
the grain the network finds (what auto did before the grain share); and
`restore` told the classical level (`block_noise`), the behaviour before the
learned estimator.

1. Clean photos against themselves: BSD68 and Set12 in grey, CBSD68, McMaster
   and all 283 `scenes/val` photos in colour. Counted: photos below 38 dB
   (issue 18's floor), the worst, and the photos taken for clean (no grain
   removed, only the dust the finder is sure of filled); the names of those
   below 38 dB follow each row.
2. Light scans: every fourth `scenes/val` photo in grey, aged by `age
   --realistic` at strengths 0.5, 0.75 and 1 (grain of 3.2, 4.8 and 6.4 levels
   before JPEG), and BSD68 at strength 1 (the bench's lightest). Mean PSNR
   against the clean photo, beside the aged scan and median + non-local means.
3. Noisy colour scans: CBSD68 with Gaussian noise of 5 and 8 levels in each
   channel (the chroma's own reading decides whether it is smoothed).
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

    def three(pixels: np.ndarray) -> tuple[list[np.ndarray], bool]:
        """restore as shipped, told its own reading, told the classical level; and whether
        it took the picture for a clean photo."""
        luma = pixels if pixels.ndim == 2 else to_grey(pixels)
        ours, info, _ = restore(pixels)
        whole = restore(pixels, RestoreSettings(level=info["strength"] / 255.0))[0]
        classical = restore(pixels, RestoreSettings(level=block_noise(luma)))[0]
        return [ours, whole, classical], info["clean_photo"]

    denoise = args.data / "denoise"
    scenes = list_images(args.data / "scenes" / "val", None)
    bsd68 = list_images(denoise / "BSD68", None)
    print("clean photos against themselves: below 38 dB, worst "
          "(restore | told its own reading | told the classical level); taken for clean")
    for name, files, colour in (("BSD68, grey", bsd68, False),
                                ("Set12, grey", list_images(denoise / "Set12", None), False),
                                ("CBSD68, colour", list_images(denoise / "CBSD68", None), True),
                                ("McMaster, colour", list_images(denoise / "McMaster", None), True),
                                ("scenes/val, colour", scenes, True)):
        scores, taken, below = [], 0, []
        for path in files:
            photo = _read(path, colour)
            outs, clean_photo = three(photo)
            scores.append([psnr(out, photo) for out in outs])
            taken += clean_photo
            if scores[-1][0] < 38:
                below.append(f"{path.name} {scores[-1][0]:.2f}")
        by_column = np.array(scores).T
        print(f"  {name} ({len(files)}): below 38 dB "
              + " | ".join(str(int((column < 38).sum())) for column in by_column)
              + "; worst " + " | ".join(f"{column.min():.2f}" for column in by_column)
              + f"; taken for clean {taken}", flush=True)
        if below:
            print("    below 38 dB: " + ", ".join(below), flush=True)

    def scored(name: str, key: int, files: list[Path], colour: bool, spoil) -> None:
        """Mean PSNR of the spoilt photos, of median + NLM (grey only), and of the three."""
        rows, taken = [], 0
        for index, path in enumerate(files):
            clean = _read(path, colour)
            spoilt = spoil(clean, np.random.default_rng([args.seed, index, key]))
            outs, clean_photo = three(spoilt)
            taken += clean_photo
            baseline = [] if colour else [psnr(np.clip(_median_nlm(spoilt, 0.0), 0, 1), clean)]
            rows.append([psnr(spoilt, clean), *baseline] + [psnr(out, clean) for out in outs])
        print(f"  {name} ({len(files)}) | " + " | ".join(f"{v:.2f}" for v in np.mean(rows, axis=0))
              + f" | {taken}", flush=True)

    print("light scans in grey: mean PSNR dB against the clean photo")
    print("  set | aged | median + NLM | restore | told its own reading | told the classical level"
          " | taken for clean")
    for strength in (float(s) for s in args.strengths.split(",")):
        scored(f"scenes/val every 4th, x{strength:g}", int(strength * 100), scenes[::4], False,
               lambda clean, rng, s=strength: damage(clean, ("realistic", s), rng))
    scored("BSD68, x1", 1, bsd68, False, lambda clean, rng: damage(clean, ("realistic", 1.0), rng))
    print("noisy colour scans: mean PSNR dB against the clean photo")
    print("  set | noisy | restore | told its own reading"
          " | told the classical level | taken for clean")
    for sigma in (5.0, 8.0):
        scored(f"CBSD68, channel noise {sigma:g}", 1000 + int(sigma), list_images(denoise / "CBSD68", None),
               True,
               lambda clean, rng, s=sigma: np.clip(clean + rng.normal(0, s / 255, clean.shape), 0, 1
                                                   ).astype(np.float32))


if __name__ == "__main__":
    main()
