#!/usr/bin/env python3
"""FEBRL4 end to end: jikimi link against Splink (DuckDB backend), same machine, same run.

Usage (from the repository root, after `cargo build --release -p jikimi`):

    python3 crates/linkage/benches/splink_compare.py

Creates a venv at $HOME/.cache/jikimi-venvs/splink with `splink` and `pandas` from PyPI on first use.
Both tools get the FEBRL4 files without `soc_sec_id`; `rec_id` is only the record id and is used for
scoring against febrl4_true_links.csv. Times are wall-clock for load, block, train (u, m), score and,
for both, a one-to-one assignment (jikimi does it inside; for Splink a greedy best-first pass over its
predictions, timed with it). CPU time of each process is reported too, since the machine is shared.
"""

import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("JIKIMI_SHARED", ROOT.parent / "shared"))
FEBRL = SHARED / "data" / "febrl"
VENV = Path.home() / ".cache" / "jikimi-venvs" / "splink"
JIKIMI = ROOT / "target" / "release" / "jikimi"


def ensure_venv():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "splink", "pandas"], check=True)
    return python


def read_pairs(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return {(r[0], r[1]) for r in rows}


def quality(pred, truth):
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"predicted": len(pred), "tp": tp, "precision": round(p, 5), "recall": round(r, 5), "f1": round(f1, 5)}


SPLINK_RUN = r'''
import sys, time, resource
t0 = time.perf_counter()
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
febrl, out = sys.argv[1], sys.argv[2]
cols = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth"]
a = pd.read_csv(f"{febrl}/febrl4_a.csv", dtype=str, keep_default_na=False)[cols].replace("", None)
b = pd.read_csv(f"{febrl}/febrl4_b.csv", dtype=str, keep_default_na=False)[cols].replace("", None)
db_api = DuckDBAPI()
df_a = db_api.register(a, dataset_display_name="a")
df_b = db_api.register(b, dataset_display_name="b")
settings = SettingsCreator(
    unique_id_column_name="rec_id",
    link_type="link_only",
    blocking_rules_to_generate_predictions=[
        block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
        block_on("postcode"), block_on("address_1"), block_on("suburb"),
        block_on("substr(given_name,1,2)", "substr(surname,1,2)"),
    ],
    comparisons=[
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.94, 0.8]),
        cl.JaroWinklerAtThresholds("address_2", [0.94, 0.8]),
        cl.JaroWinklerAtThresholds("suburb", [0.94, 0.8]),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
        cl.ExactMatch("state"),
    ],
    retain_intermediate_calculation_columns=False,
)
linker = Linker([df_a, df_b], settings, log_level=None)
linker.training.estimate_probability_two_random_records_match(
    [block_on("given_name", "surname", "date_of_birth")], recall=0.8)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
# One-to-one: greedy best first, as jikimi does.
pred = pred.sort_values("match_weight", ascending=False)
used_l, used_r, links = set(), set(), []
for l, r in zip(pred["rec_id_l"], pred["rec_id_r"]):
    if l in used_l or r in used_r:
        continue
    used_l.add(l); used_r.add(r); links.append((l, r))
with open(out, "w") as f:
    f.write("left_id,right_id\n")
    for l, r in links:
        # Splink may orient the pair either way; put the FEBRL4-A record first.
        if "-org" not in l:
            l, r = r, l
        f.write(f"{l},{r}\n")
with open(out + ".all", "w") as f:
    f.write("left_id,right_id\n")
    for l, r in zip(pred["rec_id_l"], pred["rec_id_r"]):
        if "-org" not in l:
            l, r = r, l
        f.write(f"{l},{r}\n")
print(f"{time.perf_counter() - t0:.3f}")
'''


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"{cmd[0]} failed")
    return wall, cpu, result


def main():
    python = ensure_venv()
    if not JIKIMI.exists():
        raise SystemExit("build first: cargo build --release -p jikimi")
    truth = read_pairs(FEBRL / "febrl4_true_links.csv")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    j_out = tmp / "jikimi_febrl4_links.csv"
    s_out = tmp / "splink_febrl4_links.csv"
    j_wall, j_cpu, _ = timed([str(JIKIMI), "link", "--left", str(FEBRL / "febrl4_a.csv"), "--right",
                              str(FEBRL / "febrl4_b.csv"), "--exclude", "soc_sec_id", "--out", str(j_out), "--quiet"])
    s_wall, s_cpu, s_res = timed([str(python), "-c", SPLINK_RUN, str(FEBRL), str(s_out)])
    jq = quality(read_pairs(j_out), truth)
    sq = quality(read_pairs(s_out), truth)
    sq_all = quality(read_pairs(str(s_out) + ".all"), truth)
    print(f"jikimi : wall {j_wall:7.3f} s  cpu {j_cpu:7.3f} s  {jq}")
    print(f"splink : wall {s_wall:7.3f} s  cpu {s_cpu:7.3f} s  {sq}  (one-to-one)")
    print(f"splink : {'':33} {sq_all}  (all predictions >= 0.5)")
    print(f"speed-up (wall): {s_wall / j_wall:.1f}x; (cpu): {s_cpu / max(j_cpu, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
