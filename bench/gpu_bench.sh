#!/usr/bin/env bash
# Device call: bench_elementwise (GPU clocks logged every 0.5 s alongside) and the PyTorch
# reductions baseline, in one call on one card.
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export DESCENT_CACHE_DIR=/tmp/descent-cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw --format=csv,noheader -lms 500 > "$OUT/clocks.txt" &
smi=$!
gpu/bin/bench_elementwise $((1 << 28)) 30 > "$OUT/bench.csv" 2> "$OUT/bench.err"; echo "bench rc=$?"
kill $smi
PYTHONUNBUFFERED=1 python3 bench/torch_reductions.py $((1 << 28)) > "$OUT/torch_red.txt" 2>&1
cat "$OUT/bench.csv" "$OUT/torch_red.txt"; sort -t, -k2 "$OUT/clocks.txt" | head -3
