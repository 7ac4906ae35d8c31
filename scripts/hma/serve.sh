#!/usr/bin/env bash
# Run HMA (OpenMediaMatch) under gunicorn on 127.0.0.1:PORT, in the foreground.
#
#   scripts/hma/serve.sh PORT
#
# The caller backgrounds it and stops it with `kill <pid>` (gunicorn is exec'd,
# so the PID is the gunicorn master's; SIGTERM stops master and workers).
#
# Ready: each worker appends one line to $JIKIMI_HMA_READY_FILE
# (default /tmp/jikimi-hma-ready.PORT, truncated at start) once HMA's index
# cache in that worker is loaded; the server is ready when the file has
# $JIKIMI_HMA_WORKERS lines. Workers accept no connection before that, so no
# request is ever answered from a partial/empty index.
#
# Environment (all optional):
#   JIKIMI_HMA_VENV      (default $HOME/.cache/jikimi-venvs/hma)
#   JIKIMI_HMA_CONFIG    (default $JIKIMI_HMA_VENV/omm_config.py, from setup.sh)
#   JIKIMI_HMA_WORKERS   (default: number of cores, nproc)
#   JIKIMI_HMA_READY_FILE
#   JIKIMI_HMA_JEMALLOC=0  don't LD_PRELOAD jemalloc (HMA's Dockerfile does)
#   JIKIMI_HMA_OMP_THREADS  OpenMP threads per worker for FAISS. Default: unset,
#                        as in HMA's Dockerfile (FAISS then uses one thread per
#                        core in *each* worker). 1 is much faster when
#                        workers = cores: see README.md.
set -euo pipefail

PORT=${1:?usage: serve.sh PORT}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${JIKIMI_HMA_VENV:-$HOME/.cache/jikimi-venvs/hma}
CONFIG=${JIKIMI_HMA_CONFIG:-$VENV/omm_config.py}
WORKERS=${JIKIMI_HMA_WORKERS:-$(nproc)}
READY_FILE=${JIKIMI_HMA_READY_FILE:-${TMPDIR:-/tmp}/jikimi-hma-ready.$PORT}

[[ -x "$VENV/bin/gunicorn" && -f "$CONFIG" ]] || {
  echo "[hma-serve] no HMA venv/config at $VENV: run scripts/hma/setup.sh" >&2; exit 1; }

: > "$READY_FILE"
export OMM_CONFIG="$CONFIG" JIKIMI_HMA_READY_FILE="$READY_FILE"

# HMA's Dockerfile preloads jemalloc (FAISS fragments glibc's heap).
if [[ "${JIKIMI_HMA_JEMALLOC:-1}" != 0 ]]; then
  for so in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2; do
    if [[ -e "$so" ]]; then export LD_PRELOAD="$so${LD_PRELOAD:+:$LD_PRELOAD}"; break; fi
  done
fi

if [[ -n "${JIKIMI_HMA_OMP_THREADS:-}" ]]; then
  export OMP_NUM_THREADS="$JIKIMI_HMA_OMP_THREADS"
fi

echo "[hma-serve] 127.0.0.1:$PORT workers=$WORKERS OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset} config=$CONFIG" \
     "ready when $READY_FILE has $WORKERS lines" >&2
exec "$VENV/bin/gunicorn" -c "$HERE/gunicorn_conf.py" \
  --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  "OpenMediaMatch.app:create_app()"
