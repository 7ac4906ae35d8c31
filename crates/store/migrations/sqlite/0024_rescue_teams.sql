-- Rescue teams and the guardians of people in a disaster (issue 20, parts 5 and 2).
--
-- Units gain a type (police, fire, rescue, medical) and capabilities (comma-separated snake_case names in order,
-- '' for none). Every unit saved before this migration was a police patrol: the defaults say so, so nothing old
-- changes meaning.
ALTER TABLE units ADD COLUMN unit_type TEXT NOT NULL DEFAULT 'police';
ALTER TABLE units ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';

-- The unit an incident needs, when a dispatcher set it; without a row the need is derived from the welfare answers
-- that joined the incident (or police for an ordinary SOS). Who set it is in the `incident.need_set` audit entry.
CREATE TABLE incident_needs (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    unit_type TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    set_at_ms INTEGER NOT NULL
);

-- Guardian notifications about a disaster (their person is in the declared area and asked whether they are safe;
-- then their answer or their silence) go through the same outbox as incident notifications: a row is about an
-- incident or about a disaster, never both. SQLite cannot drop NOT NULL in place, so the table is rebuilt with
-- every row kept. Each (disaster, guardian, event) is queued at most once.
CREATE TABLE notifications_new (
    id TEXT PRIMARY KEY,
    incident_id TEXT REFERENCES incidents (id),
    disaster_id TEXT REFERENCES disasters (id),
    -- No foreign key: an erased guardian's pending rows are dead-lettered by the worker, not cascaded away.
    guardian_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_token TEXT,
    last_error TEXT,
    delivered_channels TEXT NOT NULL,
    delivered_at INTEGER,
    dead_lettered_at INTEGER,
    UNIQUE (incident_id, guardian_id, event_seq),
    CHECK ((incident_id IS NULL) <> (disaster_id IS NULL))
);
INSERT INTO notifications_new (id, incident_id, disaster_id, guardian_id, subscriber_id, event_seq, event, created_at,
                               state, attempts, next_attempt_at, lease_until, lease_token, last_error,
                               delivered_channels, delivered_at, dead_lettered_at)
    SELECT id, incident_id, NULL, guardian_id, subscriber_id, event_seq, event, created_at, state, attempts,
           next_attempt_at, lease_until, lease_token, last_error, delivered_channels, delivered_at, dead_lettered_at
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_stream ON notifications (incident_id, guardian_id, event_seq) WHERE state = 'pending';
CREATE INDEX notifications_disaster_stream ON notifications (disaster_id, guardian_id, event_seq)
    WHERE state = 'pending';
CREATE UNIQUE INDEX notifications_disaster_once ON notifications (disaster_id, guardian_id, event)
    WHERE disaster_id IS NOT NULL;
