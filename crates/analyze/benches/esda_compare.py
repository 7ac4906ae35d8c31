"""Time PySAL/esda on a rook lattice for `jikimi bench analyze --esda-script`.

Creates (once) a venv under $HOME/.cache/jikimi-venvs/esda with esda, libpysal and numba, re-runs itself
inside it, then times esda.G_Local(star=True, transform='B') and esda.Moran_Local(transformation='r') with
the given permutations, single-threaded (n_jobs=1), after a warm-up call that compiles numba's kernels.
Prints one JSON line with the timings and the first 100 Gi* z-scores and local I values, so the caller
can check that both implementations computed the same numbers on the same values.

Usage: python3 crates/analyze/benches/esda_compare.py --side 100 --permutations 999 [--y values.txt]
"""
import argparse
import json
import os
import subprocess
import sys
import time

VENV = os.path.join(os.path.expanduser("~"), ".cache", "jikimi-venvs", "esda")
PY = os.path.join(VENV, "bin", "python")


def ensure_venv():
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(PY):
        subprocess.check_call([sys.executable, "-m", "venv", VENV], stdout=sys.stderr)
        subprocess.check_call([PY, "-m", "pip", "install", "-q", "esda", "libpysal", "numba"], stdout=sys.stderr)
    os.execv(PY, [PY] + sys.argv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=100)
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--y", default=None, help="file with one value per line (row-major lattice)")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()

    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np
    import esda
    from libpysal.weights import lat2W

    try:
        import numba  # noqa: F401

        has_numba = True
    except ImportError:
        has_numba = False

    n = args.side * args.side
    if args.y:
        y = np.loadtxt(args.y)
    else:
        y = np.random.default_rng(args.seed).uniform(5, 20, n)
    assert len(y) == n

    def w():
        return lat2W(args.side, args.side, rook=True)

    # Warm-up: compile numba kernels outside the timed region.
    esda.G_Local(y, w(), transform="B", star=True, permutations=9, n_jobs=1, seed=1, keep_simulations=False)
    esda.Moran_Local(y, w(), transformation="r", permutations=9, n_jobs=1, seed=1, keep_simulations=False)

    t = time.perf_counter()
    g = esda.G_Local(y, w(), transform="B", star=True, permutations=args.permutations, n_jobs=1,
                     seed=args.seed, keep_simulations=False)
    gi_s = time.perf_counter() - t
    t = time.perf_counter()
    lm = esda.Moran_Local(y, w(), transformation="r", permutations=args.permutations, n_jobs=1,
                          seed=args.seed, keep_simulations=False)
    lisa_s = time.perf_counter() - t
    print(json.dumps({
        "esda_version": esda.__version__,
        "numba": has_numba,
        "side": args.side,
        "permutations": args.permutations,
        "gi_star_s": gi_s,
        "lisa_s": lisa_s,
        "gi_star_z_first100": [float(v) for v in g.Zs[:100]],
        "lisa_is_first100": [float(v) for v in lm.Is[:100]],
    }))


if __name__ == "__main__":
    ensure_venv()
    main()
