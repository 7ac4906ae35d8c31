-- The respond spine on PostgreSQL. Ids are UUID text, times are milliseconds since the Unix epoch (BIGINT),
-- personal fields are sealed BYTEA (XChaCha20-Poly1305) and blind-index digests: nothing personal in clear.

-- The audit chain's head: one row, locked by every writing transaction so the chain stays linear.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);

-- The projection of each incident's events; `state` is the folded Incident as JSON, the other columns index it.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    subscriber_id TEXT,
    status TEXT NOT NULL,
    priority BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    UNIQUE (device_id, alert_id)
);
CREATE INDEX incidents_queue ON incidents (status, priority, opened_at);
CREATE INDEX incidents_subscriber ON incidents (subscriber_id);

-- The ground truth: append-only.
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

-- Replay protection: a device's nonce is accepted once.
CREATE TABLE device_nonces (
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX device_nonces_seen ON device_nonces (seen_at);

CREATE TABLE subscribers (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Sealed fields of subscribers and guardians; `owner` is the AAD record id (`subscriber/<id>`, `guardian/<id>`).
CREATE TABLE sealed_fields (
    owner TEXT NOT NULL,
    field TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (owner, field)
);

CREATE TABLE blind_indexes (
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    digest BYTEA NOT NULL,
    PRIMARY KEY (subscriber_id, domain, digest)
);
CREATE INDEX blind_indexes_lookup ON blind_indexes (domain, digest);

CREATE TABLE guardians (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX guardians_subscriber ON guardians (subscriber_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT REFERENCES subscribers (id),
    public_key BYTEA NOT NULL,
    kind TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX devices_subscriber ON devices (subscriber_id);

CREATE TABLE units (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    reported_at BIGINT
);

CREATE TABLE staff (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    username TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
