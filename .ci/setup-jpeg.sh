#!/usr/bin/env bash
# Set-up for JPEG hashing (jikimi-mediahash):
# - cmake and nasm, to build the libjpeg-turbo that the `turbojpeg` crate vendors (cmake is required; without
#   nasm it builds without SIMD: same pixels, slower);
# - the PDQ reference in its venv: pdqhash 0.2.8 (Meta's C++) over Pillow 13.0.0, whose wheel bundles
#   libjpeg-turbo 3.2.0. The JPEG test recomputes its expected hashes with it, and fails under CI without it.
# Idempotent; a no-op when done.
set -euo pipefail
if ! command -v cmake >/dev/null || ! command -v nasm >/dev/null; then
  echo "installing cmake and nasm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq cmake nasm >/dev/null
fi
venv="${JIKIMI_PDQ_VENV:-$HOME/.cache/jikimi-venvs/pdq-jpeg}"
pins=(pillow==13.0.0 pdqhash==0.2.8 numpy==2.4.6)
check='import PIL, numpy, pdqhash; assert (PIL.__version__, numpy.__version__) == ("13.0.0", "2.4.6")'
if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "installing ${pins[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${pins[@]}"
fi
echo "jpeg: cmake $(cmake --version | head -n1 | cut -d' ' -f3), nasm $(nasm -v | cut -d' ' -f3)," \
  "$("$venv/bin/python" -c 'import PIL, PIL.features as f; print("Pillow", PIL.__version__, "libjpeg-turbo", f.version_feature("libjpeg_turbo"))')"
