#!/usr/bin/env bash
# Set-up for the STIX export test: OASIS's stix2-validator (PyPI) in its venv, which the test requires under CI.
set -euo pipefail
bash crates/exchange/scripts/stix-validator-venv.sh
