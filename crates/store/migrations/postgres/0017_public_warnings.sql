-- Public warnings a supervisor issued (issue 21): the Atom feed `GET /api/warnings.atom` lists them as CAP alerts.
-- The body is the server's JSON of the warning (headline, description, area...); warnings are public, so nothing
-- here is sealed, and who issued one is in its `warning.issued` audit entry, not in this table.
CREATE TABLE public_warnings (
    id TEXT PRIMARY KEY,
    issued_at_ms BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX public_warnings_by_time ON public_warnings (issued_at_ms);

-- Incidents referred by another CAD (issue 21, an imported EIDO): the referrer's `$id` is the idempotency key, so
-- a replayed or concurrent import answers the incident the first one opened. Who referred it is also in the
-- incident's first event (`referred`) and its `incident.referred` audit entry.
CREATE TABLE incident_referrals (
    external_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    from_agency TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
