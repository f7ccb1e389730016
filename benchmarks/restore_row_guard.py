"""What the row guard (fence posts are not scratches) keeps from being filled, and what it costs.

    python benchmarks/restore_row_guard.py --data ../shared/data/denoise/BSD68
    python benchmarks/restore_row_guard.py --data ../shared/data/scenes/val --every 3

For each photo (read in grey) and `age --realistic` strength (0 = the clean photo
itself), the grain network runs at the estimated level and the finder's mask is
taken as `restore` takes it, once without and once with
`oldphoto.restore.guards.not_in_a_row`. Printed per strength: flagged pixels,
truly damaged pixels found, and the mean PSNR of the fill against the clean
photo; for the clean photos also how many fall below 38 dB, and the worst.
"""

from __future__ import annotations

import numpy as np
from common import damage_study_options


def main() -> None:
    args = damage_study_options(__doc__, every=1, strengths="0,0.5,1,2,3")

    import torch

    from oldphoto.aging import apply_damage, realistic_at
    from oldphoto.denoise.images import list_images, read_grey
    from oldphoto.metrics import psnr
    from oldphoto.restore.damage import fill_masked
    from oldphoto.restore.damage_net import finder
    from oldphoto.restore.estimate import estimate_noise
    from oldphoto.restore.guards import not_in_a_row
    from oldphoto.restore.pipeline import denoise, flagged_damage

    torch.set_num_threads(1)
    if finder() is None:
        raise SystemExit("restore_row_guard: the damage finder's weights are missing")
    files = list_images(args.data, None)[:: args.every]
    print(f"{args.data} ({len(files)} photos, grey)")
    print("strength | guard | flagged px | damaged px found (of all) | fill PSNR dB"
          " | clean: below 38 dB, worst")
    for strength in (float(s) for s in args.strengths.split(",")):
        counts = {"without": np.zeros(3, np.int64), "with": np.zeros(3, np.int64)}
        scores: dict[str, list[float]] = {"without": [], "with": []}
        for index, path in enumerate(files):
            clean = read_grey(path)
            if strength == 0:
                damaged, truth = clean, np.zeros(clean.shape, bool)
            else:
                rng = np.random.default_rng([args.seed, index, int(strength * 100)])
                damaged, truth = apply_damage(clean, realistic_at(strength), rng)
            level = estimate_noise(damaged)
            cleaned = denoise(damaged, level)
            raw = flagged_damage(damaged, cleaned, level)  # find_damage before the row guard
            for name, mask in (("without", raw), ("with", not_in_a_row(raw))):
                filled = fill_masked(cleaned, mask) if mask.any() else cleaned
                scores[name].append(psnr(np.clip(filled, 0.0, 1.0), clean))
                counts[name] += [mask.sum(), (mask & truth).sum(), truth.sum()]
        for name in ("without", "with"):
            flagged, found, damaged_px = counts[name]
            values = np.array(scores[name])
            clean_note = (f" | {int((values < 38).sum())}, {values.min():.2f}" if strength == 0 else "")
            print(f"x{strength:g} | {name} | {flagged} | {found} ({damaged_px}) | "
                  f"{values.mean():.3f}{clean_note}", flush=True)


if __name__ == "__main__":
    main()
