-- Joint operations (crate exchange, `operation`): every signed event of every operation this node takes part in,
-- its own and its partners', applied or buffered until an earlier one arrives. The signed head and the parts
-- (entities, descriptions, log texts) are sealed at rest; operation, origin, number and digest stay in clear for
-- lookups and name no person. A withdrawal erases the withdrawn event's parts (`parts` NULL). `applied_no` is this
-- node's order of application (NULL while buffered), the order the operation is folded in.
CREATE TABLE op_events (
  operation TEXT NOT NULL, origin TEXT NOT NULL, seq BIGINT NOT NULL, digest TEXT NOT NULL,
  head TEXT NOT NULL, parts TEXT, applied_no BIGINT, received_ms BIGINT NOT NULL,
  PRIMARY KEY (operation, origin, seq));
CREATE INDEX op_events_applied ON op_events (operation, applied_no);
-- How far each participant acknowledged this node's own events of an operation (the push channel's cursor).
CREATE TABLE op_deliveries (
  operation TEXT NOT NULL, peer TEXT NOT NULL, delivered BIGINT NOT NULL, PRIMARY KEY (operation, peer));
