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
# mozjpeg-sys's build script does not run again when nasm appears, so a target directory built before nasm was
# installed keeps a libjpeg-turbo without SIMD (the damaged-JPEG test then fails under CI). A stamp in the target
# directory names the nasm its mozjpeg-sys was built with; on any difference, that one crate is rebuilt.
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ -d "$CARGO_TARGET_DIR" ]; then
  stamp="$CARGO_TARGET_DIR/.jikimi-nasm"
  want="$(command -v nasm) $(nasm -v)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "rebuilding mozjpeg-sys with $want"
    cargo clean -q -p mozjpeg-sys --target-dir "$CARGO_TARGET_DIR"
    cargo clean -q -p mozjpeg-sys --release --target-dir "$CARGO_TARGET_DIR"
    printf '%s' "$want" >"$stamp"
  fi
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
