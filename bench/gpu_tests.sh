#!/usr/bin/env bash
# Device call: the correctness suites on the GPU (test plan T13) and the array_api example.
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export DESCENT_CACHE_DIR=/tmp/descent-cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
gpu/bin/array_api /tmp | tail -3
for t in ops fusion e2e; do
  gpu/bin/${t}_tests --gtest_brief=1 > "$OUT/${t}_tests.txt" 2>&1; echo "${t}_tests rc=$?"
  grep -E "PASSED|FAILED|SKIPPED" "$OUT/${t}_tests.txt"
done
