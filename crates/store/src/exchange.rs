//! Persistence for cooperation (crate `jikimi-exchange`, the pure core): its `ExchangeStore` trait, a supertrait of
//! [`crate::Store`], implemented once, generically, for both backends (`sql/exchange.rs`), on the tables of migration 0005.
//!
//! Every writing call is a spine writing transaction (`SqlStore::begin_write`/`commit_write`):
//! exchange audit rows (disclosures, receipts, rejections, agreements) go into the node's one hash-chained
//! `audit_log` with the change they record, as `exchange.<what>` entries, so `jikimi audit verify` covers them.
//! A pulled page is applied in one transaction with its cursor: a crash leaves the page and its cursor, or neither.
//!
//! The record log's head (`ex_log_head`) is read once per transaction and advanced in memory; on SQLite the single
//! writer connection, on PostgreSQL the audit head lock that every writer takes first, keep it linear.
//!
//! Sealed at rest: the agency's Ed25519 signing key (`ex_identity.secret`) and every record body (`ex_records.body`,
//! names, phones, passports) are sealed with the operator's data keyring (`jikimi_privacy::Keyring`,
//! XChaCha20-Poly1305; the associated data binds the row, so a ciphertext moved to another record does not open),
//! stored as text `sealed:<base64>`. The columns the queries filter on (ids, kind, case id, origin) name no person;
//! no lookup here goes by a personal value, so no blind index is needed. Rows written in clear by an earlier version
//! are sealed by [`crate::Store::seal_exchange_at_rest`] (run by the binary after migrating) and read meanwhile.

use jikimi_exchange::domain::{AgencyId, Provenance, Record};
use jikimi_exchange::store::AuditEntry as ExchangeAuditEntry;

/// The exchange's error for a store failure during `during`.
pub(crate) fn ex(during: &'static str) -> impl FnOnce(crate::Error) -> jikimi_exchange::Error {
    move |e| jikimi_exchange::Error::Store {
        during,
        source: Box::new(e),
    }
}

/// The exchange's error for a driver failure during `during`.
pub(crate) fn db(during: &'static str) -> impl FnOnce(sqlx::Error) -> jikimi_exchange::Error {
    move |e| jikimi_exchange::Error::Store {
        during,
        source: Box::new(crate::Error::from(e)),
    }
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> jikimi_exchange::Result<String> {
    serde_json::to_string(v).map_err(jikimi_exchange::Error::Encoding)
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> jikimi_exchange::Result<T> {
    serde_json::from_str(s).map_err(jikimi_exchange::Error::Encoding)
}

pub(crate) fn parse_uuid(s: &str) -> jikimi_exchange::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| ex("read")(crate::Error::corrupt("stored uuid")))
}

pub(crate) fn provenance(
    from: Option<String>,
    under: Option<String>,
) -> jikimi_exchange::Result<Provenance> {
    Ok(Provenance {
        received_from: from.map(|f| AgencyId::parse(&f)).transpose()?,
        received_under: under.map(|u| parse_uuid(&u)).transpose()?,
    })
}

/// One exchange audit row before it is chained: `exchange.<action>` on the record, agreement or peer it concerns.
pub(crate) struct AuditRow<'a> {
    pub(crate) action: &'a str,
    pub(crate) peer: Option<&'a str>,
    pub(crate) record: Option<String>,
    pub(crate) agreement: Option<String>,
    pub(crate) detail: String,
}

impl AuditRow<'_> {
    /// The spine entry: actor `exchange` (this node's federation service), subject the record (else the agreement,
    /// else the peer), reason the human-readable detail, and the ids as JSON detail so the exchange's view can be
    /// read back.
    pub(crate) fn entry(self) -> jikimi_audit::NewAuditEntry {
        let subject = match (&self.record, &self.agreement, self.peer) {
            (Some(r), _, _) => format!("exchange/record/{r}"),
            (None, Some(a), _) => format!("exchange/agreement/{a}"),
            (None, None, Some(p)) => format!("exchange/agency/{p}"),
            (None, None, None) => "exchange".to_owned(),
        };
        jikimi_audit::NewAuditEntry::new(
            chrono::Utc::now().timestamp_millis(),
            "exchange",
            format!("exchange.{}", self.action),
            subject,
            self.detail,
        )
        .with_detail(&serde_json::json!({
            "peer": self.peer, "record": self.record, "agreement": self.agreement,
        }))
    }
}

/// The exchange's view of a spine audit entry whose action starts with `exchange.`.
pub(crate) fn exchange_view(
    e: jikimi_audit::AuditEntry,
) -> jikimi_exchange::Result<ExchangeAuditEntry> {
    #[derive(serde::Deserialize)]
    struct Ids {
        peer: Option<String>,
        record: Option<String>,
        agreement: Option<String>,
    }
    let ids: Ids = parse_json(&e.detail)?;
    Ok(ExchangeAuditEntry {
        seq: e.seq,
        at: chrono::DateTime::from_timestamp_millis(e.at_unix_ms).ok_or_else(|| {
            ex("read")(crate::Error::corrupt("stored audit time is out of range"))
        })?,
        action: e
            .action
            .strip_prefix("exchange.")
            .unwrap_or(&e.action)
            .to_owned(),
        peer: ids.peer,
        record: ids.record,
        agreement: ids.agreement,
        detail: e.reason,
    })
}

/// The record columns every read selects, and the one place a row becomes a `StoredRecord`.
pub(crate) const RECORD_COLUMNS: &str =
    "SELECT id, body, received_from, received_under, seq FROM ex_records";

/// `$from, $from+1, …` for `n` bound values: numbers only, never data, so safe to put into SQL text.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A withdrawal removes its target and the owner's records attached to it.
pub(crate) fn removes(control: &Record) -> Option<(String, &str)> {
    match &control.body {
        jikimi_exchange::domain::RecordBody::Withdrawal { target, .. } => {
            Some((target.to_string(), control.origin.as_str()))
        }
        _ => None,
    }
}
