-- Follow the money (issue 22): transfer sets attached to a cooperation case, their transfers, and trace runs.
-- Account identifiers are personal data: each transfer's accounts are sealed (XChaCha20-Poly1305, the record and
-- field as associated data) with a keyed blind index (HMAC) per account for look-ups; a run's result, which names
-- accounts, is one sealed document. Tx ids, amounts, times, counts and the trace's totals are not personal and stay
-- in clear. case_id names a record of the case store (exchange_records); it is not a foreign key because a case
-- may be withdrawn while its money traces are kept for the file. Times are milliseconds since the Unix epoch;
-- amounts are integer units of the set's currency as decimal text (they exceed 64 bits).
CREATE TABLE funds_transfer_sets (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    currency TEXT NOT NULL,
    decimals BIGINT NOT NULL,
    rows_read BIGINT NOT NULL,
    transfers BIGINT NOT NULL,
    bad_rows BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX funds_transfer_sets_case ON funds_transfer_sets (case_id, created_at_ms);

CREATE TABLE funds_transfers (
    set_id TEXT NOT NULL REFERENCES funds_transfer_sets (id),
    seq BIGINT NOT NULL,
    tx_id TEXT NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    amount TEXT NOT NULL,
    from_sealed BYTEA NOT NULL,
    to_sealed BYTEA NOT NULL,
    from_digest BYTEA NOT NULL,
    to_digest BYTEA NOT NULL,
    PRIMARY KEY (set_id, seq)
);
CREATE INDEX funds_transfers_from ON funds_transfers (from_digest);
CREATE INDEX funds_transfers_to ON funds_transfers (to_digest);

CREATE TABLE funds_trace_runs (
    id TEXT PRIMARY KEY,
    set_id TEXT NOT NULL REFERENCES funds_transfer_sets (id),
    case_id TEXT NOT NULL,
    policy TEXT NOT NULL CHECK (policy IN ('haircut', 'fifo')),
    seeds TEXT NOT NULL,
    summary TEXT NOT NULL,
    result_sealed BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX funds_trace_runs_case ON funds_trace_runs (case_id, created_at_ms);
