#!/usr/bin/env bash
# xmllint (Debian's libxml2-utils) validates the camt.053 test statements against the published ISO 20022
# schemas in crates/funds/tests/data (jikimi-funds's `camt053_fixtures_validate_against_the_iso_schema` test), and
# every CAP 1.2 document jikimi writes against the OASIS schema in crates/standards/tests/data/cap (jikimi-standards's
# tests and the server's `standards` API tests).
set -euo pipefail
if ! command -v xmllint >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq libxml2-utils
fi
# sed reads to the end (head would close the pipe early, and pipefail would report SIGPIPE).
xmllint --version 2>&1 | sed -n 1p
