#!/usr/bin/env python3
"""
Bulk-load PDQ hashes into one HMA bank and build HMA's PDQ index.

Run with the HMA venv's python (see setup.sh):

    $VENV/bin/python scripts/hma/load.py [--bank JIKIMI_BENCH] [--replace] < hashes.txt

stdin: one PDQ hash per line, 64 hex chars (upper case is lower-cased; blank
lines are skipped; anything else is an error, as HMA's own API rejects it).

What it writes is what HMA's "add signal to bank" API path
(POST /c/bank/<bank>/signal -> DefaultOMMStore.bank_add_content) writes,
one `bank_content` row plus one `content_signal` row per hash:

  bank_content:   id from bank_content_id_seq, bank_id, imported_from_id NULL,
                  disable_until_ts 1 (BankContentConfig.ENABLED),
                  original_content_uri NULL, note NULL,
                  bank_content_metadata JSON 'null' (SQLAlchemy's JSON type
                  stores Python None as JSON null, not SQL NULL)
  content_signal: content_id, signal_type 'pdq', signal_val <hash>,
                  create_time = column default now()

The only difference is that all rows share one transaction, so one now() --
exactly like HMA's own bulk path (exchange_commit_fetch) when it imports from
an exchange. The bank itself is created through HMA's storage API.

The rows go in with PostgreSQL COPY, streamed (the input is spooled to a
temporary file, never held in a Python list). Then it runs HMA's own index
build, build_index.build_all_indices() -- the function HMA's "Indexer"
background task (and `flask build_indices`) calls -- and prints timings.
"""

import argparse
import io
import logging
import os
import re
import resource
import sys
import tempfile
import time
import typing as t

DEFAULT_BANK = "JIKIMI_BENCH"

# Columns HMA (at the pinned commit) has on these tables. If a newer HMA adds
# a column, fail loudly instead of writing rows that differ from its API's.
EXPECTED_COLUMNS = {
    "bank_content": {
        "id",
        "bank_id",
        "imported_from_id",
        "disable_until_ts",
        "original_content_uri",
        "note",
        "bank_content_metadata",
    },
    "content_signal": {"content_id", "signal_type", "signal_val", "create_time"},
}


class _GenReader(io.RawIOBase):
    """A read-only file over an iterator of bytes chunks, for copy_expert."""

    def __init__(self, chunks: t.Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _log(msg: str, *args: t.Any) -> None:
    print("[hma-load] " + (msg % args if args else msg), file=sys.stderr, flush=True)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spool_hashes(src: t.BinaryIO, validate: t.Callable[[str], str]) -> t.Tuple[t.BinaryIO, int]:
    """Validate hashes from src into a temp file (one per line). Returns (file, count)."""
    spool = tempfile.TemporaryFile(prefix="jikimi-hma-hashes-")
    count = 0
    out: list = []
    for lineno, raw in enumerate(src, 1):
        line = raw.strip()
        if not line:
            continue
        h = line.decode("ascii", "replace").lower()
        try:
            validate(h)
        except Exception:
            raise SystemExit(f"line {lineno}: not a PDQ hash (64 hex chars): {line[:80]!r}")
        out.append(h)
        count += 1
        if len(out) >= 65536:
            spool.write(("\n".join(out) + "\n").encode())
            out.clear()
    if out:
        spool.write(("\n".join(out) + "\n").encode())
    spool.seek(0)
    return spool, count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bank", default=DEFAULT_BANK, help="bank name (default %(default)s)")
    ap.add_argument(
        "--replace",
        action="store_true",
        help="delete the bank (and its content) first if it exists",
    )
    ap.add_argument(
        "--no-build", action="store_true", help="only load, skip the index build"
    )
    args = ap.parse_args()

    os.environ.setdefault("OMM_CONFIG", os.path.join(sys.prefix, "omm_config.py"))
    if not os.path.exists(os.environ["OMM_CONFIG"]):
        raise SystemExit(f"no OMM config at {os.environ['OMM_CONFIG']}: run setup.sh")

    # Keep HMA's own INFO logging (index build progress) on stderr.
    from OpenMediaMatch.app import create_app
    from OpenMediaMatch.background_tasks import build_index
    from OpenMediaMatch.persistence import get_storage
    from OpenMediaMatch.storage.interface import BankContentConfig
    from OpenMediaMatch.storage.postgres import database
    from sqlalchemy import select, func, text
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.storage.interfaces import BankConfig

    app = create_app()
    with app.app_context():
        storage = get_storage()
        db = database.db

        # --- schema guard ---------------------------------------------------
        for table, expected in EXPECTED_COLUMNS.items():
            got = {
                r[0]
                for r in db.session.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema() AND table_name = :t"
                    ),
                    {"t": table},
                )
            }
            if got != expected:
                raise SystemExit(
                    f"HMA table {table} has columns {sorted(got)}, load.py expects"
                    f" {sorted(expected)}: update load.py for this HMA version"
                )

        # --- bank, through HMA's storage API (as POST /c/banks does) --------
        bank = storage.get_bank(args.bank)
        if bank is not None and args.replace:
            _log("deleting existing bank %s (--replace)", args.bank)
            t0 = time.time()
            storage.bank_delete(args.bank)
            _log("deleted in %.1fs", time.time() - t0)
            bank = None
        if bank is None:
            storage.bank_update(
                BankConfig(name=args.bank, matching_enabled_ratio=1.0), create=True
            )
        bank_id = db.session.execute(
            select(database.Bank.id).where(database.Bank.name == args.bank)
        ).scalar_one()
        existing = db.session.execute(
            select(func.count())
            .select_from(database.BankContent)
            .where(database.BankContent.bank_id == bank_id)
        ).scalar_one()
        if existing:
            raise SystemExit(
                f"bank {args.bank} already has {existing} items;"
                " use --replace (slow for millions) or setup.sh --fresh"
            )
        db.session.commit()

        # --- spool + validate stdin -----------------------------------------
        t_start = time.time()
        spool, n = spool_hashes(sys.stdin.buffer, PdqSignal.validate_signal_str)
        t_read = time.time() - t_start
        _log("read and validated %d hashes in %.1fs", n, t_read)
        if n == 0:
            raise SystemExit("no hashes on stdin")

        # --- COPY, one transaction ------------------------------------------
        enabled = BankContentConfig.ENABLED
        signal_type = PdqSignal.get_name()
        t_copy0 = time.time()
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            # Block concurrent bank_content inserts while we own an id range.
            cur.execute("LOCK TABLE bank_content IN SHARE ROW EXCLUSIVE MODE")
            cur.execute("SELECT pg_get_serial_sequence('bank_content', 'id')")
            seq = cur.fetchone()[0]
            cur.execute("SELECT nextval(%s)", (seq,))
            first_id = cur.fetchone()[0]
            last_id = first_id + n - 1
            cur.execute("SELECT setval(%s, %s)", (seq, last_id))

            def content_rows() -> t.Iterator[bytes]:
                tail = f"\t{bank_id}\t\\N\t{enabled}\t\\N\t\\N\tnull\n"
                step = 65536
                for lo in range(first_id, last_id + 1, step):
                    hi = min(lo + step, last_id + 1)
                    yield "".join(f"{i}{tail}" for i in range(lo, hi)).encode()

            cur.copy_expert(
                "COPY bank_content (id, bank_id, imported_from_id, disable_until_ts,"
                " original_content_uri, note, bank_content_metadata) FROM STDIN",
                _GenReader(content_rows()),
                size=1 << 20,
            )
            _log("COPY bank_content: %d rows, %.1fs", n, time.time() - t_copy0)

            def signal_rows() -> t.Iterator[bytes]:
                prefix = f"\t{signal_type}\t"
                next_id = first_id
                buf: list = []
                for line in spool:
                    buf.append(f"{next_id}{prefix}{line.decode()}")
                    next_id += 1
                    if len(buf) >= 65536:
                        yield "".join(buf).encode()
                        buf.clear()
                if buf:
                    yield "".join(buf).encode()
                assert next_id == last_id + 1

            t_sig0 = time.time()
            cur.copy_expert(
                "COPY content_signal (content_id, signal_type, signal_val) FROM STDIN",
                _GenReader(signal_rows()),
                size=1 << 20,
            )
            _log("COPY content_signal: %d rows, %.1fs", n, time.time() - t_sig0)
            raw.commit()
            cur = raw.cursor()
            cur.execute("ANALYZE bank_content")
            cur.execute("ANALYZE content_signal")
            raw.commit()
        finally:
            raw.close()
            spool.close()
        t_copy = time.time() - t_copy0
        print(
            f"loaded {n} hashes into bank {args.bank} (bank_content ids"
            f" {first_id}..{last_id}): read {t_read:.1f}s, COPY+ANALYZE {t_copy:.1f}s",
            flush=True,
        )

        if args.no_build:
            return 0

        # --- HMA's own index build ------------------------------------------
        _log("running build_index.build_all_indices() (HMA's Indexer task)")
        t_b0 = time.time()
        build_index.build_all_indices(storage, storage, storage)
        t_build = time.time() - t_b0
        db.session.remove()
        cp = storage.get_last_index_build_checkpoint(PdqSignal)
        total = db.session.execute(
            select(func.count())
            .select_from(database.ContentSignal)
            .where(database.ContentSignal.signal_type == signal_type)
        ).scalar_one()
        print(
            f"index build (build_all_indices) took {t_build:.1f}s;"
            f" pdq index holds {cp.total_hash_count if cp else 0} signals"
            f" (content_signal has {total} pdq rows);"
            f" load.py peak RSS {_peak_rss_mib():.0f} MiB",
            flush=True,
        )
        if cp is None or cp.total_hash_count != total:
            print("ERROR: index does not cover all pdq signals", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    sys.exit(main())
