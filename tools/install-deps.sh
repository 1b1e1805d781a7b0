#!/usr/bin/env bash
# Installs descent's build and test dependencies from Debian 12 packages.
# Called by `make demo` / `make test`; does nothing when everything is present.
# Uses sudo when not root. Never downloads anything but Debian packages.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  glslang-dev glslang-tools spirv-tools
  libfmt-dev libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev libgtest-dev
  libpng-dev libjpeg-dev
  clang libclang-rt-14-dev
  graphviz gnuplot-nox python3-skimage curl universal-ctags clang-format
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "descent: installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "descent: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
