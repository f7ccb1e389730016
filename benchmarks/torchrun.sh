#!/usr/bin/env bash
# Training throughput: one process against `torchrun --nproc_per_node 2` (DDP over gloo),
# colorize-cnn at its defaults (U-Net width 16, size 32, batch 64 per process) on
# 1,024 CIFAR-10 photos, 2 epochs; prints the second epoch's rate from each record.
# Usage (from the repository root, after `make install`): bash benchmarks/torchrun.sh [DATA]
set -eu
DATA=${1:-../shared/data/cifar10/train}
PY=${BIN:-.venv/bin}/python
WORK=$(mktemp -d /tmp/oldphoto-torchrun-XXXX)
COMMON=(train colorize-cnn --data "$DATA" --cache-dir "$WORK/cache" --size 32 --limit 1024
        --val-limit 64 --epochs 2 -q)
show() {
  "$PY" - "$1" "$2" <<'PY'
import sys

import torch

record = torch.load(sys.argv[1], weights_only=True)["record"]
last = record["history"][-1]
photos = last["steps"] * record["config"]["batch_size"] * record["world_size"]
print(f"{sys.argv[2]:34} {last['steps'] / last['seconds']:.2f} steps/s  "
      f"{photos / last['seconds']:.0f} photos/s  epoch {last['seconds']} s")
PY
}
"$PY" -m oldphoto "${COMMON[@]}" --epochs 1 --limit 64 -o "$WORK/warm.pt" > /dev/null 2>&1  # fills the cache
"$PY" -m oldphoto "${COMMON[@]}" --threads 1 -o "$WORK/one.pt" > /dev/null 2>&1
show "$WORK/one.pt" "1 process, --threads 1"
"$PY" -m torch.distributed.run --nproc_per_node 2 --standalone -m oldphoto "${COMMON[@]}" \
  -o "$WORK/two.pt" > /dev/null 2>&1
show "$WORK/two.pt" "torchrun --nproc_per_node 2"
"$PY" -m oldphoto "${COMMON[@]}" --threads 2 -o "$WORK/one2.pt" > /dev/null 2>&1
show "$WORK/one2.pt" "1 process, --threads 2"
rm -rf "$WORK"
