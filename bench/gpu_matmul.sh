#!/usr/bin/env bash
# Device call: the test suites on the GPU, then bench_matmul beside cuBLAS (torch) on one card.
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export DESCENT_CACHE_DIR=/tmp/descent-cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
gpu/bin/array_api /tmp | tail -4
for t in ops fusion e2e; do
  gpu/bin/${t}_tests --gtest_brief=1 > "$OUT/${t}_tests.txt" 2>&1; echo "${t}_tests rc=$?"
  grep -E "PASSED|FAILED|SKIPPED" "$OUT/${t}_tests.txt"
done
gpu/bin/bench_matmul ${SIZES:-1024 2048 4096 8192} > "$OUT/matmul.csv" 2> "$OUT/matmul.err"; echo "bench rc=$?"
PYTHONUNBUFFERED=1 python3 bench/torch_matmul.py ${SIZES:-1024 2048 4096 8192} > "$OUT/torch_matmul.txt" 2>&1
cat "$OUT/matmul.csv" "$OUT/torch_matmul.txt"
