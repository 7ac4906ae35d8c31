#!/usr/bin/env bash
# Creates the venv the STIX test uses to run OASIS's stix2-validator on our export.
# .ci/run runs it (.ci/setup-stix.sh); under CI the test fails without it, elsewhere it says to run this script.
set -euo pipefail
venv="${HOME}/.cache/jikimi-venvs/stix"
if [ ! -x "$venv/bin/stix2_validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "stix2-validator>=3.2"
fi
echo "$venv/bin/stix2_validator"
