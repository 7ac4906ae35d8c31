-- Hash banks shared with partner agencies (issue 19, part 3; crate exchange, `hashbank`). Hashes and labels only:
-- no image or video ever reaches these tables. Bodies are the signed JSON as sent (a hash, labels, ids, agency
-- keys; no personal data), kept so a holder can forward an origin's event unchanged and show its signature.
--
-- Offers: ours going out (`from_agency` is this node) and those addressed to us (a received offer made the
-- read-only bank in identify_banks, origin `exchange:<origin key>`). `delivered` is the recipient's signed ack.
CREATE TABLE bank_offers (
  bank TEXT NOT NULL, from_agency TEXT NOT NULL, to_agency TEXT NOT NULL, origin TEXT NOT NULL,
  digest TEXT NOT NULL, body TEXT NOT NULL, delivered BOOLEAN NOT NULL, at_ms BIGINT NOT NULL,
  PRIMARY KEY (bank, from_agency, to_agency));
-- Every bank event issued here or received: the origin's content changes (added, disabled, enabled, withdrawn)
-- and partners' feedback, numbered per issuer. `received_from` is the peer that delivered it (NULL: issued here).
CREATE TABLE bank_events (
  bank TEXT NOT NULL, issuer TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, content TEXT NOT NULL,
  digest TEXT NOT NULL, body TEXT NOT NULL, received_from TEXT, received_ms BIGINT NOT NULL,
  PRIMARY KEY (bank, issuer, seq));
CREATE INDEX bank_events_content ON bank_events (bank, content, kind);
-- How far each peer acknowledged each issuer's events of a bank (the push channel's cursor).
CREATE TABLE bank_deliveries (
  bank TEXT NOT NULL, issuer TEXT NOT NULL, peer TEXT NOT NULL, delivered BIGINT NOT NULL,
  PRIMARY KEY (bank, issuer, peer));
