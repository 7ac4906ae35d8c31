//! Fuzz target: the federation parser and the receiver's checks must never panic, on any bytes.
//!
//! The bytes are read as every body a partner can send (`Signed<PullRequest>`, `Page`, `Signed<Envelope>`,
//! `Signed<Receipt>`, `Signed<Notify>`), each then digested, verified and assessed as the node does. Random bytes
//! rarely carry a valid signature, so an `[Envelope, [Agreement...]]` pair is also re-signed with a known peer's key
//! and assessed against those agreements: the policy re-checks after the signature get fuzzed too.
#![no_main]

use chrono::{TimeZone as _, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{Agency, AgencyId, Agreement, Provenance};
use jikimi_exchange::protocol::{
    self, Envelope, Known, Notify, Page, PullRequest, Receipt, Signed,
};
use libfuzzer_sys::fuzz_target;

fn agency(seed: u8) -> (Agency, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (
        Agency {
            id: AgencyId::from_key(&key.verifying_key()),
            name: format!("node {seed}"),
            country: "KR".into(),
            endpoint: None,
        },
        key,
    )
}

fn assess_all(
    me: &AgencyId,
    peers: &[Agency],
    agreements: &[Agreement],
    signed: &Signed<Envelope>,
) {
    let now = Utc
        .timestamp_opt(1_780_000_000, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let _ = signed.digest();
    let _ = protocol::canonical(&signed.body);
    for known in [
        Known::default(),
        Known {
            stored: Some((1, signed.body.record.origin.clone(), Provenance::local())),
            target: Some((signed.body.record.origin.clone(), Provenance::local())),
            ..Known::default()
        },
        Known {
            withdrawn: true,
            ..Known::default()
        },
    ] {
        let _ = protocol::assess(me, peers, agreements, now, &known, signed);
    }
    let _ = signed.body.record.content();
    let _ = jikimi_exchange::stix::export_case(
        std::slice::from_ref(&signed.body.record),
        &peers[0],
        now,
    );
}

fuzz_target!(|data: &[u8]| {
    let (me, _) = agency(1);
    let (peer, peer_key) = agency(2);
    let peers = vec![me.clone(), peer.clone()];
    let now = Utc
        .timestamp_opt(1_780_000_000, 0)
        .single()
        .unwrap_or_else(Utc::now);

    if let Ok(request) = serde_json::from_slice::<Signed<PullRequest>>(data) {
        let r = &request.body;
        let _ = protocol::check_request(
            &r.requester,
            &r.responder,
            &me.id,
            r.issued_at,
            now,
            &peers,
            || request.verify(&r.requester),
        );
    }
    if let Ok(page) = serde_json::from_slice::<Page>(data) {
        for signed in &page.envelopes {
            let _ = signed.verify(&signed.body.sender);
            assess_all(&me.id, &peers, &[], signed);
        }
    }
    if let Ok(signed) = serde_json::from_slice::<Signed<Envelope>>(data) {
        assess_all(&me.id, &peers, &[], &signed);
    }
    if let Ok(receipt) = serde_json::from_slice::<Signed<Receipt>>(data) {
        let _ = receipt.verify(&receipt.body.receiver);
        let _ = receipt.digest();
    }
    if let Ok(notify) = serde_json::from_slice::<Signed<Notify>>(data) {
        let n = &notify.body;
        let _ = protocol::check_request(
            &n.sender,
            &n.recipient,
            &me.id,
            n.issued_at,
            now,
            &peers,
            || notify.verify(&n.sender),
        );
    }
    // Authentic envelopes: the fuzzed body, sent by a known peer to us and signed with its key.
    if let Ok((mut envelope, agreements)) =
        serde_json::from_slice::<(Envelope, Vec<Agreement>)>(data)
    {
        for a in &agreements {
            let _ = a.validate();
            let _ = a.is_active(now);
        }
        envelope.sender = peer.id.clone();
        envelope.recipient = me.id.clone();
        envelope.protocol = protocol::PROTOCOL.to_string();
        if let Ok(signed) = Signed::sign(envelope, &peer_key) {
            assess_all(&me.id, &peers, &agreements, &signed);
        }
    }
});
