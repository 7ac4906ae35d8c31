//! `Node`: one agency's federation endpoint, gluing the pure core (`policy`, `protocol`) to an
//! `ExchangeStore` (a trait object: the store crate's one handle on the database) and, for `sync`,
//! an HTTP client ([`crate::transport`]). The server side (`serve_pull`, `accept_page`,
//! `accept_receipt`) takes messages as values, so the whole protocol can be exercised in tests
//! by handing pages from one node to another without a network; the one HTTP router over it is
//! the server crate's.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use jikimi_exchange::domain::{
    Agency, AgencyId, CaseCategory, Content, FieldClass, LeadContent, Record, RecordBody,
    court_export_allowed,
};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::marking::Marking;
use jikimi_exchange::policy;
use jikimi_exchange::protocol::{
    self, Envelope, Notify, Outcome, PROTOCOL, Page, PullRequest, Receipt, ReceiptItem, Rejection,
    Signed,
};
use jikimi_exchange::store::{DisclosureRow, ExchangeStore, Inbound, StoredRecord};
use jikimi_exchange::{Error, Result};

use crate::transport::{Transport, is_plain_remote};

/// Default page size for pulls.
pub const DEFAULT_PAGE: u32 = 500;
/// A pull never examines more than this many log entries per page limit, so a peer that may
/// see little of the log still gets bounded, quick answers.
const SCAN_FACTOR: u32 = 8;

/// Counts from one sync with one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    pub pages: u64,
    pub envelopes: u64,
    pub applied: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub bytes: u64,
}

/// One agency's node.
pub struct Node {
    /// Its persistence: in production the store crate's `Arc<dyn Store>`, seen as the supertrait.
    pub store: Arc<dyn ExchangeStore>,
    pub me: Agency,
    key: SigningKey,
    pub(crate) http: reqwest::Client,
    pub page_limit: u32,
    /// One sync at a time per node: pages of one peer must be applied in order.
    sync_lock: tokio::sync::Mutex<()>,
    /// Joint operations: check-then-store and per-peer push order.
    pub(crate) ops: crate::operation::OpLocks,
    /// Shared hash banks: numbering, check-then-store and per-peer push order.
    pub(crate) banks: crate::hashbank::BankLocks,
}

impl Node {
    /// Opens the node on an initialised store, reaching partners with the default [`Transport`].
    pub async fn open(store: Arc<dyn ExchangeStore>) -> Result<Self> {
        Node::open_with(store, &Transport::default()).await
    }

    /// Opens the node on an initialised store, reaching partners through `transport`.
    pub async fn open_with(store: Arc<dyn ExchangeStore>, transport: &Transport) -> Result<Self> {
        let (me, key) = store.identity().await?.ok_or(Error::NoIdentity)?;
        let http = transport.client()?;
        Ok(Node {
            store,
            me,
            key,
            http,
            page_limit: DEFAULT_PAGE,
            sync_lock: tokio::sync::Mutex::new(()),
            ops: crate::operation::OpLocks::default(),
            banks: crate::hashbank::BankLocks::default(),
        })
    }

    pub fn id(&self) -> &AgencyId {
        &self.me.id
    }

    /// This agency's signing key (for messages whose signature is made with their content, as operation events).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs `body` with this agency's key.
    pub fn sign<T: serde::Serialize>(&self, body: T) -> Result<Signed<T>> {
        Signed::sign(body, &self.key)
    }

    /// Creates a case owned by this agency.
    pub async fn create_case(
        &self,
        category: CaseCategory,
        marking: Marking,
        content: Content,
        now: DateTime<Utc>,
    ) -> Result<Record> {
        let own = Own::new(Uuid::now_v7(), category, marking);
        self.put_own(own, RecordBody::Case(content), now).await
    }

    /// Adds a lead to a case (ours or a partner's). The lead is at least as restricted as the
    /// case it belongs to.
    pub async fn add_lead(
        &self,
        case_id: Uuid,
        marking: Marking,
        content: Content,
        now: DateTime<Utc>,
    ) -> Result<Record> {
        let case = self
            .store
            .record(case_id)
            .await?
            .ok_or_else(|| Error::not_found("case", case_id))?;
        let own = Own::new(
            Uuid::now_v7(),
            case.record.category,
            marking.combine(case.record.marking),
        );
        let body = RecordBody::Lead(LeadContent { case_id, content });
        self.put_own(own, body, now).await
    }

    /// Withdraws a record this agency owns: it disappears here and at every recipient, across hops.
    pub async fn withdraw(&self, target: Uuid, reason: &str, now: DateTime<Utc>) -> Result<Record> {
        let stored = self.owned(target).await?;
        let own = Own::new(
            control_id(target, "withdrawal"),
            stored.record.category,
            stored.record.marking,
        );
        let body = RecordBody::Withdrawal {
            target,
            reason: reason.to_string(),
        };
        self.put_own(own, body, now).await
    }

    /// Narrows a record this agency owns (drops field classes, tightens marks), everywhere.
    pub async fn restrict(
        &self,
        target: Uuid,
        remove_fields: BTreeSet<FieldClass>,
        marking: Marking,
        now: DateTime<Utc>,
    ) -> Result<Record> {
        let stored = self.owned(target).await?;
        let previous = self
            .store
            .record(control_id(target, "restriction"))
            .await?
            .map(|s| s.record.version)
            .unwrap_or(0);
        let own = Own {
            version: previous + 1,
            ..Own::new(
                control_id(target, "restriction"),
                stored.record.category,
                stored.record.marking.combine(marking),
            )
        };
        let body = RecordBody::Restriction {
            target,
            remove_fields,
            marking,
        };
        self.put_own(own, body, now).await
    }

    /// Stores a record this agency makes (a case, a lead, a withdrawal, a restriction) and returns it.
    async fn put_own(&self, own: Own, body: RecordBody, now: DateTime<Utc>) -> Result<Record> {
        let record = Record {
            id: own.id,
            version: own.version,
            origin: self.me.id.clone(),
            category: own.category,
            marking: own.marking,
            updated_at: now,
            redacted: BTreeSet::new(),
            body,
        };
        self.store.put_local(&record).await?;
        Ok(record)
    }

    async fn owned(&self, target: Uuid) -> Result<StoredRecord> {
        let stored = self
            .store
            .record(target)
            .await?
            .ok_or_else(|| Error::not_found("record", target))?;
        if stored.record.origin != self.me.id {
            return Err(Error::Denied(
                "only the owning agency may withdraw or restrict a record".into(),
            ));
        }
        Ok(stored)
    }

    /// Answers a peer's pull: authenticates it, then walks the log after its cursor, deciding
    /// each record by policy for that peer, and returns at most `limit` signed envelopes.
    pub async fn serve_pull(
        &self,
        request: &Signed<PullRequest>,
        now: DateTime<Utc>,
    ) -> Result<Page> {
        let req = &request.body;
        let (_, checked) = self
            .check_signed(&req.requester, &req.responder, req.issued_at, now, || {
                request.verify(&req.requester)
            })
            .await?;
        let checked = match checked {
            Ok(_) if !self.store.remember_nonce(&req.requester, req.nonce).await? => {
                Err(Rejection::Replay)
            }
            other => other,
        };
        self.refuse_audited(checked, "pull_rejected", &req.requester)
            .await?;
        let peer = &req.requester;
        let agreements = self.store.agreements().await?;
        let limit = req.limit.clamp(1, 5_000);
        let mut cursor = req.cursor;
        let mut envelopes = Vec::new();
        let mut rows = Vec::new();
        let mut scanned: u32 = 0;
        let mut more = false;
        'scan: loop {
            let batch = self.store.log_after(cursor, limit).await?;
            let full = batch.len() as u32 == limit;
            for stored in batch {
                scanned += 1;
                cursor = stored.seq;
                if let Some((envelope, row)) =
                    self.disclose_to(&stored, peer, &agreements, now).await?
                {
                    envelopes.push(envelope);
                    rows.push(row);
                }
                if envelopes.len() as u32 >= limit || scanned >= limit * SCAN_FACTOR {
                    more = true;
                    break 'scan;
                }
            }
            if !full {
                break;
            }
        }
        // Disclosures are durable (and audited) before they leave.
        self.store.record_disclosures(&rows).await?;
        Ok(Page {
            envelopes,
            next_cursor: cursor,
            more,
        })
    }

    async fn disclose_to(
        &self,
        stored: &StoredRecord,
        peer: &AgencyId,
        agreements: &[jikimi_exchange::domain::Agreement],
        now: DateTime<Utc>,
    ) -> Result<Option<(Signed<Envelope>, DisclosureRow)>> {
        let record = &stored.record;
        let (out, agreement, purpose) = if let Some(target) = record.target() {
            // Withdrawals and restrictions reach everyone the target went to, whatever the
            // agreements say now: they only ever remove data.
            if &record.origin == peer || !self.store.disclosed_to(target).await?.contains(peer) {
                return Ok(None);
            }
            (record.clone(), None, None)
        } else {
            match policy::disclose(
                agreements,
                &self.me.id,
                record,
                &stored.provenance,
                peer,
                now,
            ) {
                Ok(d) => (d.record, Some(d.agreement), Some(d.purpose)),
                Err(_) => return Ok(None),
            }
        };
        let envelope = Envelope {
            protocol: PROTOCOL.to_string(),
            sender: self.me.id.clone(),
            recipient: peer.clone(),
            seq: stored.seq,
            nonce: Uuid::new_v4(),
            issued_at: now,
            agreement,
            purpose,
            record: out,
        };
        let signed = self.sign(envelope)?;
        let row = DisclosureRow {
            envelope: signed.digest()?,
            peer: peer.clone(),
            record: record.id,
            version: record.version,
            kind: record.kind(),
            agreement,
            at: now,
        };
        Ok(Some((signed, row)))
    }

    /// Applies a page from `sender` (pulled, or pushed when `cursor` is false): each envelope is
    /// authenticated and re-checked against policy, the page is stored atomically with the new
    /// cursor, and a signed receipt is returned (and kept).
    pub async fn accept_page(
        &self,
        sender: &AgencyId,
        page: &Page,
        pulled: bool,
        now: DateTime<Utc>,
    ) -> Result<(Signed<Receipt>, SyncStats)> {
        let peers = self.store.peers().await?;
        let agreements = self.store.agreements().await?;
        let mut items = Vec::with_capacity(page.envelopes.len());
        let mut receipt_items = Vec::with_capacity(page.envelopes.len());
        let mut stats = SyncStats {
            pages: 1,
            envelopes: page.envelopes.len() as u64,
            ..SyncStats::default()
        };
        let lookups: Vec<(Uuid, &Record)> = page
            .envelopes
            .iter()
            .map(|e| (e.body.nonce, &e.body.record))
            .collect();
        let knowns = self.store.known_page(sender, &lookups).await?;
        for (signed, known) in page.envelopes.iter().zip(knowns) {
            let env = &signed.body;
            let digest = signed.digest().ok();
            let receipt_item = |envelope, outcome| ReceiptItem {
                envelope,
                record: env.record.id,
                version: env.record.version,
                outcome,
            };
            let verdict = if &env.sender != sender {
                Err(Rejection::UnknownSender)
            } else {
                protocol::assess(&self.me.id, &peers, &agreements, now, &known, signed)
            };
            match verdict {
                Ok((action, digest)) => {
                    let outcome = if matches!(action, protocol::Action::Duplicate) {
                        stats.duplicates += 1;
                        Outcome::Duplicate
                    } else {
                        stats.applied += 1;
                        Outcome::Applied
                    };
                    receipt_items.push(receipt_item(digest.clone(), outcome));
                    items.push(Inbound::Accepted {
                        envelope: digest,
                        nonce: env.nonce,
                        action: Box::new(action),
                        agreement: env.agreement,
                    });
                }
                Err(rejection) => {
                    stats.rejected += 1;
                    tracing::warn!(sender = %sender.short(), record = %env.record.id, %rejection, "envelope rejected");
                    if let Some(d) = &digest {
                        let reason = rejection.to_string();
                        receipt_items.push(receipt_item(d.clone(), Outcome::Rejected { reason }));
                    }
                    items.push(Inbound::Rejected {
                        envelope: digest,
                        nonce: Some(env.nonce),
                        record: Some(env.record.id),
                        rejection,
                    });
                }
            }
        }
        self.store
            .apply_inbound(sender, &items, pulled.then_some(page.next_cursor))
            .await?;
        let receipt = self.sign(Receipt {
            id: Uuid::now_v7(),
            receiver: self.me.id.clone(),
            sender: sender.clone(),
            issued_at: now,
            items: receipt_items,
        })?;
        self.store.store_receipt(&receipt.body, true).await?;
        Ok((receipt, stats))
    }

    /// Takes a peer's receipt for our disclosures: verified, stored, linked to the disclosures.
    pub async fn accept_receipt(
        &self,
        receipt: &Signed<Receipt>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let r = &receipt.body;
        let (_, checked) = self
            .check_signed(&r.receiver, &r.sender, r.issued_at, now, || {
                receipt.verify(&r.receiver)
            })
            .await?;
        self.refuse_audited(checked, "receipt_rejected", &r.receiver)
            .await?;
        self.store.store_receipt(r, false).await
    }

    /// Checks a push notification; returns the peer to pull from.
    pub async fn accept_notify(
        &self,
        notify: &Signed<Notify>,
        now: DateTime<Utc>,
    ) -> Result<Agency> {
        let n = &notify.body;
        let (peers, checked) = self
            .check_signed(&n.sender, &n.recipient, n.issued_at, now, || {
                notify.verify(&n.sender)
            })
            .await?;
        self.refuse_audited(checked, "notify_rejected", &n.sender)
            .await?;
        peers
            .into_iter()
            .find(|p| p.id == n.sender)
            .ok_or(Error::Rejected(Rejection::UnknownSender))
    }

    /// Checks a signed request (signer a known peer, addressed to us, fresh, signature valid) against the peers
    /// held now; returns those peers and the verdict, which the caller may narrow and then hands to
    /// [`Node::refuse_audited`].
    pub(crate) async fn check_signed(
        &self,
        signer: &AgencyId,
        recipient: &AgencyId,
        issued_at: DateTime<Utc>,
        now: DateTime<Utc>,
        signature_check: impl FnOnce() -> std::result::Result<Sha256Hex, Rejection>,
    ) -> Result<(Vec<Agency>, std::result::Result<Sha256Hex, Rejection>)> {
        let peers = self.store.peers().await?;
        let checked = protocol::check_request(
            signer,
            recipient,
            &self.me.id,
            issued_at,
            now,
            &peers,
            signature_check,
        );
        Ok((peers, checked))
    }

    /// A signed request's check: a refusal is audited as `action` against `peer` and becomes the error.
    pub(crate) async fn refuse_audited<T>(
        &self,
        checked: std::result::Result<T, Rejection>,
        action: &str,
        peer: &AgencyId,
    ) -> Result<T> {
        match checked {
            Ok(v) => Ok(v),
            Err(rejection) => {
                self.store
                    .audit(action, Some(peer), None, &rejection.to_string())
                    .await?;
                Err(Error::Rejected(rejection))
            }
        }
    }

    /// Pulls everything `peer` may give us, page by page, over HTTP; each page is committed with
    /// its cursor before the next is asked for, so a crash resumes exactly where it stopped.
    pub async fn sync_peer(&self, peer: &Agency) -> Result<SyncStats> {
        let _guard = self.sync_lock.lock().await;
        let endpoint = peer
            .endpoint
            .as_deref()
            .ok_or_else(|| Error::invalid("peer", "has no endpoint"))?;
        if is_plain_remote(endpoint) {
            // Signatures keep the records authentic, not secret: say so every time it happens.
            tracing::warn!(peer = %peer.name, %endpoint, "syncing over plain HTTP: case data crosses the network unencrypted; use an https:// endpoint");
        }
        let transport = |reason: String| Error::Transport {
            peer: peer.name.clone(),
            reason,
        };
        let mut total = SyncStats::default();
        loop {
            let cursor = self.store.cursor(&peer.id).await?;
            let request = self.sign(PullRequest {
                requester: self.me.id.clone(),
                responder: peer.id.clone(),
                cursor,
                limit: self.page_limit,
                issued_at: Utc::now(),
                nonce: Uuid::new_v4(),
            })?;
            let response = post(&self.http, endpoint, "pull", &request)
                .await
                .map_err(|e| transport(e.to_string()))?;
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                return Err(transport(format!("pull answered {status}: {body}")));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| transport(e.to_string()))?;
            let page: Page =
                serde_json::from_slice(&bytes).map_err(|e| transport(format!("bad page: {e}")))?;
            let (receipt, stats) = self.accept_page(&peer.id, &page, true, Utc::now()).await?;
            total.add(&SyncStats {
                bytes: bytes.len() as u64,
                ..stats
            });
            if !receipt.body.items.is_empty() {
                // A lost receipt is not fatal: the data is applied; the sender's audit shows the
                // disclosure without a receipt.
                let sent = post(&self.http, endpoint, "receipts", &receipt).await;
                if let Err(e) = sent {
                    tracing::warn!(peer = %peer.name, error = %e, "receipt not delivered");
                }
            }
            if !page.more {
                break;
            }
        }
        // Freeze requests and statuses the partner has not acknowledged yet go again, in order.
        if let Err(e) = self.redeliver_freeze(peer).await {
            tracing::warn!(peer = %peer.name, error = %e, "freeze redelivery failed");
        }
        // So do our operation events it has not acknowledged: the catch-up after a partition.
        if let Err(e) = self.push_operations(peer).await {
            tracing::warn!(peer = %peer.name, error = %e, "operation push failed");
        }
        // And the shared banks' offers, content changes and feedback it has not acknowledged.
        if let Err(e) = self.push_banks(peer).await {
            tracing::warn!(peer = %peer.name, error = %e, "bank push failed");
        }
        Ok(total)
    }

    /// Syncs with every peer that has an endpoint; errors are returned per peer.
    pub async fn sync_all(&self) -> Result<Vec<(Agency, Result<SyncStats>)>> {
        self.sync_peers(|_| true).await
    }

    /// Syncs, one after the other, with the peers that have an endpoint and that `select` keeps; errors are
    /// returned per peer. The one loop over peers: `jikimi sync`, `POST /api/exchange/sync` and the periodic
    /// sync ([`crate::Federation::spawn_periodic_sync`]) all come here.
    pub async fn sync_peers(
        &self,
        select: impl Fn(&Agency) -> bool,
    ) -> Result<Vec<(Agency, Result<SyncStats>)>> {
        let mut out = Vec::new();
        for peer in self.store.peers().await? {
            if peer.endpoint.is_some() && select(&peer) {
                let r = self.sync_peer(&peer).await;
                out.push((peer, r));
            }
        }
        Ok(out)
    }

    /// Tells every peer with an endpoint to pull from us (best effort).
    pub async fn notify_peers(&self) -> Result<usize> {
        let mut n = 0;
        for peer in self.store.peers().await? {
            let Some(endpoint) = &peer.endpoint else {
                continue;
            };
            let msg = self.sign(Notify {
                sender: self.me.id.clone(),
                recipient: peer.id.clone(),
                head: 0,
                issued_at: Utc::now(),
                nonce: Uuid::new_v4(),
            })?;
            match post(&self.http, endpoint, "notify", &msg).await {
                Ok(r) if r.status().is_success() => n += 1,
                Ok(r) => tracing::warn!(peer = %peer.name, status = %r.status(), "notify refused"),
                Err(e) => tracing::warn!(peer = %peer.name, error = %e, "notify failed"),
            }
        }
        Ok(n)
    }

    /// A case held here and its leads as a STIX 2.1 bundle ([`Error::NotFound`] when the case is not held here).
    pub async fn export_stix(
        &self,
        case_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value> {
        let records = self.held_case(case_id).await?;
        jikimi_exchange::stix::export_case(&records, &self.me, now)
    }

    /// Builds a court bundle for a case: the case and its leads, refused (and audited) if any
    /// of them carries a handling code that forbids court use without the provider's permission.
    pub async fn court_bundle(&self, case_id: Uuid) -> Result<Vec<Record>> {
        let records = self.held_case(case_id).await?;
        for r in &records {
            if let Err(e) = court_export_allowed(r, &self.me.id) {
                self.store
                    .audit(
                        "court_export_denied",
                        Some(&r.origin),
                        Some(r.id),
                        &format!("{:?}", r.marking.handling),
                    )
                    .await?;
                return Err(e);
            }
        }
        self.store
            .audit(
                "court_export",
                None,
                Some(case_id),
                &format!("{} records", records.len()),
            )
            .await?;
        Ok(records)
    }

    /// A case held here and its leads ([`Error::NotFound`] when the case is not held here).
    async fn held_case(&self, case_id: Uuid) -> Result<Vec<Record>> {
        let records: Vec<Record> = self
            .store
            .case_records(case_id)
            .await?
            .into_iter()
            .map(|s| s.record)
            .collect();
        if records.is_empty() {
            return Err(Error::not_found("case", case_id));
        }
        Ok(records)
    }
}

/// What [`Node::put_own`] needs besides the body: id, version, category and marks of a record made here.
struct Own {
    id: Uuid,
    version: u64,
    category: CaseCategory,
    marking: Marking,
}

impl Own {
    /// The first version of record `id`.
    fn new(id: Uuid, category: CaseCategory, marking: Marking) -> Self {
        Own {
            id,
            version: 1,
            category,
            marking,
        }
    }
}

impl SyncStats {
    /// Adds `other`'s counts to these (the totals of a sync over several pages).
    pub fn add(&mut self, other: &SyncStats) {
        self.pages += other.pages;
        self.envelopes += other.envelopes;
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.bytes += other.bytes;
    }
}

/// Creates this node's agency identity on `store`: a fresh Ed25519 key from the operating system's generator, kept
/// with the agency. `jikimi agency init`, `POST /api/exchange/agency`, `jikimi bench exchange` and the tests come
/// here; the caller decides what an existing identity means.
pub async fn create_identity(
    store: &dyn ExchangeStore,
    name: String,
    country: &str,
    endpoint: Option<String>,
) -> Result<Agency> {
    let key = SigningKey::from_bytes(&os_random());
    let agency = Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        name,
        country: country.to_ascii_uppercase(),
        endpoint,
    };
    store.set_identity(&agency, &key).await?;
    Ok(agency)
}

/// 32 bytes from the operating system's generator. Its failing is not recoverable: this panics, as rand's `OsRng`
/// (which `SigningKey::generate` was given before) did.
fn os_random() -> [u8; 32] {
    use rand::Rng as _;
    let mut bytes = [0u8; 32];
    rand::rand_core::UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut bytes);
    bytes
}

/// Posts `body` as JSON to a partner's federation route `route`.
pub(crate) async fn post<T: serde::Serialize>(
    http: &reqwest::Client,
    endpoint: &str,
    route: &str,
    body: &T,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{endpoint}/federation/v1/{route}"))
        .json(body)
        .send()
        .await
}

/// Control records have a deterministic id per target, so the same withdrawal reaching a node
/// by two paths is one record.
fn control_id(target: Uuid, kind: &str) -> Uuid {
    Uuid::new_v5(&target, kind.as_bytes())
}
