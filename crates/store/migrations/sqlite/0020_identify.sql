-- Identify (issue 19): hash banks, their content and reviews of matches. Hashes and labels only: an image or a
-- video never reaches the database (the server hashes uploads in memory).
--
-- A bank's `origin` is `local` for a bank this agency keeps, or the exchange that feeds it (`exchange:<agency>`):
-- an exchange-backed bank is read-only here. `suppresses` is the JSON array of the bank ids a negative bank
-- suppresses (empty for a positive bank).
CREATE TABLE identify_banks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    match_distance INTEGER NOT NULL,
    negative BOOLEAN NOT NULL,
    suppresses TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    origin TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL
);

-- One hashed item of a bank: a PDQ hash (hex) or a vPDQ frame list (the reference's lines). Disabled content is
-- kept (and its disabling audited): `enabled` goes false, nothing is deleted. `signal_id` is the exchange's id
-- of the signal for content that arrived from a partner. `quarantined_at_ms` is set when the signal matched
-- more than its expected rate (answered as quarantined until a review).
CREATE TABLE identify_content (
    id TEXT PRIMARY KEY,
    bank_id TEXT NOT NULL REFERENCES identify_banks (id),
    signal_type TEXT NOT NULL CHECK (signal_type IN ('pdq', 'vpdq')),
    signal TEXT NOT NULL,
    category TEXT,
    series TEXT,
    signal_id TEXT,
    enabled BOOLEAN NOT NULL,
    quarantined_at_ms INTEGER,
    added_at_ms INTEGER NOT NULL,
    added_by TEXT NOT NULL,
    changed_at_ms INTEGER NOT NULL
);
CREATE INDEX identify_content_by_bank ON identify_content (bank_id);

-- One match a lookup answered, and its review (true or false positive, by whom). Who looked up is in the
-- lookup's audit entry too; the query itself (a hash) is not kept.
CREATE TABLE identify_matches (
    id TEXT PRIMARY KEY,
    lookup_id TEXT NOT NULL,
    content_id TEXT NOT NULL REFERENCES identify_content (id),
    bank_id TEXT NOT NULL REFERENCES identify_banks (id),
    distance INTEGER NOT NULL,
    matched_at_ms INTEGER NOT NULL,
    matched_by TEXT NOT NULL,
    verdict TEXT CHECK (verdict IN ('true_positive', 'false_positive')),
    reviewed_by TEXT,
    reviewed_at_ms INTEGER
);
CREATE INDEX identify_matches_by_content ON identify_matches (content_id);
