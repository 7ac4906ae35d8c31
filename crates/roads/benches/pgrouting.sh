#!/usr/bin/env bash
# pgRouting comparison for `jikimi bench roads`: loads the same Helsinki graph (time metric) into a
# scratch schema `roads_bench` of the local PostgreSQL and times pgr_dijkstraCostMatrix /
# pgr_dijkstraCost on the same one-to-50 sets and one-to-one pairs the Rust benchmark used.
#
# Needs: Debian `postgresql-15-pgrouting` (apt-get install -y postgresql-15-pgrouting), python3.
# Usage (from the repository root): crates/roads/benches/pgrouting.sh
# Env: PGHOST (127.0.0.1), PGUSER (postgres), PGDATABASE (test), KEEP=1 keeps the scratch schema.
# The schema and the extension installed into it are dropped at the end unless KEEP=1.
set -euo pipefail

OUT=${OUT:-target/roads-pgrouting}
mkdir -p "$OUT"
PSQL=(psql -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -d "${PGDATABASE:-test}" -v ON_ERROR_STOP=1 -qAt)

cargo run --release -q -p jikimi -- bench roads --skip-grid --queries 200 --rounds 100 --export "$OUT" \
  > "$OUT/rust_bench.json"

python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
q = json.load(open(f"{out}/queries.json"))
arr = lambda xs: "{" + ",".join("NULL" if x is None else str(x) for x in xs) + "}"
with open(f"{out}/sets.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["set_id", "incident", "units", "ours"])
    for i, s in enumerate(q["one_to_50"]):
        w.writerow([i, s["incident"], arr(s["units"]), arr(s["ch_duration_s"])])
with open(f"{out}/pairs.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["pair_id", "source", "target"])
    for i, (a, b) in enumerate(q["pairs"]):
        w.writerow([i, a, b])
PY

"${PSQL[@]}" <<SQL
DROP SCHEMA IF EXISTS roads_bench CASCADE;
CREATE SCHEMA roads_bench;
CREATE EXTENSION IF NOT EXISTS pgrouting SCHEMA roads_bench;
SET search_path = roads_bench, public;
CREATE TABLE edges (id bigint, source bigint, target bigint, cost float8, reverse_cost float8, length_m float8);
\copy edges FROM '$OUT/edges.csv' CSV HEADER
CREATE TABLE sets (set_id int, incident bigint, units bigint[], ours float8[]);
\copy sets FROM '$OUT/sets.csv' CSV HEADER
CREATE TABLE pairs (pair_id int, source bigint, target bigint);
\copy pairs FROM '$OUT/pairs.csv' CSV HEADER
CREATE TABLE timings (kind text, id int, ms float8);
CREATE TABLE m2o (set_id int, start_vid bigint, agg_cost float8);
DO \$\$
DECLARE r record; t0 timestamptz; e text := 'SELECT id, source, target, cost, reverse_cost FROM roads_bench.edges';
BEGIN
  FOR rep IN 1..3 LOOP  -- the fastest of 3, like the Rust benchmark
    FOR r IN SELECT * FROM sets LOOP
      t0 := clock_timestamp();
      PERFORM * FROM pgr_dijkstraCostMatrix(e, array_prepend(r.incident, r.units));
      INSERT INTO timings VALUES ('one_to_50 pgr_dijkstraCostMatrix (51x51)', r.set_id, extract(epoch FROM clock_timestamp() - t0) * 1000);
      t0 := clock_timestamp();
      PERFORM * FROM pgr_dijkstraCost(e, r.units, r.incident);
      INSERT INTO timings VALUES ('one_to_50 pgr_dijkstraCost (50 units -> incident)', r.set_id, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
    FOR r IN SELECT * FROM pairs LOOP
      t0 := clock_timestamp();
      PERFORM * FROM pgr_dijkstraCost(e, r.source, r.target);
      INSERT INTO timings VALUES ('one_to_one pgr_dijkstraCost', r.pair_id, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
  END LOOP;
  FOR r IN SELECT * FROM sets LOOP
    INSERT INTO m2o SELECT r.set_id, start_vid, agg_cost FROM pgr_dijkstraCost(e, r.units, r.incident);
  END LOOP;
END \$\$;
SELECT 'pgrouting ' || pgr_version();
SELECT format('%s: n=%s p50=%s ms p99=%s ms', kind, count(*),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3))
FROM (SELECT kind, id, min(ms) AS ms FROM timings GROUP BY kind, id) t GROUP BY kind ORDER BY kind;
-- Agreement with our CH (time metric; ours rounds each segment to the millisecond).
WITH ours AS (
  SELECT s.set_id, s.incident, u.vid, u.secs FROM sets s, unnest(s.units, s.ours) AS u(vid, secs)
), j AS (
  SELECT o.secs, m.agg_cost, o.vid = o.incident AS same FROM ours o
  LEFT JOIN m2o m ON m.set_id = o.set_id AND m.start_vid = o.vid
)
SELECT format('agreement: %s unit ETAs compared, max |ours - pgr| = %s s, reachability mismatches = %s',
              count(*) FILTER (WHERE secs IS NOT NULL AND agg_cost IS NOT NULL),
              round(max(abs(secs - agg_cost))::numeric, 4),
              count(*) FILTER (WHERE NOT same AND (secs IS NULL) <> (agg_cost IS NULL)))
FROM j;
SQL

if [ "${KEEP:-0}" != 1 ]; then
  "${PSQL[@]}" -c "DROP SCHEMA roads_bench CASCADE" -c "DROP EXTENSION IF EXISTS pgrouting"
fi
python3 -c "
import json; e = json.load(open('$OUT/rust_bench.json'))['extract']
for k in ('one_to_one_ch', 'one_to_one_dijkstra', 'one_to_50_bucket_ch', 'one_to_50_single_backward_dijkstra'):
    print(f'jikimi {k}: p50={e[k][\"p50_us\"]/1000:.4f} ms p99={e[k][\"p99_us\"]/1000:.4f} ms')
"
