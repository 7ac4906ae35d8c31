#!/usr/bin/env bash
# Set-up for the API property tests: Schemathesis (PyPI) in its own venv outside the clone, pinned.
set -euo pipefail
venv="${JIKIMI_ST_VENV:-$HOME/.cache/jikimi-st-venv}"
version=4.32.5
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  echo "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi
echo "schemathesis: $("$venv/bin/st" --version)"
