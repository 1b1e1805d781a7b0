#!/usr/bin/env bash
# Fuzz smoke test for the file parsers (docs/reliability.md), run by `make test`: builds the
# libFuzzer targets of tests/fuzz in build-fuzz/ with clang, replays every seed and regression
# input, then fuzzes each target for FUZZ_SECONDS (default 30). Fails on any crash, sanitizer
# report, leak, out-of-memory or slow input. New inputs go to a temporary directory, never into
# the committed corpora; a failing input is kept under build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
PER_TARGET=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc)}
CXX_FUZZ=${CXX_FUZZ:-clang++}
start=$(date +%s)

if ! command -v "$CXX_FUZZ" >/dev/null; then
  echo "fuzz-smoke: $CXX_FUZZ not found (Debian: clang, libclang-rt-14-dev; tools/install-deps.sh)" >&2
  exit 1
fi
cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDESCENT_FUZZ=ON -DDESCENT_BUILD_TESTS=OFF -DDESCENT_BUILD_EXAMPLES=OFF \
  -DDESCENT_BUILD_BENCH=OFF >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j"$JOBS" --target fuzzers >"$BUILD/fuzz-build.log" 2>&1 ||
  { tail -50 "$BUILD/fuzz-build.log"; exit 1; }
built=$(date +%s)
echo "fuzz-smoke: built the fuzz targets in $((built - start)) s"

corpus=tests/fuzz/corpus
regress=tests/data/reliability
bin="$BUILD/tests/fuzz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD/artifacts"
# Each input may take 10 s at most; memory is capped at 2 GiB (libFuzzer's default, explicit).
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=0)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz <target> <seed dir> [regression files...]: replay, then fuzz for PER_TARGET seconds.
fuzz() {
  local target=$1 seeds=$2
  shift 2
  local dict=()
  case $target in fuzz_safetensors*) dict=(-dict=tests/fuzz/safetensors.dict) ;; esac
  local log="$work/$target.log" out="$work/$target-corpus"
  mkdir -p "$out"
  if [ $# -gt 0 ] && ! "$bin/$target" "${common[@]}" -artifact_prefix="$BUILD/artifacts/$target-" \
      "$@" >"$log" 2>&1; then
    tail -40 "$log"; echo "fuzz-smoke: $target failed on a regression input" >&2; exit 1
  fi
  if ! "$bin/$target" "${common[@]}" "${dict[@]}" -max_len=4096 -max_total_time="$PER_TARGET" \
      -artifact_prefix="$BUILD/artifacts/$target-" "$out" "$seeds" >"$log" 2>&1; then
    tail -40 "$log"; echo "fuzz-smoke: $target found a failing input (see $BUILD/artifacts/)" >&2
    exit 1
  fi
  echo "fuzz-smoke: $target: $(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#') runs," \
       "$(ls "$out" | wc -l) new inputs, no failure"
}

fuzz fuzz_safetensors "$corpus/safetensors" "$regress"/st_*.safetensors
fuzz fuzz_safetensors_header "$corpus/safetensors_header"
fuzz fuzz_idx "$corpus/idx" "$regress"/idx*.gz
fuzz fuzz_idx_gzip "$corpus/idx_gzip"
fuzz fuzz_gzip "$corpus/gzip"
fuzz fuzz_image "$corpus/image" "$regress"/jpeg_*.jpg
echo "fuzz-smoke: passed in $(($(date +%s) - start)) s (build $((built - start)) s," \
     "fuzzing ${PER_TARGET} s per target)"
