#!/usr/bin/env bash
# FFmpeg's libraries (Debian), which `jikimi pdq hash-video` decodes with (the opt-in `video` feature, through
# ffmpeg-sys-next, whose bindgen needs libclang), the `ffmpeg` tool the vPDQ tests make their videos with, and
# cmake/g++ for building Meta's vpdq reference (setup-vpdq.sh). The default build needs none of this.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
pkgs=(ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev
  libswresample-dev clang libclang-dev pkg-config cmake g++ python3-dev python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
pkg-config --modversion libavcodec libavformat libswscale
