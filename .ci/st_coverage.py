#!/usr/bin/env python3
"""Reads Schemathesis NDJSON reports and checks that every documented error status was reached.

Usage: st_coverage.py [--strict] OPENAPI_URL REPORT.ndjson...

Without --strict it reports the gap (on stdout, with a NOT MET line) and exits 0; with --strict a gap fails.

Schemathesis checks each response against the document (no 5xx, status documented, body matches its schema). This
adds the converse: every 4xx status an operation documents must have been answered at least once across the runs
(all roles and anonymous). 5xx statuses (unavailable, internal) need a failing database and are tested in Rust. A
status Schemathesis cannot reach (it would need a valid device signature, a gateway key or a partner agency's
Ed25519 key) is listed in ALLOWED with the Rust test that reaches it; an entry that is reached after all is
reported, so the list does not rot.
"""
import json
import sys
import urllib.request
from collections import defaultdict

SIGNED = "needs a valid device signature; crates/server/tests/it/alerts.rs, app.rs"
ALLOWED = {
    ("POST /api/alerts", "409"): SIGNED + " (nonce_replayed)",
    ("POST /api/alerts", "422"): SIGNED + " (invalid_field)",
    ("POST /api/alerts", "429"): SIGNED + " (rate_limited)",
    ("POST /api/alerts/{id}/location", "409"): SIGNED + " (nonce_replayed)",
    ("POST /api/alerts/{id}/location", "404"): SIGNED + " (incident_not_found)",
    ("POST /api/alerts/{id}/location", "422"): SIGNED + " (invalid_field)",
    ("POST /api/alerts/{id}/location", "429"): SIGNED + " (rate_limited)",
    ("POST /api/alerts/{id}/cancel", "409"): SIGNED + " (nonce_replayed, illegal_transition)",
    ("POST /api/alerts/{id}/cancel", "404"): SIGNED + " (incident_not_found)",
    ("POST /api/alerts/{id}/cancel", "422"): SIGNED + " (pin_invalid)",
    ("POST /api/alerts/{id}/cancel", "423"): SIGNED + " (pin_locked)",
    ("POST /api/alerts/{id}/cancel", "429"): SIGNED + " (rate_limited)",
    ("POST /api/intake/aml", "409"): "needs the AML gateway's HMAC key; crates/server/tests/it/aml.rs",
    ("POST /api/intake/aml", "422"): "needs the AML gateway's HMAC key; crates/server/tests/it/aml.rs",
    ("POST /federation/v1/pull", "409"): "needs a partner's Ed25519 key; crates/server/tests/it/cooperate.rs",
    ("POST /federation/v1/deliver", "409"): "needs a partner's Ed25519 key; crates/server/tests/it/cooperate.rs",
    ("POST /federation/v1/receipts", "409"): "needs a partner's Ed25519 key; crates/server/tests/it/cooperate.rs",
    ("POST /federation/v1/notify", "409"): "needs a partner's Ed25519 key; crates/server/tests/it/cooperate.rs",
}


# Left out of the Schemathesis runs on purpose (see .ci/schemathesis.sh) and tested in Rust instead.
EXCLUDED = {
    "GET /api/live": "an endless event stream; crates/server/tests/it/views.rs, sessions.rs",
    "POST /api/auth/logout": "would end the run's own session; crates/server/tests/it/sessions.rs",
}


def documented(spec):
    ops = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method.lower() not in ("get", "post", "put", "delete", "patch"):
                continue
            statuses = {s for s in op.get("responses", {}) if s.startswith("4")}
            ops[f"{method.upper()} {path}"] = statuses
    return ops


def observed(paths):
    seen = defaultdict(set)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                recorder = finished.get("recorder") or {}
                label = recorder.get("label")
                for interaction in (recorder.get("interactions") or {}).values():
                    response = interaction.get("response")
                    if label and response and "status_code" in response:
                        seen[label].add(str(response["status_code"]))
    return seen


def main():
    args = sys.argv[1:]
    strict = "--strict" in args
    args = [a for a in args if a != "--strict"]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with urllib.request.urlopen(args[0]) as r:
        spec = json.load(r)
    ops = {k: v for k, v in documented(spec).items() if k not in EXCLUDED}
    seen = observed(args[1:])
    missing, stale = [], []
    for label, statuses in sorted(ops.items()):
        for status in sorted(statuses):
            reached = status in seen.get(label, set())
            allowed = (label, status) in ALLOWED
            if not reached and not allowed:
                missing.append(f"{label} {status}")
            if reached and allowed:
                stale.append(f"{label} {status}")
    untested = sorted(set(ops) - set(seen))
    total = sum(len(s) for s in ops.values())
    print(f"documented 4xx statuses: {total}; operations exercised: {len(set(ops) & set(seen))}/{len(ops)}")
    for label in untested:
        print(f"  operation never exercised: {label}")
    for entry in stale:
        print(f"  allow-list entry reached after all (remove it): {entry}")
    for entry in missing:
        print(f"  documented but never answered: {entry}")
    if missing or untested:
        print(f"NOT MET: {len(missing)} of {total} documented 4xx statuses never answered, "
              f"{len(untested)} operations never exercised")
        return 1 if strict else 0
    print("every documented 4xx status was answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
