#!/usr/bin/env python3
"""Independent re-implementation of the forecast-eval harness for the count baselines.

Projects with pyproj (PROJ), bins into the 250 m grid, and scores last_365d_counts,
last_28d_counts and all_history_counts for 2021 exactly as the issue defines them, then compares
with the Rust harness's results.json. Creates its venv under ~/.cache/jikimi-venvs/forecast.

usage (from the repository root):
  python3 crates/forecast/benches/harness_check.py ../shared/data/toronto_mci/mci_2014_2021.csv.gz docs/forecast-results.json
"""
import csv, datetime as dt, gzip, json, math, os, subprocess, sys, venv

VENV = os.path.expanduser("~/.cache/jikimi-venvs/forecast")
if sys.prefix != VENV:
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        venv.create(VENV, with_pip=True)
        subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "-q", "pyproj"])
    os.execv(os.path.join(VENV, "bin", "python"), [os.path.join(VENV, "bin", "python")] + sys.argv)

from pyproj import Transformer  # noqa: E402

data, results = sys.argv[1], sys.argv[2]
tr = Transformer.from_crs("EPSG:4326", "EPSG:32617", always_xy=True)
rows = []
with gzip.open(data, "rt", newline="") as f:
    for r in csv.DictReader(f):
        rows.append((dt.date.fromisoformat(r["date"]), r["category"], float(r["lat"]), float(r["lon"])))
lons = [r[3] for r in rows]
lats = [r[2] for r in rows]
xs, ys = tr.transform(lons, lats)
cells = [(math.floor((x - 609500) / 250), math.floor((y - 4827000) / 250)) for x, y in zip(xs, ys)]
study = sorted(set(cells))
N = len(study)
print("study cells", N)
CATS = ["all", "Assault", "Break and Enter", "Auto Theft", "Robbery", "Theft Over"]
T0 = dt.date(2014, 1, 1)


def months(year):
    for m in range(1, 13):
        s = dt.date(year, m, 1)
        e = dt.date(year + (m == 12), m % 12 + 1, 1)
        yield s, e


def score(forecast, actual, f):
    n = max(1, int(math.floor(f * N + 0.5)))
    keys = sorted(study, key=lambda c: -forecast.get(c, 0))
    t = forecast.get(keys[n - 1], 0)
    above = [c for c in study if forecast.get(c, 0) > t]
    tied = [c for c in study if forecast.get(c, 0) == t]
    hits = sum(actual.get(c, 0) for c in above) + (n - len(above)) / len(tied) * sum(actual.get(c, 0) for c in tied)
    total = sum(actual.values())
    best = sum(sorted(actual.values(), reverse=True)[:n])
    hr = hits / total
    return hr, hr / (n / N), hits / best


want = {(r["model"], r["category"], r["coverage"]): r for r in json.load(open(results))}
worst = 0.0
for cat in CATS:
    ev = [(d, c) for (d, k, _, _), c in zip(rows, cells) if cat == "all" or k == cat]
    for model, start in [("last_365d_counts", 365), ("last_28d_counts", 28), ("all_history_counts", None)]:
        sums = {f: [0.0, 0.0, 0.0] for f in (0.005, 0.01, 0.02, 0.05)}
        for s, e in months(2021):
            lo = T0 if start is None else max(T0, s - dt.timedelta(days=start))
            fc, ac = {}, {}
            for d, c in ev:
                if lo <= d < s:
                    fc[c] = fc.get(c, 0) + 1
                elif s <= d < e:
                    ac[c] = ac.get(c, 0) + 1
            for f in sums:
                for i, v in enumerate(score(fc, ac, f)):
                    sums[f][i] += v / 12
        for f, (hr, pai, pei) in sums.items():
            r = want[(model, cat, f)]
            diff = max(abs(hr - r["hit_rate"]), abs(pai - r["pai"]) / max(pai, 1), abs(pei - r["pei"]))
            worst = max(worst, diff)
            print(f"{cat:16} {model:20} {f:5}: pai {pai:8.4f} vs {r['pai']:8.4f}  pei {pei:.4f} vs {r['pei']:.4f}")
print("largest difference", worst)
sys.exit(0 if worst < 1e-9 else 1)
