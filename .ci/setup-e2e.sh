#!/usr/bin/env bash
# Set-up for the console's end-to-end tests (e2e/): Debian's Chromium and the pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# A Korean font, so screenshots of the Korean console show Hangul rather than boxes.
if ! fc-list 2>/dev/null | grep -qi -e nanum -e noto.*cjk; then
  echo "installing fonts-nanum (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum
fi
if ! command -v node >/dev/null 2>&1; then
  echo "installing nodejs and npm (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if [ ! -d e2e/node_modules/playwright-core ] || [ ! -d e2e/node_modules/axe-core ]; then
  (cd e2e && npm ci --no-audit --no-fund)
fi
echo "chromium: $(chromium --version 2>/dev/null || echo missing); node: $(node --version)"
