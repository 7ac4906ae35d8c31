-- One-time maintenance jobs that have run (issue 17: blind indexes re-derived from the sealed values after phone
-- normalisation moved to libphonenumber's rules). A job named here is not run again when the server starts.
CREATE TABLE maintenance_jobs (
    name TEXT PRIMARY KEY,
    done_at INTEGER NOT NULL
);
