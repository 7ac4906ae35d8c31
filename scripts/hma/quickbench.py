#!/usr/bin/env python3
"""
Quick correctness check and rough load test of a running HMA (serve.sh). Stdlib only.

  quickbench.py check PORT HASHFILE         # hit at 0, hit with 8 bits flipped, miss
  quickbench.py bench PORT HASHFILE [--mode hit|miss] [--endpoint lookup|raw_lookup]
                [--concurrency 16] [--seconds 10]

HMA's gunicorn sync workers close the connection after every response, so each
request is a new TCP connection (as for any client of HMA's default setup).
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import urllib.request


def flip_bits(h: str, n: int, rng: random.Random) -> str:
    v = int(h, 16)
    for bit in rng.sample(range(256), n):
        v ^= 1 << bit
    return f"{v:064x}"


def sample_lines(path: str, k: int, rng: random.Random) -> list:
    """Reservoir-sample k hashes from a (possibly huge) file."""
    out: list = []
    with open(path) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            if len(out) < k:
                out.append(line)
            else:
                j = rng.randrange(i + 1)
                if j < k:
                    out[j] = line
    return out


def get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return r.status, json.loads(r.read())


def check(port: int, hashfile: str) -> int:
    rng = random.Random(1)
    stored = sample_lines(hashfile, 1, rng)[0]
    cases = [
        ("stored hash", stored, True),
        ("stored hash, 8 bits flipped", flip_bits(stored, 8, rng), True),
        ("random hash", os.urandom(32).hex(), False),
    ]
    bad = 0
    for name, h, want in cases:
        for ep in ("lookup", "raw_lookup"):
            extra = "&include_distance=true" if ep == "raw_lookup" else ""
            url = f"/m/{ep}?signal_type=pdq&signal={h}{extra}"
            status, body = get(port, url)
            matched = bool(body.get("matches")) if ep == "raw_lookup" else bool(body)
            ok = status == 200 and matched == want
            bad += not ok
            print(f"{'OK ' if ok else 'BAD'} {name:30s} GET {url}\n    -> {status} {json.dumps(body)}")
    return 1 if bad else 0


async def one(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data[9:12])


async def bench(port, paths, concurrency, seconds):
    deadline = time.monotonic() + seconds
    lat: list = []
    codes: dict = {}
    errors = 0

    async def client(k):
        nonlocal errors
        i = k
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += concurrency
            t0 = time.monotonic()
            try:
                code = await one(port, path)
            except Exception:
                errors += 1
                continue
            lat.append(time.monotonic() - t0)
            codes[code] = codes.get(code, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    wall = time.monotonic() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    return {
        "requests": len(lat),
        "rps": round(len(lat) / wall, 1),
        "codes": codes,
        "errors": errors,
        "p50_ms": round(q(0.5), 1),
        "p99_ms": round(q(0.99), 1),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["check", "bench"])
    ap.add_argument("port", type=int)
    ap.add_argument("hashfile")
    ap.add_argument("--mode", choices=["hit", "miss"], default="miss")
    ap.add_argument("--endpoint", choices=["lookup", "raw_lookup"], default="lookup")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    if a.cmd == "check":
        return check(a.port, a.hashfile)
    rng = random.Random(2)
    if a.mode == "hit":
        hashes = sample_lines(a.hashfile, 2000, rng)
    else:
        hashes = [os.urandom(32).hex() for _ in range(2000)]
    paths = [f"/m/{a.endpoint}?signal_type=pdq&signal={h}" for h in hashes]
    res = asyncio.run(bench(a.port, paths, a.concurrency, a.seconds))
    res.update(endpoint=a.endpoint, mode=a.mode, concurrency=a.concurrency)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
