-- Surge: every accepted alert gets its own row, so alerts stored can be counted against alerts accepted even when
-- many alerts share one incident; and open incidents are indexed on a grid so nearby alerts can join them.

-- One row per accepted alert: its idempotency key (device, alert id) and the incident it opened or joined.
CREATE TABLE alerts (
    device_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, alert_id)
);
CREATE INDEX alerts_incident ON alerts (incident_id);
INSERT INTO alerts (device_id, alert_id, incident_id, received_at)
    SELECT device_id, alert_id, id, opened_at FROM incidents;

-- Incidents alerts may cluster into: the anchor (first alert's position), its grid cell
-- (jikimi_respond::surge::cell_of) and when the latest report came.
CREATE TABLE incident_clusters (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    cell INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    last_report_at INTEGER NOT NULL
);
CREATE INDEX incident_clusters_cell ON incident_clusters (cell, last_report_at);
