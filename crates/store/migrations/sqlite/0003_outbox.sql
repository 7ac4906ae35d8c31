-- Guardian notification outbox: one row per (incident event, guardian), written in the same transaction as the
-- event that causes it and delivered by the `notify` worker. Rows hold ids only: the guardian's contact data stays
-- sealed in `sealed_fields` and the message is rendered at delivery time, after unsealing, by the worker.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    -- No foreign key: an erased guardian's pending rows are dead-lettered by the worker, not cascaded away.
    guardian_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- pending, delivered or dead_lettered.
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_token TEXT,
    -- An error class (`http_503`, `connect`, `smtp_permanent`), never an address or a message text.
    last_error TEXT,
    -- JSON array of the channel indexes already delivered, so a retry does not repeat them.
    delivered_channels TEXT NOT NULL,
    delivered_at INTEGER,
    dead_lettered_at INTEGER,
    UNIQUE (incident_id, guardian_id, event_seq)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_stream ON notifications (incident_id, guardian_id, event_seq) WHERE state = 'pending';
