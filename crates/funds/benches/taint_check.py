#!/usr/bin/env python3
"""Independent implementation of jikimi's taint tracing (issue 22), for cross-checking `jikimi trace funds`.

Written from the rules, not from the Rust code:
  - transfers in (timestamp, tx_id) order; ties broken by sender, recipient, amount; exact duplicate rows once;
  - every account starts with zero known balance; money sent beyond it is untainted and the balance drops to 0;
  - a seed transfer (tx id in the seeds file) carries its whole amount as taint and debits its sender normally;
  - haircut: sending A from balance B with taint Bt carries floor(min(A, B) * Bt / B);
  - fifo: incoming transfers are lots (amount, taint); sending consumes the oldest first; a lot used up gives
    all its taint, a partly used lot floor(used * taint / amount); nothing is merged here (Rust merges adjacent
    untainted lots, which must not change any result).
Amounts are Python integers of 10^-decimals units, so every division is exact floor division.

The script reads the plain CSV (`tx_id,timestamp,from_account,to_account,amount,currency`) with accounts
already in canonical form (as the synthetic generator writes them): it does not re-implement identifier
normalisation. Timestamps: Unix seconds or RFC 3339. Prints a JSON line with its time and peak memory.
"""

import argparse
import csv
import json
import resource
import sys
import time
from collections import deque
from datetime import datetime


def to_units(text, decimals):
    text = text.strip().replace(",", "")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(frac) > decimals:
        raise ValueError("too many decimals: " + text)
    return int(whole or "0") * 10**decimals + int((frac + "0" * decimals)[:decimals] or "0")


def fmt(units, decimals):
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def to_ns(text):
    text = text.strip()
    if text.replace(".", "", 1).isdigit():
        whole, _, frac = text.partition(".")
        return int(whole) * 10**9 + int((frac + "0" * 9)[:9] or "0")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    # Exact nanoseconds without going through a float.
    epoch = datetime(1970, 1, 1, tzinfo=dt.tzinfo) if dt.tzinfo else datetime(1970, 1, 1)
    delta = dt - epoch
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def read_rows(path, decimals):
    names = {}
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for r in reader:
            a = names.setdefault(r["from_account"], r["from_account"])
            b = names.setdefault(r["to_account"], r["to_account"])
            rows.append((to_ns(r["timestamp"]), r["tx_id"], a, b, to_units(r["amount"], decimals)))
    rows.sort()
    return rows


def trace(rows, seeds, policy):
    balance, tainted, received, lots = {}, {}, {}, {}
    previous = None
    for row in rows:
        if row == previous:
            continue
        previous = row
        _, tx_id, src, dst, amount = row
        b = balance.get(src, 0)
        known = min(amount, b)
        if policy == "haircut":
            taken = known * tainted.get(src, 0) // b if b else 0
        else:
            taken = 0
            left = known
            q = lots.get(src)
            while left:
                lot_amount, lot_taint = q[0]
                if lot_amount <= left:
                    taken += lot_taint
                    left -= lot_amount
                    q.popleft()
                else:
                    share = left * lot_taint // lot_amount
                    q[0] = (lot_amount - left, lot_taint - share)
                    taken += share
                    left = 0
        balance[src] = b - known
        tainted[src] = tainted.get(src, 0) - taken
        carried = amount if tx_id in seeds else taken
        balance[dst] = balance.get(dst, 0) + amount
        tainted[dst] = tainted.get(dst, 0) + carried
        received[dst] = received.get(dst, 0) + carried
        if policy == "fifo" and amount:
            lots.setdefault(dst, deque()).append((amount, carried))
    return received, tainted


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transactions", required=True)
    p.add_argument("--seeds", required=True)
    p.add_argument("--policy", choices=["haircut", "fifo"], required=True)
    p.add_argument("--decimals", type=int, default=2)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    started = time.monotonic()
    with open(a.seeds, encoding="utf-8") as f:
        seeds = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    rows = read_rows(a.transactions, a.decimals)
    received, tainted = trace(rows, seeds, a.policy)
    with open(a.out, "w", encoding="utf-8", newline="") as f:
        f.write("account,tainted_received,tainted_balance\n")
        for acct in sorted(k for k in set(received) | set(tainted) if received.get(k, 0) or tainted.get(k, 0)):
            f.write(f"{acct},{fmt(received.get(acct, 0), a.decimals)},{fmt(tainted.get(acct, 0), a.decimals)}\n")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"seconds": time.monotonic() - started, "peak_rss_mb": peak_kib / 1024, "rows": len(rows)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
