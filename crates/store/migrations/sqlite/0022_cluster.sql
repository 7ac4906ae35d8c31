-- Cluster (issue 18). The change outbox: with a cluster event bus (`jikimi serve --nats`), every committed
-- transaction that changed an incident, a unit or a notification writes one row here IN THE SAME TRANSACTION, with
-- the ids and kinds it changed (never state, never personal data). A relay claims pending rows with a lease,
-- publishes each to NATS JetStream with `id` as the message id (JetStream drops a repeat), and marks it published:
-- a process that dies between commit and publish leaves its rows pending, and any node's relay publishes them once
-- the lease expires. The seq follows commit order (writers are serialised by the audit head lock).
CREATE TABLE change_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at_ms BIGINT NOT NULL,
    -- JSON array of the committed changes (`jikimi_store::Committed`).
    changes TEXT NOT NULL,
    published_at BIGINT,
    lease_until BIGINT,
    lease_token TEXT
);
CREATE INDEX change_events_pending ON change_events (seq) WHERE published_at IS NULL;
-- Named leases: background work that must run once across the cluster (purges, federation sync, the change relay
-- of a node's own rows) is done by the holder of its lease; a holder renews before expiry, and a crashed holder's
-- lease expires and is taken by another node. Nodes also hold `node/<id>` leases, which is how `jikimi cluster
-- status` lists the live nodes.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
