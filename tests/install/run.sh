#!/usr/bin/env bash
# Installs the built descent into a temporary prefix, builds tests/install as a separate project
# with find_package(descent), and runs it. Args: <descent build dir> <source dir>.
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
# The README's first C++ snippet is compiled and run inside the consumer (so it cannot rot).
mkdir -p "$work/snippet"
awk '/^```cpp/{on=1; next} /^```/{if(on) exit} on && !/#include/' "$src/README.md" > "$work/snippet/readme_snippet.inc"
[ -s "$work/snippet/readme_snippet.inc" ] || { echo "no C++ snippet found in README.md"; exit 1; }
cmake -S "$src/tests/install" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DSNIPPET_DIR="$work/snippet" > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/build/consumer"
