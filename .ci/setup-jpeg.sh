#!/usr/bin/env bash
# Set-up for JPEG hashing (jikimi-mediahash):
# - nasm, so that the libjpeg-turbo that mozjpeg-sys builds has its SIMD code, as Pillow's has. The build does
#   not need it (intact JPEGs decode to the same pixels with the C code), but the damaged-JPEG comparison with
#   Pillow does: the C and SIMD IDCTs overflow differently on garbage coefficients. No cmake is needed.
# - the PDQ reference in its venv: pdqhash 0.2.8 (Meta's C++) over Pillow 13.0.0, whose wheel bundles
#   libjpeg-turbo 3.2.0. The JPEG test recomputes its expected hashes with it, and fails under CI without it.
# Idempotent; a no-op when done.
set -euo pipefail
if ! command -v nasm >/dev/null; then
  echo "installing nasm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nasm >/dev/null
fi
venv="${JIKIMI_PDQ_VENV:-$HOME/.cache/jikimi-venvs/pdq-jpeg}"
pins=(pillow==13.0.0 pdqhash==0.2.8 numpy==2.4.6)
check='import PIL, numpy, pdqhash; assert (PIL.__version__, numpy.__version__) == ("13.0.0", "2.4.6")'
if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "installing ${pins[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${pins[@]}"
fi
echo "jpeg: nasm $(nasm -v | cut -d' ' -f3)," \
  "$("$venv/bin/python" -c 'import PIL, PIL.features as f; print("Pillow", PIL.__version__, "libjpeg-turbo", f.version_feature("libjpeg_turbo"))')"
