-- Freeze and confiscation requests (crate exchange, `freeze`): each side keeps the signed request and every signed
-- status, sealed at rest (accounts are personal data); ids, direction, peer and digests stay in clear for lookups.
-- Audit rows go to the spine's audit_log like every exchange write.
CREATE TABLE ex_freeze_requests (
  id TEXT PRIMARY KEY, direction TEXT NOT NULL, peer TEXT NOT NULL, digest TEXT NOT NULL,
  body TEXT NOT NULL, created_ms BIGINT NOT NULL, delivered BIGINT NOT NULL);
CREATE TABLE ex_freeze_statuses (
  request_id TEXT NOT NULL, seq BIGINT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL,
  delivered BIGINT NOT NULL, PRIMARY KEY (request_id, seq));
