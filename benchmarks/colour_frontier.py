"""The PSNR / colourfulness trade-off of colourisers on the training val split.

    python benchmarks/colour_frontier.py --weights runs/cnn2.pt --weights colorize-cnn \\
        --data ../shared/data/cifar10/train --data ../shared/data/tiny-imagenet/train

For each checkpoint it predicts a*b* once (mirror-averaged, as the filter does)
on the same val split its trainer used (``--val-split``, seed 0, at 32x32), then
grades that prediction three ways and keeps, for each colourfulness target,
the best setting of each:

- ``gain``: a uniform a*b* gain (the ``--saturation`` of the filters);
- ``spread``: gain plus ``grading.widen_spread`` (the filters' ``--spread``);
- all with the faint-colour gate (``--min-chroma``), at most 30% of photos grey
  (the study's cap; the shipped defaults were calibrated with 15%).

"Best" is the highest worst-set gain over gray on colour originals, under the
constraint that every ``--data`` set reaches the target share of its truth's
colourfulness. This is what `docs/colorize.md` quotes when it compares
gradings and training losses; it is a val-split study, not the benchmark
(``oldphoto bench colorize`` is).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oldphoto.colour.data import load_image_set, merge, split  # noqa: E402
from oldphoto.colour.grading import widen_spread  # noqa: E402
from oldphoto.colour.lab import lab_to_rgb, mean_chroma, uint8_to_lab  # noqa: E402
from oldphoto.colour.pipeline import Colouriser  # noqa: E402
from oldphoto.colour.training import colourfulness  # noqa: E402

GAINS = (0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0)
SPREADS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
GATES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
MAX_GREY = 0.3


def per_image(rgb: torch.Tensor, truth: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (capped at 100 dB) and Hasler-Suesstrunk colourfulness (0-255)."""
    mse = (rgb - truth).pow(2).mean(dim=(1, 2, 3)).double()
    psnr = torch.where(mse <= 1e-10, torch.full_like(mse, 100.0), -10.0 * torch.log10(mse))
    return psnr.numpy(), colourfulness(rgb).double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", required=True)
    parser.add_argument("--data", action="append", type=Path, required=True)
    parser.add_argument("--val-split", type=float, default=0.05)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "runs" / "cache")
    parser.add_argument("--targets", default="0,0.35,0.4,0.45")
    args = parser.parse_args()

    data = merge([load_image_set(path, 32, cache_dir=args.cache_dir) for path in args.data])
    _, val = split(data, args.val_split, 0)
    lab = uint8_to_lab(torch.from_numpy(val.images))
    truth = lab_to_rgb(lab)
    origins = val.origins
    gray = lab_to_rgb(torch.cat([lab[:, :1], 0 * lab[:, 1:]], 1))
    gray_psnr, _ = per_image(gray, truth)
    _, truth_colour = per_image(truth, truth)
    colour_original = (truth - gray).abs().amax(dim=(1, 2, 3)).numpy() > 2.0 / 255.0
    print(f"val: {len(val)} images from {len(args.data)} sets, {int((~colour_original).sum())} "
          "black-and-white originals")
    targets = [float(t) for t in args.targets.split(",")]
    for weights in args.weights:
        colouriser = Colouriser(weights, detector="none")
        with torch.no_grad():
            predicted = torch.cat([
                colouriser._predict(lab[i : i + 512, :1] / 100.0)[0] for i in range(0, len(lab), 512)
            ])
        chroma = mean_chroma(predicted).numpy()
        rows = []
        for gain, spread in itertools.product(GAINS, SPREADS):
            graded = widen_spread(predicted * gain, spread)
            psnr, colour = per_image(lab_to_rgb(torch.cat([lab[:, :1], graded], 1)), truth)
            for gate in GATES:
                grey = chroma < gate
                psnr_g, colour_g = np.where(grey, gray_psnr, psnr), np.where(grey, 0.0, colour)
                row = {"gain": gain, "spread": spread, "gate": gate, "grey": grey.mean()}
                for origin in np.unique(origins):
                    mine, kept = origins == origin, (origins == origin) & colour_original
                    row[f"all{origin}"] = (psnr_g[mine] - gray_psnr[mine]).mean()
                    row[f"colour{origin}"] = (psnr_g[kept] - gray_psnr[kept]).mean()
                    row[f"ratio{origin}"] = colour_g[mine].mean() / truth_colour[mine].mean()
                rows.append(row)
        sets = [int(o) for o in np.unique(origins)]
        print(f"\n{weights}  (sets: {', '.join(p.parent.name + '/' + p.name for p in args.data)})")
        for target in targets:
            for kind in ("gain", "spread"):
                ok = [r for r in rows if r["grey"] <= MAX_GREY
                      and min(r[f"ratio{s}"] for s in sets) >= target
                      and (kind == "spread" or r["spread"] == 0)]
                if not ok:
                    print(f"  ratio >= {target:.2f} {kind:6s}: unreachable")
                    continue
                best = max(ok, key=lambda r: min(r[f"colour{s}"] for s in sets))
                per_set = "  ".join(
                    f"set {s}: all {best[f'all{s}']:+.3f} colour {best[f'colour{s}']:+.3f} "
                    f"ratio {best[f'ratio{s}']:.3f}" for s in sets)
                print(f"  ratio >= {target:.2f} {kind:6s}: gain {best['gain']} spread "
                      f"{best['spread']} gate {best['gate']} grey {best['grey']:.2f} | {per_set}")


if __name__ == "__main__":
    main()
