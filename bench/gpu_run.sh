#!/usr/bin/env bash
# One device-machine call (see docs/PERFORMANCE.md). Usage: bash bench/gpu_run.sh [what...]
# where what is any of: tests (the GPU suites + array_api), bandwidth (bench_elementwise + PyTorch),
# matmul (bench_matmul + cuBLAS), coopmat (every cooperative-matrix tile variant, float16 inputs,
# + cuBLAS; COOPMAT_VARIANTS=all or a list like 1,3),
# torch (the shared torch_reference.py), torch_quick (its --quick mode), train (bench_train:
# Fashion-MNIST training steps; NETS and EPOCHS pick networks and epochs), fashion (40-epoch
# accuracy runs + determinism), imagefit (200-epoch fits + determinism), profile (per-kernel
# times of NETS' training steps), validation (e2e and grad suites under the Khronos validation
# layer, from .gl/vulkan-validationlayers*.deb), best (bench/torch_best.py: PyTorch eager, CUDA
# graph and compiled + graph on every example workload). Default: tests bandwidth matmul.
# Expects gpu/bin/ (stripped Release binaries built in build-gpu/) and .gl/ (Vulkan loader debs).
# Logs go to /tmp/logs and come back as $OUT/logs.tgz (the device returns at most 8 files).
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
# Binaries may travel xz-compressed (gpu/xz/NAME.xz) to stay under the transfer limit.
mkdir -p gpu/bin
for x in gpu/xz/*.xz; do [ -f "$x" ] && xz -dc "$x" > "gpu/bin/$(basename "$x" .xz)" && chmod +x "gpu/bin/$(basename "$x" .xz)"; done
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$nvidia_icd" ] && export VK_DRIVER_FILES=$nvidia_icd
FINAL_OUT=${OUT:-/tmp/out}; mkdir -p "$FINAL_OUT"
OUT=/tmp/logs; mkdir -p "$OUT"
trap 'tar czf "$FINAL_OUT/logs.tgz" -C "$OUT" .' EXIT
export DESCENT_CACHE_DIR=/tmp/descent-cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/card.txt"
N=$((1 << 28))
for what in ${@:-tests bandwidth matmul}; do
  case $what in
    tests)
      [ -x gpu/bin/array_api ] && gpu/bin/array_api /tmp | tail -3
      for t in ${SUITES:-ops fusion e2e grad}; do
        gpu/bin/${t}_tests --gtest_brief=1 > "$OUT/${t}_tests.txt" 2>&1; echo "${t}_tests rc=$?"
        grep -E "PASSED|FAILED|SKIPPED" "$OUT/${t}_tests.txt"
      done ;;
    bandwidth)
      nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw --format=csv,noheader -lms 500 > "$OUT/clocks.txt" &
      smi=$!
      gpu/bin/bench_elementwise $N 30 > "$OUT/bench.csv" 2> "$OUT/bench.err"; echo "bench rc=$?"
      kill $smi
      PYTHONUNBUFFERED=1 python3 bench/torch_reductions.py $N > "$OUT/torch_red.txt" 2>&1
      cat "$OUT/bench.csv" "$OUT/torch_red.txt" ;;
    matmul)
      gpu/bin/bench_matmul ${SIZES:-1024 2048 4096 8192} > "$OUT/matmul.csv" 2> "$OUT/matmul.err"
      PYTHONUNBUFFERED=1 python3 bench/torch_matmul.py ${SIZES:-1024 2048 4096 8192} > "$OUT/torch_matmul.txt" 2>&1
      cat "$OUT/matmul.csv" "$OUT/torch_matmul.txt" ;;
    coopmat)
      gpu/bin/bench_matmul --fp16-only --variants=${COOPMAT_VARIANTS:-all} ${SIZES:-2048 4096 8192} > "$OUT/coopmat.csv" 2> "$OUT/coopmat.err"
      echo "bench rc=$?"
      PYTHONUNBUFFERED=1 python3 bench/torch_matmul.py ${SIZES:-2048 4096 8192} > "$OUT/torch_matmul.txt" 2>&1
      cat "$OUT/coopmat.csv" "$OUT/torch_matmul.txt" ;;
    train)
      # No DESCENT_DEBUG here: at 2 and above every run waits for its timestamps (see profile).
      gpu/bin/bench_train ${NETS:-linear single-layer conv-net} --epochs ${EPOCHS:-3} > "$OUT/train.csv" 2> "$OUT/train.err"
      echo "bench_train rc=$?"; cat "$OUT/train.csv" ;;
    profile)
      # Per-kernel GPU times (median over the timed steps) of each network's training step.
      for net in ${NETS:-conv-net}; do
        DESCENT_DEBUG=2 gpu/bin/bench_train $net --epochs ${EPOCHS:-2} --profile > "$OUT/profile_$net.csv" 2> "$OUT/profile_$net.txt"
        echo "profile $net rc=$?"; cat "$OUT/profile_$net.csv"; grep -E "^ *[0-9]+ +[0-9.]+ ms" "$OUT/profile_$net.txt" | sort -k2 -rn | head -${TOP:-25}; grep "sum of" "$OUT/profile_$net.txt"
      done ;;
    fashion)
      # The README's Fashion-MNIST results: 40 epochs, batch 1000, Adam, TRIALS trials per network.
      for net in ${FASHION_NETS:-linear single-layer conv-net conv-blur-net}; do
        TIMEFORMAT="$net wall %R s"
        time (gpu/bin/fashion_mnist $net --epochs ${EPOCHS:-40} --trials ${TRIALS:-2} \
          --csv "$OUT/fashion_$net.csv" --quiet 2>&1 | tail -${TRIALS:-2})
      done
      # Determinism: the same seed twice gives identical CSVs and parameter files.
      for r in 1 2; do gpu/bin/fashion_mnist conv-net --epochs 2 --csv /tmp/det$r.csv --save /tmp/det$r.safetensors -q > /dev/null; done
      cmp /tmp/det1.csv /tmp/det2.csv && cmp /tmp/det1.safetensors /tmp/det2.safetensors && echo "fashion determinism: identical" ;;
    imagefit)
      for net in ${FIT_NETS:-relu relu-pe siren multi-hash}; do
        TIMEFORMAT="$net wall %R s"
        time (gpu/bin/image_fit $net --epochs ${FIT_EPOCHS:-200} --csv "$OUT/image_fit_$net.csv" \
          -o "$OUT/image_fit_$net" --quiet 2>&1 | tail -2)
      done
      for r in 1 2; do gpu/bin/image_fit multi-hash --epochs 20 --csv /tmp/fit$r.csv -o /tmp/fit$r -q > /dev/null; done
      cmp /tmp/fit1.csv /tmp/fit2.csv && cmp /tmp/fit1_20.png /tmp/fit2_20.png && echo "image_fit determinism: identical" ;;
    validation)
      # Debian 12's validation layer (1.3.239) predates VK_KHR_cooperative_matrix and
      # VK_NV_cooperative_matrix2 and reports their structures as unknown, so the workgroup-scope
      # tensor-core path is off here (DESCENT_COOPMAT2=0); everything else runs as usual.
      for f in .gl/vulkan-validationlayers*.deb; do dpkg -x "$f" /; done
      for t in ${VALIDATION_SUITES:-e2e grad}; do
        DESCENT_VALIDATION=1 DESCENT_COOPMAT2=0 VK_LAYER_PATH=/usr/share/vulkan/explicit_layer.d \
          gpu/bin/${t}_tests --gtest_brief=1 > "$OUT/${t}_tests_validation.txt" 2>&1
        echo "${t}_tests (validation) rc=$?"
        grep -E "PASSED|FAILED|SKIPPED" "$OUT/${t}_tests_validation.txt"
      done ;;
    best)
      PYTHONUNBUFFERED=1 timeout ${BEST_TIMEOUT:-400} python3 bench/torch_best.py ${BEST_ARGS:-} > "$OUT/torch_best.txt" 2>&1
      echo "torch_best rc=$?"; grep -E "RESULT|device" "$OUT/torch_best.txt" ;;
    *) echo "unknown: $what" ;;
  esac
done
