-- The 112 app: one-time device enrolment codes and the subscriber's cancel and duress PINs.

-- A code is `handle` + secret. The handle locates the row (and its attempt counter); only the SHA-256 of the whole
-- code is kept, so a database leak does not yield usable codes. Used and locked rows stay, so a reused code gets a
-- clear "already used" answer instead of "unknown".
CREATE TABLE enrolment_codes (
    handle TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER,
    device_id TEXT
);
CREATE INDEX enrolment_codes_subscriber ON enrolment_codes (subscriber_id);

-- PINs as argon2id PHC strings (computed by the server); the counter bounds guessing, `locked_until` enforces it.
CREATE TABLE subscriber_pins (
    subscriber_id TEXT PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    pin_hash TEXT NOT NULL,
    duress_pin_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    updated_at INTEGER NOT NULL
);
