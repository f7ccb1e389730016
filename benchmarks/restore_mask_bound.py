"""How much of `restore`'s realistic-damage margin is lost to finding the damage.

    python benchmarks/restore_mask_bound.py --data ../shared/data/denoise/BSD68 --every 4

For each photo and strength, `age --realistic` damage is made with its true mask;
the grain network runs at the estimated level; then the damage is filled with
the rules' mask (`restore/damage.py`, the finder before the learned one), the
learned finder's mask (what `restore` uses) and the true one. Printed per
strength: median + NLM (the issue's baseline), the network alone, the three
fills, and each finder's precision / recall of the pixels the damage changed by
more than 0.15.
"""

from __future__ import annotations

import numpy as np
from common import damage_study_options


def main() -> None:
    args = damage_study_options(__doc__, every=4, strengths="1,2,3")

    import torch

    from oldphoto.aging import apply_damage, realistic_at
    from oldphoto.bench.restore import _median_nlm
    from oldphoto.denoise.detect import precision_recall
    from oldphoto.denoise.images import list_images, read_grey
    from oldphoto.metrics import psnr
    from oldphoto.restore.damage import damage_mask, fill_masked
    from oldphoto.restore.estimate import estimate_noise
    from oldphoto.restore.pipeline import denoise, find_damage

    torch.set_num_threads(1)
    files = list_images(args.data, None)[:: args.every]
    print(f"{args.data} ({len(files)} images): PSNR dB")
    print("strength | median + NLM | network alone | rules' mask | learned mask | true mask | "
          "rules P / R | learned P / R")
    for strength in (float(s) for s in args.strengths.split(",")):
        rows = []
        for index, path in enumerate(files):
            clean = read_grey(path)
            rng = np.random.default_rng([args.seed, index, int(strength * 100)])
            damaged, truth = apply_damage(clean, realistic_at(strength), rng)
            level = estimate_noise(damaged)
            cleaned = denoise(damaged, level)
            rules = damage_mask(cleaned, grainy=True)
            learned = find_damage(damaged, cleaned, level)
            changed = np.abs(damaged - clean) > 0.15
            rows.append([
                psnr(_median_nlm(damaged, level), clean),
                psnr(np.clip(cleaned, 0, 1), clean),
                *(psnr(np.clip(fill_masked(cleaned, mask), 0, 1), clean)
                  for mask in (rules, learned, truth)),
                *precision_recall(rules, truth, changed=changed),
                *precision_recall(learned, truth, changed=changed),
            ])
        m = np.mean(rows, axis=0)
        print(f"x{strength:g} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} | {m[4]:.2f} | "
              f"{m[5]:.3f} / {m[6]:.3f} | {m[7]:.3f} / {m[8]:.3f}", flush=True)


if __name__ == "__main__":
    main()
