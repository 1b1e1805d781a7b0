#!/usr/bin/env bash
# ASan + UBSan run of the CPU-side tests (unit_tests and io_tests; docs/reliability.md), run by
# `make test`: builds just those targets in build-asan/ with DESCENT_SANITIZE=ON and runs them
# under a time limit each (SANITIZE_TIMEOUT, default 900 s). Any sanitizer report fails it.
# About 8.5 minutes from a cold build-asan/ on 2 shared cores, 16 s of it the tests.
# The Vulkan tests are not run here: lavapipe's own allocations would need leak suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${ASAN_BUILD:-build-asan}
JOBS=${JOBS:-$(nproc)}
LIMIT=${SANITIZE_TIMEOUT:-900}
start=$(date +%s)
# -O1 -g1 (line tables for the reports): ASan's recommended level, and half the compile time of
# -O2 -g (measured on src/ref/interpreter.cpp: 11 s instead of 25 s).
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DDESCENT_SANITIZE=ON \
  -DDESCENT_BUILD_EXAMPLES=OFF -DDESCENT_BUILD_BENCH=OFF >"$BUILD.configure.log" 2>&1 ||
  { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j"$JOBS" --target unit_tests io_tests >"$BUILD/sanitize-build.log" 2>&1 ||
  { tail -50 "$BUILD/sanitize-build.log"; exit 1; }
built=$(date +%s)
echo "sanitize-test: built unit_tests and io_tests with ASan+UBSan in $((built - start)) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in unit_tests io_tests; do
  timeout "$LIMIT" "$BUILD/tests/$t" --gtest_brief=1 ||
    { echo "sanitize-test: $t failed (exit $?)" >&2; exit 1; }
done
echo "sanitize-test: passed in $(($(date +%s) - start)) s (build $((built - start)) s," \
     "tests $(($(date +%s) - built)) s)"
