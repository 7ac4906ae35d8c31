#!/usr/bin/env python3
"""Checks that every documented error status of the API is answered by some test.

Usage: st_coverage.py [--strict] [--observed STATUS_LOG]... OPENAPI_URL REPORT.ndjson...

Without --strict it reports the gap (on stdout, with a NOT MET line) and exits 0; with --strict a gap fails.

Schemathesis checks each response against the document (no 5xx, status documented, body matches its schema). This
adds the converse: every 4xx status an operation documents must have been answered at least once, either by the
Schemathesis runs (all roles and anonymous; REPORT.ndjson) or by the Rust API tests (STATUS_LOG, written by
crates/server/tests/it/support.rs `recorded` when JIKIMI_STATUS_LOG is set: `METHOD<TAB>route<TAB>status` lines).
Schemathesis alone cannot reach the statuses behind a valid device signature, the AML gateway's HMAC key, a
partner agency's Ed25519 key or a particular stored state (a closed incident, a used nonce); the Rust tests do, and
name the route they hit exactly as the document does. 5xx statuses (unavailable, internal) need a failing database
and are tested in Rust too, but are not counted here.
"""
import json
import sys
import urllib.request
from collections import defaultdict


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


def observed_by_rust(paths):
    seen = defaultdict(set)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    method, route, status = parts
                    seen[f"{method} {route}"].add(status)
    return seen


def main():
    args = sys.argv[1:]
    strict = "--strict" in args
    args = [a for a in args if a != "--strict"]
    logs = []
    while "--observed" in args:
        i = args.index("--observed")
        if i + 1 >= len(args):
            print(__doc__, file=sys.stderr)
            return 2
        logs.append(args[i + 1])
        del args[i:i + 2]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with urllib.request.urlopen(args[0]) as r:
        spec = json.load(r)
    ops = documented(spec)
    by_st = observed(args[1:])
    by_rust = observed_by_rust(logs)
    seen = defaultdict(set)
    for source in (by_st, by_rust):
        for label, statuses in source.items():
            seen[label] |= statuses
    missing = []
    only_rust = 0
    for label, statuses in sorted(ops.items()):
        for status in sorted(statuses):
            if status not in seen.get(label, set()):
                missing.append(f"{label} {status}")
            elif status not in by_st.get(label, set()):
                only_rust += 1
    untested = sorted(set(ops) - set(seen))
    total = sum(len(s) for s in ops.values())
    print(f"documented 4xx statuses: {total}; operations exercised: {len(set(ops) & set(seen))}/{len(ops)}; "
          f"answered only in the Rust API tests: {only_rust}")
    for label in untested:
        print(f"  operation never exercised: {label}")
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
