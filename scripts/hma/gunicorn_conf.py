"""
gunicorn config for serve.sh (HMA / OpenMediaMatch benchmark server).

HMA loads the match index in each worker by itself: create_app() starts an
APScheduler in every gunicorn worker, and matching.initiate_index_cache()
adds a "Match Index Refresh[<signal type>]" job (first run ~1 s after start,
then every TASK_INDEX_CACHE_INTERVAL_SECONDS) that reads the pickled index
from a PostgreSQL large object when its checkpoint changed. Until that first
run has finished, the worker answers /m/lookup with 503 "index not yet ready"
and /status with 503 INDEX-NOT-LOADED.

post_worker_init below changes nothing in that: it only holds the worker back
from accepting connections until HMA's own cache reports ready (and not
stale), so any request that is answered at all is answered from the full
index. Then it logs a line and appends one line to $JIKIMI_HMA_READY_FILE;
the server is fully up when that file has one line per worker.
"""

import os
import sys
import time

# HMA's Dockerfile runs plain `gunicorn --bind ... "OpenMediaMatch.app:create_app()"`,
# i.e. sync workers and the default 30 s timeout; workers/bind come from serve.sh.
worker_class = "sync"
timeout = 30
# No --preload: HMA's Dockerfile does not preload, and the APScheduler threads
# create_app() starts would not survive the fork.
preload_app = False
# gunicorn >= 25 opens a control socket under $HOME by default; not needed.
control_socket_disable = True

_READY_TIMEOUT = float(os.environ.get("JIKIMI_HMA_READY_TIMEOUT", "3600"))


def post_worker_init(worker):
    app = worker.wsgi
    from OpenMediaMatch.blueprints import matching

    start = time.time()
    with app.app_context():
        while worker.alive:
            if matching.index_cache_is_ready() and not matching.index_cache_is_stale():
                break
            if time.time() - start > _READY_TIMEOUT:
                worker.log.warning(
                    "jikimi: index cache still not ready after %.0fs, serving anyway",
                    _READY_TIMEOUT,
                )
                break
            worker.notify()  # keep the arbiter's timeout from killing us
            time.sleep(0.2)
        cache = getattr(app, "signal_type_index_cache", {})
        sizes = " ".join(
            f"{name}={entry.checkpoint.total_hash_count}" for name, entry in cache.items()
        )
    line = f"master={os.getppid()} pid={os.getpid()} waited={time.time() - start:.1f}s {sizes}"
    # (HMA's dictConfig disables gunicorn's loggers in the worker: plain stderr)
    print(f"[hma-serve] worker ready: {line}", file=sys.stderr, flush=True)
    ready_file = os.environ.get("JIKIMI_HMA_READY_FILE")
    if ready_file:
        with open(ready_file, "a") as f:
            f.write(line + "\n")
