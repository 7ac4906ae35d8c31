-- Public warnings a supervisor issued (issue 21): the Atom feed `GET /api/warnings.atom` lists them as CAP alerts.
-- The body is the server's JSON of the warning (headline, description, area...); warnings are public, so nothing
-- here is sealed, and who issued one is in its `warning.issued` audit entry, not in this table.
CREATE TABLE public_warnings (
    id TEXT PRIMARY KEY,
    issued_at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX public_warnings_by_time ON public_warnings (issued_at_ms);
