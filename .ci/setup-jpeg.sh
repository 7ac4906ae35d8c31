#!/usr/bin/env bash
# Set-up for JPEG hashing (jikimi-mediahash):
# - the PDQ reference in its venv: pdqhash 0.2.8 (Meta's C++) over Pillow 13.0.0, whose wheel bundles
#   libjpeg-turbo 3.2.0. The JPEG test recomputes its expected hashes with it, and fails under CI without it.
# Idempotent; a no-op when done.
set -euo pipefail
venv="${JIKIMI_PDQ_VENV:-$HOME/.cache/jikimi-venvs/pdq-jpeg}"
pins=(pillow==13.0.0 pdqhash==0.2.8 numpy==2.4.6)
check='import PIL, numpy, pdqhash; assert (PIL.__version__, numpy.__version__) == ("13.0.0", "2.4.6")'
if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "installing ${pins[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${pins[@]}"
fi
# The JPEG decoder (libjpeg-turbo via mozjpeg-sys) builds with the C compiler alone; nasm, if installed, only adds
# its SIMD code (same pixels), so it is reported, not required.
echo "jpeg: nasm $(command -v nasm >/dev/null && nasm -v | cut -d' ' -f3 || echo 'absent (C code, no SIMD)')," \
  "$("$venv/bin/python" -c 'import PIL, PIL.features as f; print("Pillow", PIL.__version__, "libjpeg-turbo", f.version_feature("libjpeg_turbo"))')"
