#!/usr/bin/env bash
# Creates the venv with Meta's vPDQ reference (`vpdq` 0.2.5 on PyPI, the C++ reference behind a Cython binding,
# built here against the same Debian FFmpeg libraries as jikimi) and extracts the sample frame hashes that its
# source distribution ships (`sample-hashes/*.txt`). The vPDQ tests and `jikimi bench vpdq` use both.
# .ci/run runs it (.ci/setup-vpdq.sh); under CI the tests fail without it. Prints the venv directory.
set -euo pipefail
venv="${JIKIMI_VPDQ_VENV:-${HOME}/.cache/jikimi-venvs/vpdq}"
if [ ! -f "$venv/sample-hashes/pattern-hd-no-bar.txt" ] || ! "$venv/bin/python" -c 'import vpdq' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet --no-binary vpdq "vpdq==0.2.5"
  tmp=$(mktemp -d)
  "$venv/bin/pip" download --quiet --no-deps --no-binary :all: -d "$tmp" "vpdq==0.2.5"
  tar -xzf "$tmp"/vpdq-0.2.5.tar.gz -C "$tmp"
  rm -rf "$venv/sample-hashes"
  cp -r "$tmp/vpdq-0.2.5/sample-hashes" "$venv/sample-hashes"
  rm -rf "$tmp"
fi
echo "$venv"
