#!/usr/bin/env bash
# Set-up for the vPDQ tests: Meta's `vpdq` 0.2.5 reference in its venv and its shipped sample hashes, which the
# tests require under CI (after setup-ffmpeg.sh, which brings the FFmpeg libraries it builds against).
set -euo pipefail
bash .ci/setup-ffmpeg.sh >/dev/null
bash crates/mediahash/scripts/vpdq-venv.sh
