#!/usr/bin/env bash
# Re-runs and resumes on a folder of 500 small photos: first run, re-run over the
# finished folder, Ctrl-C once 250 outputs exist, then the resume.
# Usage (from the repository root, after `make install`): bash benchmarks/resume.sh [FILTER]
set -um
FILTER=${1:-age}
BIN=${BIN:-.venv/bin}
WORK=$(mktemp -d /tmp/oldphoto-resume-XXXX)
"$BIN/python" - "$WORK/photos" <<'PY'
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

folder = Path(sys.argv[1])
folder.mkdir()
rng = np.random.default_rng(0)
for i in range(500):
    iio.imwrite(folder / f"p{i:03d}.png", rng.integers(0, 256, (96, 128), dtype=np.uint8))
PY
TIMEFORMAT="%R s"
echo "listing:";   time find "$WORK/photos" -name "*.png" -fprint /dev/null
echo "first run:"; time "$BIN/oldphoto" "$FILTER" "$WORK/photos" -r -o "$WORK/out/" -q
echo "re-run:";    time "$BIN/oldphoto" "$FILTER" "$WORK/photos" -r -o "$WORK/out/"
"$BIN/oldphoto" "$FILTER" "$WORK/photos" -r -o "$WORK/out2/" -q & pid=$!
while [ "$(ls "$WORK/out2" 2>/dev/null | wc -l)" -lt 250 ]; do sleep 0.1; done
kill -INT "$pid"; wait "$pid"; echo "exit status after Ctrl-C: $?"
echo "temporary files left: $(ls -a "$WORK/out2" | grep -c tmp)"
echo "resume:";    time "$BIN/oldphoto" "$FILTER" "$WORK/photos" -r -o "$WORK/out2/"
echo "outputs: $(ls "$WORK/out2" | wc -l) of 500"
rm -rf "$WORK"
