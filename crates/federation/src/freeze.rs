//! Freeze and confiscation requests on the node: the requester resolves the jurisdiction, signs the request and
//! delivers it; the recipient checks signature, agreement, evidence and jurisdiction, keeps it and answers a signed
//! `received`; its supervisor's later statuses (frozen, refused, released) are signed, kept and delivered back.
//! Both sides keep every message (and its audit entry) through [`jikimi_exchange::store::FreezeStore`].
//!
//! Delivery is a direct signed POST to the partner's federation routes (`/federation/v1/freeze/requests`,
//! `/federation/v1/freeze/statuses`); what the partner has not acknowledged is sent again, in order, after each sync
//! with it ([`Node::redeliver_freeze`], called from `sync_peer`). Replays and retries are harmless: requests and
//! statuses are idempotent by id (and by number), so no nonce or clock window is needed.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use jikimi_exchange::domain::{Agency, RecordBody};
use jikimi_exchange::freeze::{
    self, AccountRef, Amount, Direction, Evidence, FreezeKind, FreezeRequest, FreezeState,
    FreezeStatus, HeldRequest, StatusVerdict,
};
use jikimi_exchange::protocol::{PROTOCOL, Rejection, Signed};
use jikimi_exchange::{Error, Result};

use crate::node::{Node, post};

/// What staff give to request a freeze; the node adds the recipient, agreement, legal basis and signature.
#[derive(Debug, Clone)]
pub struct NewFreeze {
    pub kind: FreezeKind,
    pub account: AccountRef,
    pub amount: Amount,
    pub evidence: Evidence,
    pub case_id: Uuid,
    pub deadline: DateTime<Utc>,
}

impl Node {
    /// Creates, stores (audited) and delivers a freeze request to the agency with jurisdiction over the account.
    /// A delivery failure is not an error: the request is held and sent again after the next sync.
    pub async fn request_freeze(&self, new: NewFreeze, now: DateTime<Utc>) -> Result<HeldRequest> {
        new.amount.validate()?;
        new.evidence.check()?;
        if new.deadline <= now {
            return Err(Error::invalid("deadline", "must be in the future"));
        }
        match self.store.record(new.case_id).await? {
            Some(s) if matches!(s.record.body, RecordBody::Case(_)) => {}
            _ => return Err(Error::not_found("case", new.case_id)),
        }
        let peers = self.store.peers().await?;
        let agreements = self.store.agreements().await?;
        let (recipient, agreement) = freeze::resolve_jurisdiction(
            &new.account,
            new.kind,
            self.id(),
            &peers,
            &agreements,
            now,
        )?;
        let legal_basis = agreement
            .freeze
            .as_ref()
            .map(|t| t.legal_basis.clone())
            .unwrap_or_default();
        let request = self.sign(FreezeRequest {
            protocol: PROTOCOL.to_string(),
            id: Uuid::now_v7(),
            kind: new.kind,
            requester: self.id().clone(),
            recipient: recipient.clone(),
            agreement: agreement.id,
            legal_basis,
            account: new.account,
            amount: new.amount,
            evidence: new.evidence,
            case_id: new.case_id,
            deadline: new.deadline,
            issued_at: now,
        })?;
        self.store
            .put_freeze_request(Direction::Outgoing, &request)
            .await?;
        if let Some(peer) = peers.iter().find(|p| p.id == recipient)
            && let Err(e) = self.deliver_request(peer, &request).await
        {
            tracing::warn!(peer = %peer.name, error = %e, "freeze request not delivered yet");
        }
        self.held_freeze(request.body.id).await
    }

    /// A request held here with its statuses ([`Error::NotFound`] otherwise).
    pub async fn held_freeze(&self, id: Uuid) -> Result<HeldRequest> {
        self.store
            .freeze_request(id)
            .await?
            .ok_or_else(|| Error::not_found("freeze request", id))
    }

    /// Posts a request to its recipient; the answer is the recipient's signed `received`, kept like any status.
    async fn deliver_request(&self, peer: &Agency, request: &Signed<FreezeRequest>) -> Result<()> {
        let answer: Signed<FreezeStatus> = self.send(peer, "freeze/requests", request).await?;
        self.accept_freeze_status(&answer).await?;
        self.store
            .mark_freeze_delivered(request.body.id, None)
            .await
    }

    /// Posts `body` to a partner's federation route and reads the JSON answer (204: `null`).
    pub(crate) async fn send<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        peer: &Agency,
        route: &str,
        body: &T,
    ) -> Result<R> {
        let t = |reason: String| Error::Transport {
            peer: peer.name.clone(),
            reason,
        };
        let endpoint = peer
            .endpoint
            .as_deref()
            .ok_or_else(|| t("no endpoint".into()))?;
        let response = post(&self.http, endpoint, route, body)
            .await
            .map_err(|e| t(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(t(format!("{route} answered {status}: {text}")));
        }
        let bytes = response.bytes().await.map_err(|e| t(e.to_string()))?;
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| t(format!("bad answer: {e}")))
    }

    /// The recipient's side: a partner's signed request. The requester must be a known peer and the signature
    /// valid; the agreement, evidence and jurisdiction must check (refusals audited). The request is kept and
    /// answered with our signed `received` (a request held already is answered with the `received` we issued).
    pub async fn accept_freeze_request(
        &self,
        request: &Signed<FreezeRequest>,
        now: DateTime<Utc>,
    ) -> Result<Signed<FreezeStatus>> {
        let r = &request.body;
        let peers = self.store.peers().await?;
        let agreements = self.store.agreements().await?;
        let checked = if !peers.iter().any(|p| p.id == r.requester) {
            Err(Rejection::UnknownSender)
        } else {
            request
                .verify(&r.requester)
                .and_then(|_| freeze::check_request(&self.me, &peers, &agreements, now, r))
        };
        self.refuse_audited(checked, "freeze_rejected", &r.requester)
            .await?;
        self.store
            .put_freeze_request(Direction::Incoming, request)
            .await?;
        let held = self.held_freeze(r.id).await?;
        if let Some(first) = held.statuses.first() {
            return Ok(first.status.clone());
        }
        let received = self.issue_status(&held, FreezeState::Received, now)?;
        self.store.put_freeze_status(&received).await?;
        // Delivered in the answer to this call; a lost answer brings the request again, answered the same.
        self.store
            .mark_freeze_delivered(r.id, Some(received.body.seq))
            .await?;
        Ok(received)
    }

    /// Our next status for an incoming request, signed and checked against the timeline held.
    fn issue_status(
        &self,
        held: &HeldRequest,
        state: FreezeState,
        now: DateTime<Utc>,
    ) -> Result<Signed<FreezeStatus>> {
        if held.direction != Direction::Incoming {
            return Err(Error::Denied(
                "only the agency a request was sent to records its status".into(),
            ));
        }
        let r = &held.request.body;
        let status = self.sign(FreezeStatus {
            protocol: PROTOCOL.to_string(),
            request: r.id,
            seq: held.statuses.last().map_or(1, |s| s.status.body.seq + 1),
            issuer: self.id().clone(),
            requester: r.requester.clone(),
            at: now,
            state,
        })?;
        let timeline = timeline(held);
        freeze::check_status(r, &timeline, &status.body, &status.digest()?)?;
        Ok(status)
    }

    /// Records a status of an incoming request (frozen with an amount, refused with a reason, released), signed by
    /// us, kept (audited) and delivered to the requester (again after each sync until it acknowledges).
    pub async fn record_freeze_status(
        &self,
        id: Uuid,
        state: FreezeState,
        now: DateTime<Utc>,
    ) -> Result<HeldRequest> {
        let held = self.held_freeze(id).await?;
        let status = self.issue_status(&held, state, now)?;
        self.store.put_freeze_status(&status).await?;
        let requester = held.request.body.requester.clone();
        if let Some(peer) = self
            .store
            .peers()
            .await?
            .into_iter()
            .find(|p| p.id == requester)
            && let Err(e) = self.deliver_status(&peer, &status).await
        {
            tracing::warn!(peer = %peer.name, error = %e, "freeze status not delivered yet");
        }
        self.held_freeze(id).await
    }

    async fn deliver_status(&self, peer: &Agency, status: &Signed<FreezeStatus>) -> Result<()> {
        let _: Option<serde_json::Value> = self.send(peer, "freeze/statuses", status).await?;
        self.store
            .mark_freeze_delivered(status.body.request, Some(status.body.seq))
            .await
    }

    /// The requester's side: a status of one of our requests, signed by its recipient. Checked (known peer,
    /// signature, the request's recipient, numbered next, a valid transition; refusals audited) and kept; a status
    /// held already is accepted again without change.
    pub async fn accept_freeze_status(&self, status: &Signed<FreezeStatus>) -> Result<()> {
        let s = &status.body;
        let peers = self.store.peers().await?;
        let checked = if !peers.iter().any(|p| p.id == s.issuer) {
            Err(Rejection::UnknownSender)
        } else if &s.requester != self.id() {
            Err(Rejection::WrongRecipient)
        } else {
            status.verify(&s.issuer)
        };
        let digest = self
            .refuse_audited(checked, "freeze_status_rejected", &s.issuer)
            .await?;
        let held = match self.store.freeze_request(s.request).await? {
            Some(h) if h.direction == Direction::Outgoing => h,
            _ => return Err(Error::not_found("freeze request", s.request)),
        };
        let verdict = freeze::check_status(&held.request.body, &timeline(&held), s, &digest);
        match verdict {
            Ok(StatusVerdict::Duplicate) => Ok(()),
            Ok(StatusVerdict::Next) => {
                self.store.put_freeze_status(status).await?;
                Ok(())
            }
            Err(e) => {
                self.store
                    .audit(
                        "freeze_status_rejected",
                        Some(&s.issuer),
                        Some(s.request),
                        &e.to_string(),
                    )
                    .await?;
                Err(e)
            }
        }
    }

    /// Sends `peer` what it has not acknowledged: our requests to it, then our statuses for its requests, in order.
    pub async fn redeliver_freeze(&self, peer: &Agency) -> Result<()> {
        for held in self.store.freeze_requests().await?.into_iter().rev() {
            let r = &held.request.body;
            match held.direction {
                Direction::Outgoing if r.recipient == peer.id && !held.delivered => {
                    self.deliver_request(peer, &held.request).await?;
                }
                Direction::Incoming if r.requester == peer.id => {
                    for s in held.statuses.iter().filter(|s| !s.delivered) {
                        self.deliver_status(peer, &s.status).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Every freeze request held here (newest first), or those in one direction.
    pub async fn freeze_list(&self, direction: Option<Direction>) -> Result<Vec<HeldRequest>> {
        Ok(self
            .store
            .freeze_requests()
            .await?
            .into_iter()
            .filter(|h| direction.is_none_or(|d| h.direction == d))
            .collect())
    }
}

/// The statuses held for a request with their digests, in order.
fn timeline(held: &HeldRequest) -> Vec<(FreezeStatus, jikimi_exchange::identifiers::Sha256Hex)> {
    held.statuses
        .iter()
        .map(|s| (s.status.body.clone(), s.digest.clone()))
        .collect()
}
