#!/usr/bin/env bash
# Schemathesis against the served OpenAPI document, authenticated as each staff role (and as nobody).
#
# Starts `jikimi demo` (real server, SQLite, simulated city, cooperation on, so there are incidents, units and
# subscribers to hit), logs each of its staff accounts in and runs `st run` with every check that applies to a live server.
# Any Schemathesis failure (a 5xx, an undocumented status, a body that breaks its schema) fails the run. Then
# .ci/st_coverage.py reads the reports and prints which documented 4xx statuses were never answered (across roles),
# counting also the answers of the Rust API tests when JIKIMI_ST_OBSERVED names their status log; with
# JIKIMI_ST_STRICT=1 an unanswered documented status fails the run (.ci/run sets both).
# Usage: .ci/schemathesis.sh path/to/jikimi   (JIKIMI_ST_EXAMPLES, JIKIMI_ST_VENV to adjust)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: .ci/schemathesis.sh path/to/jikimi}
venv="${JIKIMI_ST_VENV:-$HOME/.cache/jikimi-st-venv}"
st="$venv/bin/st"
[ -x "$st" ] || { echo "FATAL: schemathesis missing at $st (run .ci/setup-schemathesis.sh)" >&2; exit 1; }
examples="${JIKIMI_ST_EXAMPLES:-20}"

work=$(mktemp -d)
log="$work/demo.log"
"$bin" demo --data-dir "$work/data" --listen 127.0.0.1:0 --run-for-s 3600 >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^jikimi demo is running at \(http:[^ ]*\).*/\1/p' "$log" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "FATAL: jikimi demo did not print its URL" >&2; exit 1; }
echo "demo at $url"

password_of() { sed -n "s/^ *$1 .* password \([^ ]*\)$/\1/p" "$log" | head -n1; }

login() { # username password -> token
  curl -fsS -X POST "$url/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# JIKIMI_ST_REPORTS keeps the reports (e.g. to re-run .ci/st_coverage.py against a new Rust status log).
reports="${JIKIMI_ST_REPORTS:-$work/reports}"
mkdir -p "$reports"
status=0
run_as() { # label [header]
  local label=$1
  shift
  echo "== schemathesis as $label"
  # /api/live is an endless event stream; logout would end the session the run uses.
  if ! "$st" run "$url/api/openapi.json" "$@" \
    --checks all --exclude-checks positive_data_acceptance \
    --exclude-path /api/live --exclude-path /api/auth/logout \
    --max-examples "$examples" --seed 20261206 --workers 2 --request-timeout 10 \
    --suppress-health-check all --warnings off --no-shrink \
    --report ndjson --report-ndjson-path "$reports/$label.ndjson"; then
    echo "schemathesis found failures as $label" >&2
    status=1
  fi
}
# Every role logs in before any run: the runs themselves flood the login endpoint, which then limits this source.
declare -A tokens
for user in admin supervisor dispatcher analyst border; do
  tokens[$user]=$(login "$user" "$(password_of "$user")")
done
for user in admin supervisor dispatcher analyst; do
  run_as "$user" -H "Authorization: Bearer ${tokens[$user]}"
done
run_as border_officer -H "Authorization: Bearer ${tokens[border]}"
run_as anonymous

coverage=()
[ "${JIKIMI_ST_STRICT:-}" = 1 ] && coverage+=(--strict)
if [ -n "${JIKIMI_ST_OBSERVED:-}" ]; then
  [ -s "$JIKIMI_ST_OBSERVED" ] || { echo "FATAL: no Rust API status log at $JIKIMI_ST_OBSERVED" >&2; exit 1; }
  coverage+=(--observed "$JIKIMI_ST_OBSERVED")
fi
python3 .ci/st_coverage.py "${coverage[@]}" "$url/api/openapi.json" "$reports"/*.ndjson || status=1
exit "$status"
