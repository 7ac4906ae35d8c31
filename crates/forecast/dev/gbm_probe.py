"""Development-year probe of a gradient-boosted Poisson model (LightGBM) against exponentially weighted counts.

Not part of the product and not run by CI: it records how the "gradient-boosted counts with lagged features"
idea of the forecast issue was tried before deciding not to build it in Rust (docs/forecast.md, caveat (4)).
It reads only events before 2021-01-01 (2021 is the test year) and scores the 12 monthly origins of 2019 and
2020 with the harness's definitions (250 m cells at x0 = 609500, y0 = 4827000 in EPSG:32617; the study area is
every cell with an event anywhere in the file; PAI with ties at the cut-off averaged). The baseline is the
exponentially weighted count with the half-life best for that same year (stricter than the harness).

    pip install numpy pandas scipy pyproj lightgbm
    python3 crates/forecast/dev/gbm_probe.py ../shared/data/toronto_mci/mci_2014_2021.csv.gz [CATEGORY ...]

CATEGORY: 0 = all, 1..5 = Assault, Break and Enter, Auto Theft, Robbery, Theft Over (default: all six).
Prints, per year and category, the model's mean PAI at 0.5/1/2/5% and its gain at 1% over the baseline.
"""
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp

CATS = ['Assault', 'Break and Enter', 'Auto Theft', 'Robbery', 'Theft Over']
COV = [0.005, 0.01, 0.02, 0.05]
M = 84  # months 2014-01 .. 2020-12


def load(path):
    df = pd.read_csv(path, usecols=['date', 'category', 'lat', 'lon', 'premises_type'])
    x, y = pyproj.Transformer.from_crs('EPSG:4326', 'EPSG:32617', always_xy=True).transform(df.lon.values, df.lat.values)
    df['col'] = np.floor((x - 609500) / 250).astype(int)
    df['row'] = np.floor((y - 4827000) / 250).astype(int)
    # The study area comes from the whole file (its definition); event counts from before 2021 only.
    cells = df[['col', 'row']].drop_duplicates().sort_values(['col', 'row']).reset_index(drop=True)
    cells['id'] = np.arange(len(cells))
    df = df.merge(cells, on=['col', 'row'])
    df = df[(df.date >= '2014-01-01') & (df.date < '2021-01-01')].copy()
    d = pd.to_datetime(df.date)
    df['day'] = (d - pd.Timestamp('1970-01-01')).dt.days
    df['m'] = (d.dt.year - 2014) * 12 + d.dt.month - 1
    df['cat'] = df.category.map({c: i + 1 for i, c in enumerate(CATS)})
    return df, cells


def score(f, a, cov):
    n_cells = len(f)
    n = max(1, round(cov * n_cells))
    order = np.argsort(-f, kind='stable')
    v = f[order][n - 1]
    above, tied = f > v, f == v
    hits = a[above].sum() + (n - above.sum()) / tied.sum() * a[tied].sum()
    return hits / a.sum() / (n / n_cells)


def main():
    df, cells = load(sys.argv[1])
    cats = [int(c) for c in sys.argv[2:]] or list(range(6))
    n = len(cells)
    month_start = np.array([(pd.Timestamp(2014 + k // 12, k % 12 + 1, 1) - pd.Timestamp('1970-01-01')).days for k in range(M + 1)])
    ev = {c: (df if c == 0 else df[df.cat == c]) for c in range(6)}
    counts = {}
    for c in range(6):
        a = np.zeros((n, M))
        np.add.at(a, (ev[c].id.values, ev[c].m.values), 1)
        counts[c] = a
    col, row = cells.col.values, cells.row.values
    index = {(a, b): i for i, (a, b) in enumerate(zip(col, row))}

    def ring(r):
        rr, cc = [], []
        for i in range(n):
            for dx in range(-r, r + 1):
                for dy in range(-r, r + 1):
                    j = index.get((col[i] + dx, row[i] + dy))
                    if max(abs(dx), abs(dy)) == r and j is not None:
                        rr.append(i)
                        cc.append(j)
        return sp.csr_matrix((np.ones(len(rr)), (rr, cc)), shape=(n, n))

    r1, r2 = ring(1), ring(2)
    months = np.arange(M)

    def ewm(c, t, h):  # monthly rate, exponentially weighted by month
        w = np.exp2(-((t - months[:t] - 0.5) * 30.44) / h)
        return counts[c][:, :t] @ w * np.log(2) / h * 30.44

    def exp_daily(c, t, h):  # the harness's exp_weighted baseline, by day
        e = ev[c][ev[c].day < month_start[t]]
        out = np.zeros(n)
        np.add.at(out, e.id.values, np.exp2(-(month_start[t] - e.day.values) / h))
        return out

    def features(c, t):
        cols = []
        for k in [c] + ([0] if c else [1, 2, 3, 4, 5]):
            for h in ([30, 91, 182, 365, 730, 1461] if k == c else [91, 365]):
                cols.append(ewm(k, t, h))
        e = ewm(c, t, 365)
        cols += [r1 @ e, r2 @ e, counts[c][:, t - 12], counts[c][:, t - 24]]
        cols.append((counts[c][:, max(0, t - 12):t] > 0).sum(1))
        cols.append(counts[c][:, t - 1])
        cols.append(np.full(n, t % 12))
        return np.column_stack(cols)

    params = dict(objective='poisson', learning_rate=0.03, num_leaves=15, min_data_in_leaf=100, feature_fraction=0.8,
                  bagging_fraction=0.8, bagging_freq=1, verbose=-1, seed=1)
    for year, ms in [(2019, range(60, 72)), (2020, range(72, 84))]:
        ms = list(ms)
        for c in cats:
            model, pai = None, np.zeros(4)
            for i, t in enumerate(ms):
                if model is None or i % 3 == 0:  # refitted every three origins on the 36 months before
                    x = np.vstack([features(c, s) for s in range(t - 36, t)])
                    y = np.concatenate([counts[c][:, s] for s in range(t - 36, t)])
                    model = lgb.train(params, lgb.Dataset(x, y), num_boost_round=300)
                f = model.predict(features(c, t))
                pai += [score(f, counts[c][:, t], cv) for cv in COV]
            pai /= len(ms)
            base = max(np.mean([score(exp_daily(c, t, h), counts[c][:, t], 0.01) for t in ms]) for h in [91, 182, 365, 730])
            print(f'{year} {c} gbm PAI {np.round(pai, 2)} best exp_weighted @1% {base:.2f} gain {pai[1] / base - 1:+.1%}', flush=True)


if __name__ == '__main__':
    main()
