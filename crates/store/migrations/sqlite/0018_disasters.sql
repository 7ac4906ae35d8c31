-- Disaster mode (issue 20): a declared disaster, the people its welfare check asked, and their answers.
--
-- The area is public geometry (GeoJSON MultiPolygon coordinates as JSON); who declared and closed it are in the
-- `disaster.declared` and `disaster.closed` audit entries. A person's position and vulnerability flags are sealed
-- by the server (record id `disaster/<id>/person/<subscriber>`) like every other personal field; their status, time
-- of last contact, battery and people count are operational and stay in clear so the counts need no decryption.
-- Vulnerability flags themselves come from registration: the subscriber's sealed field `vulnerability`, and the
-- registered home position the sealed field `home`, both in `sealed_fields` (no schema change needed there).
CREATE TABLE disasters (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    area TEXT NOT NULL,
    cap_identifier TEXT,
    declared_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER
);
CREATE INDEX disasters_by_time ON disasters (declared_at_ms);

-- One row per person asked "are you safe?"; erasing the subscriber erases it.
CREATE TABLE welfare_persons (
    disaster_id TEXT NOT NULL REFERENCES disasters (id),
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    requested_at_ms INTEGER NOT NULL,
    last_contact_ms INTEGER,
    position BLOB,
    position_at_ms INTEGER,
    battery_pct INTEGER,
    people INTEGER,
    vulnerability BLOB,
    PRIMARY KEY (disaster_id, subscriber_id)
);
CREATE INDEX welfare_persons_status ON welfare_persons (disaster_id, status);
CREATE INDEX welfare_persons_subscriber ON welfare_persons (subscriber_id);

-- Answers, idempotent per (disaster, device, answer id): a retry finds its row and changes nothing.
CREATE TABLE welfare_answers (
    disaster_id TEXT NOT NULL REFERENCES disasters (id),
    device_id TEXT NOT NULL,
    answer_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (disaster_id, device_id, answer_id)
);
