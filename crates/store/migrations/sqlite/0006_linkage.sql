-- Linkage (issue 11): links between entities of shared cases (persons, phones, accounts, wallets) proposed by a
-- linkage run, with their evidence, and an analyst's decision on each. Entity refs are the entities' UUIDs as text;
-- left_ref < right_ref, so a pair has one row. Decided rows (confirmed, rejected) are kept across runs: a later run
-- refreshes their score and evidence but never their status. Times are milliseconds since the Unix epoch.
CREATE TABLE entity_links (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    left_ref TEXT NOT NULL,
    right_ref TEXT NOT NULL,
    probability REAL NOT NULL,
    weight REAL NOT NULL,
    evidence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed', 'rejected')),
    first_seen_ms INTEGER NOT NULL,
    last_run_ms INTEGER NOT NULL,
    decided_by TEXT,
    decided_at_ms INTEGER,
    UNIQUE (kind, left_ref, right_ref)
);
CREATE INDEX entity_links_status ON entity_links (status);
