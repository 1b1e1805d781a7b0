#!/usr/bin/env bash
# Device call: bandwidth diagnostics (bench_bandwidth_variants) with GPU clocks before and after.
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export DESCENT_CACHE_DIR=/tmp/descent-cache
q="name,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,pstate,power.draw,temperature.gpu"
nvidia-smi --query-gpu=$q --format=csv | tee "$OUT/clocks_before.txt"
gpu/bin/bench_bandwidth_variants $((1 << 28)) 20 ${1:-random} > "$OUT/variants.csv" 2> "$OUT/variants.err" &
pid=$!
sleep 3; nvidia-smi --query-gpu=$q --format=csv,noheader | tee "$OUT/clocks_during.txt"
wait $pid; echo "variants rc=$?"
nvidia-smi --query-gpu=$q --format=csv,noheader | tee "$OUT/clocks_after.txt"
cat "$OUT/variants.csv"
