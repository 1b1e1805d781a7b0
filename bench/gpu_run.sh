#!/usr/bin/env bash
# One device-machine call: the correctness suites on the real GPU (T13: ops, fusion, e2e), then
# bench_elementwise (GPU clocks logged alongside) and the PyTorch baselines, all on one card.
# Expects gpu/bin/ (stripped Release binaries built in build-gpu/) and .gl/ (Vulkan loader debs)
# to be carried; gpu/torch_reference.py copied from ../shared/bench. Logs go to $OUT.
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
if ! gpu/bin/array_api /tmp > /dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export DESCENT_CACHE_DIR=/tmp/descent-cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/card.txt"
gpu/bin/array_api /tmp 2>&1 | tee "$OUT/array_api.txt" | tail -2
for t in ops fusion e2e; do
  gpu/bin/${t}_tests --gtest_brief=1 > "$OUT/${t}_tests.txt" 2>&1; echo "${t}_tests rc=$?"
  grep -E "PASSED|FAILED|SKIPPED" "$OUT/${t}_tests.txt"
done
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw --format=csv,noheader -lms 500 > "$OUT/clocks.txt" &
smi=$!
gpu/bin/bench_elementwise $((1 << 28)) 30 > "$OUT/bench.csv" 2> "$OUT/bench.err"; echo "bench rc=$?"
kill $smi
PYTHONUNBUFFERED=1 python3 bench/torch_reductions.py $((1 << 28)) > "$OUT/torch_red.txt" 2>&1
if [ "${1:-full}" = full ]; then
  PYTHONUNBUFFERED=1 timeout 300 python3 gpu/torch_reference.py --device cuda > "$OUT/torch_ref.txt" 2>&1
fi
cat "$OUT/bench.csv"; grep -h RESULT "$OUT/torch_red.txt" "$OUT/torch_ref.txt" 2>/dev/null | head -12
