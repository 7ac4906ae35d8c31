-- Cooperation (crate exchange): this node's agency identity, peers, agreements, the record log,
-- tombstones, nonces, pull cursors, disclosures and receipts. Audit rows go to the spine's
-- audit_log (one hash chain per node), so this migration adds no audit table.
CREATE TABLE ex_identity (one BIGINT PRIMARY KEY CHECK (one = 1), agency TEXT NOT NULL, secret TEXT NOT NULL);
CREATE TABLE ex_peers (id TEXT PRIMARY KEY, agency TEXT NOT NULL);
CREATE TABLE ex_agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE ex_log_head (one BIGINT PRIMARY KEY CHECK (one = 1), seq BIGINT NOT NULL);
INSERT INTO ex_log_head (one, seq) VALUES (1, 0);
-- One row per record (latest version); seq is its position in this node's log, moved to the
-- head on every change so a pull by cursor sees each change once.
CREATE TABLE ex_records (
  id TEXT PRIMARY KEY, version BIGINT NOT NULL, origin TEXT NOT NULL, kind TEXT NOT NULL,
  case_id TEXT, target TEXT, body TEXT NOT NULL, received_from TEXT, received_under TEXT,
  seq BIGINT NOT NULL UNIQUE);
CREATE INDEX ex_records_case ON ex_records (case_id);
CREATE TABLE ex_withdrawn (id TEXT PRIMARY KEY, by_record TEXT NOT NULL);
CREATE TABLE ex_nonces (sender TEXT NOT NULL, nonce TEXT NOT NULL, PRIMARY KEY (sender, nonce));
CREATE TABLE ex_cursors (peer TEXT PRIMARY KEY, cursor BIGINT NOT NULL);
CREATE TABLE ex_disclosures (
  envelope TEXT PRIMARY KEY, peer TEXT NOT NULL, record_id TEXT NOT NULL, version BIGINT NOT NULL,
  kind TEXT NOT NULL, agreement TEXT, at_ms BIGINT NOT NULL, receipt TEXT, outcome TEXT);
CREATE INDEX ex_disclosures_record ON ex_disclosures (record_id);
CREATE INDEX ex_disclosures_peer ON ex_disclosures (peer);
CREATE TABLE ex_receipts (id TEXT PRIMARY KEY, sent BIGINT NOT NULL, peer TEXT NOT NULL, body TEXT NOT NULL);
