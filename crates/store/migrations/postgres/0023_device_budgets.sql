-- Cluster (issue 18). The per-device alert budget, kept in the database when several nodes share it
-- (`jikimi serve --nats`): one row per device that raised an alert, its GCRA theoretical arrival time (the moment
-- its bucket is full again, ms since the epoch). Read and written inside the intake batch's own transaction, so every
-- node charges the same bucket and a charge is committed with its alert or not at all. Holds no personal data.
CREATE TABLE device_budgets (
    device_id TEXT PRIMARY KEY,
    tat_ms BIGINT NOT NULL
);
