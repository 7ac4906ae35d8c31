-- The respond spine on SQLite. Ids are UUID text, times are milliseconds since the Unix epoch (INTEGER),
-- personal fields are sealed BLOBs (XChaCha20-Poly1305) and blind-index digests: nothing personal in clear.

-- The audit chain's head: one row, locked by every writing transaction so the chain stays linear.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);

-- The projection of each incident's events; `state` is the folded Incident as JSON, the other columns index it.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    subscriber_id TEXT,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    UNIQUE (device_id, alert_id)
);
CREATE INDEX incidents_queue ON incidents (status, priority, opened_at);
CREATE INDEX incidents_subscriber ON incidents (subscriber_id);

-- The ground truth: append-only.
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

-- Replay protection: a device's nonce is accepted once.
CREATE TABLE device_nonces (
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX device_nonces_seen ON device_nonces (seen_at);

CREATE TABLE subscribers (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Sealed fields of subscribers and guardians; `owner` is the AAD record id (`subscriber/<id>`, `guardian/<id>`).
CREATE TABLE sealed_fields (
    owner TEXT NOT NULL,
    field TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (owner, field)
);

CREATE TABLE blind_indexes (
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    digest BLOB NOT NULL,
    PRIMARY KEY (subscriber_id, domain, digest)
);
CREATE INDEX blind_indexes_lookup ON blind_indexes (domain, digest);

CREATE TABLE guardians (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX guardians_subscriber ON guardians (subscriber_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT REFERENCES subscribers (id),
    public_key BLOB NOT NULL,
    kind TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX devices_subscriber ON devices (subscriber_id);

CREATE TABLE units (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    lat REAL,
    lon REAL,
    reported_at INTEGER
);

CREATE TABLE staff (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled BOOLEAN NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    username TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
