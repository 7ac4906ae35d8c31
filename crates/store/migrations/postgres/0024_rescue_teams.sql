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
    set_at_ms BIGINT NOT NULL
);

-- Guardian notifications about a disaster (their person is in the declared area and asked whether they are safe;
-- then their answer or their silence) go through the same outbox as incident notifications: a row is about an
-- incident or about a disaster, never both. Each (disaster, guardian, event) is queued at most once.
ALTER TABLE notifications ALTER COLUMN incident_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN disaster_id TEXT REFERENCES disasters (id);
ALTER TABLE notifications ADD CONSTRAINT notifications_about_one
    CHECK ((incident_id IS NULL) <> (disaster_id IS NULL));
CREATE INDEX notifications_disaster_stream ON notifications (disaster_id, guardian_id, event_seq)
    WHERE state = 'pending';
CREATE UNIQUE INDEX notifications_disaster_once ON notifications (disaster_id, guardian_id, event)
    WHERE disaster_id IS NOT NULL;
