"""A proposed fix for DAMF's memory on photos with large pure black or white areas.

    python benchmarks/chunked_fill.py [--megapixels 12]

``oldphoto.denoise.classical.fill_from_clean`` gathers the windows of every
pending pixel at once; on a photo whose genuine black areas DAMF takes for
noise, over a million pixels reach 21x21 windows and the int64 index array
alone is N x 441 x 8 bytes (4.6 GB at 12 MP). Filling in chunks of pixels gives
identical output (each pixel depends only on the input and the mask) with
bounded memory. This script checks the outputs match and measures peak memory
and time of DAMF before and after, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHUNK = 1 << 16  # pixels per gather: at most 65536 x 441 x 8 B = 231 MB of indices


def fill_from_clean_chunked(image: np.ndarray, noisy: np.ndarray, max_window: int = 21,
                            chunk: int = CHUNK) -> np.ndarray:
    """``fill_from_clean`` with the pending pixels processed ``chunk`` at a time."""
    from oldphoto.denoise.classical import _median_of_clean
    from oldphoto.denoise.windows import gather, padded

    image = np.asarray(image, np.float32)
    noisy = np.asarray(noisy, bool)
    out = image.copy()
    all_rows, all_cols = np.nonzero(noisy)
    if all_rows.size == 0:
        return out
    if noisy.all():
        out[:] = 0.5
        return out
    radius = max_window // 2
    pixels_padded = padded(image, radius)
    clean_padded = padded(~noisy, radius)
    unfilled = []
    for start in range(0, all_rows.size, chunk):
        rows, cols = all_rows[start : start + chunk], all_cols[start : start + chunk]
        for size in range(3, max_window + 1, 2):
            if rows.size == 0:
                break
            clean = gather(clean_padded, rows, cols, size, radius)
            found = clean.any(axis=1)
            if found.any():
                values = gather(pixels_padded, rows[found], cols[found], size, radius)
                out[rows[found], cols[found]] = _median_of_clean(values, clean[found])
            rows, cols = rows[~found], cols[~found]
        unfilled.append((rows, cols))
    rows = np.concatenate([r for r, _ in unfilled])
    cols = np.concatenate([c for _, c in unfilled])
    if rows.size:
        out[rows, cols] = float(np.median(image[~noisy]))
    return out


def hard_case(megapixels: float) -> np.ndarray:
    """The astronaut (11% pure black) resized and aged with 10% salt-and-pepper, grey."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from common import HARD_SAMPLE, photo

    from oldphoto.aging import salt_and_pepper, to_grey

    grey = to_grey(photo(megapixels, 4 / 3, HARD_SAMPLE))
    return salt_and_pepper(grey, 0.1, np.random.default_rng(1))[0]


def measure(variant: str, megapixels: float) -> dict[str, float]:
    """Run DAMF once in this process and report peak memory and time."""
    import resource
    import time

    import oldphoto.denoise.classical as classical

    noisy = hard_case(megapixels)
    if variant == "chunked":
        classical.fill_from_clean = fill_from_clean_chunked  # damf looks it up at call time
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    classical.damf(noisy)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "before_call_mib": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--variant", choices=("current", "chunked"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.megapixels)))
        return
    from oldphoto.denoise.classical import extreme_mask, fill_from_clean

    small = hard_case(0.5)
    same = np.array_equal(fill_from_clean(small, extreme_mask(small)),
                          fill_from_clean_chunked(small, extreme_mask(small), chunk=4096))
    print(f"identical output on a 0.5 MP hard case: {same}")
    for variant in ("current", "chunked"):
        done = subprocess.run([sys.executable, __file__, "--variant", variant, "--megapixels",
                               str(args.megapixels)], capture_output=True, text=True, check=True)
        result = json.loads(done.stdout)
        print(f"{variant:8} DAMF at {args.megapixels:g} MP: {result['seconds']:.2f} s, peak "
              f"{result['peak_mib']:.0f} MiB (input ready: {result['before_call_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
