//! The federation protocol between in-process nodes on real SQLite files, without a network:
//! pages and receipts are handed over as values, exactly as the HTTP layer would.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use jikimi_exchange::domain::{FieldClass, RecordBody};
use jikimi_exchange::marking::HandlingCode;
use jikimi_exchange::protocol::Page;
use uuid::Uuid;

use crate::support::*;

async fn actions(n: &TestNode, action: &str) -> Vec<jikimi_exchange::store::AuditEntry> {
    n.store
        .audit_log()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

#[tokio::test]
async fn bilateral_all_fields_multilateral_no_personal_fields_and_a_lead_back() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = meshed(dir.path()).await;
    let ab = share(&[&a, &b], all_fields(), false).await;
    let abc = share(&[&a, &b, &c], FieldClass::all_non_personal(), false).await;

    let case = scam_case(&a, amber(), "compound").await;
    assert_eq!(pull(&a, &b).await.applied, 1);
    assert_eq!(pull(&a, &c).await.applied, 1);

    let at_b = b.store.record(case.id).await.unwrap().unwrap();
    assert_eq!(at_b.record.content().unwrap().field_classes(), all_fields());
    assert_eq!(at_b.provenance.received_under, Some(ab.id));
    let at_c = c.store.record(case.id).await.unwrap().unwrap();
    let classes = at_c.record.content().unwrap().field_classes();
    assert!(classes.iter().all(|f| !f.is_personal()), "{classes:?}");
    assert!(at_c.record.redacted.contains(&FieldClass::Phone));
    // On C's database itself: no personal value anywhere in the stored bodies.
    let raw = c.db.exchange_raw_bodies().await.unwrap().join("\n");
    assert!(
        !raw.contains(PHONE) && !raw.contains(IBAN) && !raw.contains("Kim Minsu"),
        "{raw}"
    );

    // B's lead flows back to A (and to C without personal fields).
    let lead = b
        .add_lead(case.id, amber(), scam_content("second wallet"), Utc::now())
        .await
        .unwrap();
    assert_eq!(pull(&b, &a).await.applied, 1);
    let at_a = a.store.record(lead.id).await.unwrap().unwrap();
    assert!(matches!(at_a.record.body, RecordBody::Lead(ref l) if l.case_id == case.id));

    // Every disclosure is audited on both sides with its agreement, and linked to a receipt.
    let disclosed = actions(&a, "disclosed").await;
    assert!(
        disclosed
            .iter()
            .any(|e| e.agreement.as_deref() == Some(&ab.id.to_string()))
    );
    assert!(
        disclosed
            .iter()
            .any(|e| e.agreement.as_deref() == Some(&abc.id.to_string()))
    );
    let received = actions(&b, "received").await;
    assert!(
        received
            .iter()
            .any(|e| e.agreement.as_deref() == Some(&ab.id.to_string()))
    );
    let (n, with_receipt) = a.store.disclosure_counts(b.id()).await.unwrap();
    assert_eq!((n, with_receipt), (1, 1));
    assert!(!actions(&a, "receipt_received").await.is_empty());

    // Idempotent: pulling again changes nothing.
    let again = pull(&a, &b).await;
    assert_eq!(again.applied, 0);

    // Disclosures and receipts are in each node's one spine audit chain, which verifies.
    for n in [&a, &b, &c] {
        let entries = jikimi_store::verify_audit(n.db.as_ref()).await.unwrap();
        assert!(entries as usize >= n.store.audit_log().await.unwrap().len());
    }
}

#[tokio::test]
async fn tampered_and_replayed_envelopes_are_rejected_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = meshed(dir.path()).await;
    share(&[&a, &b], FieldClass::all_non_personal(), false).await;
    let case = scam_case(&a, amber(), "x").await;

    let now = Utc::now();
    let req = b.sign(pull_request(b.id(), a.id(), 0, 10, now)).unwrap();
    let page = a.serve_pull(&req, now).await.unwrap();
    assert_eq!(page.envelopes.len(), 1);
    // A replayed pull request (an eavesdropper fetching B's page again) is refused.
    let replayed = a.serve_pull(&req, now).await.unwrap_err().to_string();
    assert!(replayed.contains("replay"), "{replayed}");

    // Tamper: B (or a man in the middle) adds a phone number the agreement never allowed.
    let mut tampered = page.clone();
    if let Some(c) = tampered.envelopes[0].body.record.content_mut() {
        c.title = "changed on the way".into();
    }
    let pushed = Page {
        next_cursor: 0,
        more: false,
        ..tampered
    };
    let (_, stats) = b.accept_page(a.id(), &pushed, false, now).await.unwrap();
    assert_eq!(stats.rejected, 1);
    assert!(b.store.record(case.id).await.unwrap().is_none());
    assert!(
        actions(&b, "rejected")
            .await
            .iter()
            .any(|e| e.detail.contains("bad_signature"))
    );

    // The genuine page applies; replaying it is rejected and audited.
    let (_, ok) = b.accept_page(a.id(), &page, true, now).await.unwrap();
    assert_eq!(ok.applied, 1);
    let (_, replay) = b.accept_page(a.id(), &page, false, now).await.unwrap();
    assert_eq!((replay.applied, replay.rejected), (0, 1));
    assert!(
        actions(&b, "rejected")
            .await
            .iter()
            .any(|e| e.detail.contains("replay"))
    );

    // A pull request signed by a stranger is refused and audited.
    let stranger = node(dir.path(), "s", "XX").await;
    let req = stranger
        .sign(pull_request(stranger.id(), a.id(), 0, 10, now))
        .unwrap();
    assert!(a.serve_pull(&req, now).await.is_err());
    assert!(!actions(&a, "pull_rejected").await.is_empty());
    // A request with a forged requester (signed by someone else) fails the signature.
    let forged = stranger
        .sign(pull_request(b.id(), a.id(), 0, 10, now))
        .unwrap();
    assert!(a.serve_pull(&forged, now).await.is_err());

    // The receiver re-enforces the agreement: an envelope validly signed by A but carrying a
    // personal field the cited agreement does not allow is rejected.
    let mut leaky = page.envelopes[0].body.clone();
    leaky.nonce = Uuid::new_v4();
    leaky.record.version = 9;
    leaky.record.content_mut().unwrap().entities = scam_content("y").entities;
    let signed = a.sign(leaky).unwrap();
    let (_, s) = b
        .accept_page(
            a.id(),
            &Page {
                envelopes: vec![signed],
                next_cursor: 0,
                more: false,
            },
            false,
            now,
        )
        .await
        .unwrap();
    assert_eq!(s.rejected, 1);
    assert!(
        actions(&b, "rejected")
            .await
            .iter()
            .any(|e| e.detail.contains("fields not allowed"))
    );
}

#[tokio::test]
async fn revocation_and_expiry_stop_the_flow() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = meshed(dir.path()).await;
    let mut ab = share(&[&a, &b], all_fields(), false).await;
    scam_case(&a, amber(), "one").await;
    assert_eq!(pull(&a, &b).await.applied, 1);

    ab.revoked_at = Some(Utc::now());
    a.store.put_agreement(&ab).await.unwrap();
    let second = scam_case(&a, amber(), "two").await;
    assert_eq!(pull(&a, &b).await.envelopes, 0);
    assert!(b.store.record(second.id).await.unwrap().is_none());

    // Even if the sender still thinks the agreement is live, the receiver that revoked refuses.
    let (a2, b2) = (
        node(dir.path(), "a2", "KR").await,
        node(dir.path(), "b2", "TH").await,
    );
    mesh(&[&a2, &b2]).await;
    let mut live = agreement(&[&a2, &b2], all_fields(), false);
    a2.store.put_agreement(&live).await.unwrap();
    live.revoked_at = Some(Utc::now() - Duration::seconds(1));
    b2.store.put_agreement(&live).await.unwrap();
    scam_case(&a2, amber(), "three").await;
    let s = pull(&a2, &b2).await;
    assert_eq!((s.applied, s.rejected), (0, 1));
}

#[tokio::test]
async fn withdrawal_and_restriction_propagate_across_hops() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = meshed(dir.path()).await;
    // A→B bilateral with onward sharing; the multilateral one includes A, so B may pass A's
    // records on to C under it (non-personal fields only). C never pulls from A directly here.
    share(&[&a, &b], all_fields(), true).await;
    share(&[&a, &b, &c], FieldClass::all_non_personal(), false).await;
    let case = scam_case(&a, amber(), "hop").await;
    pull(&a, &b).await;
    assert_eq!(pull(&b, &c).await.applied, 1);
    let at_c = c.store.record(case.id).await.unwrap().unwrap();
    assert_eq!(at_c.provenance.received_from.as_ref(), Some(b.id()));
    assert!(
        at_c.record
            .content()
            .unwrap()
            .field_classes()
            .iter()
            .all(|f| !f.is_personal())
    );

    // Restriction at A: drop wallets and websites, tighten to H1, everywhere.
    let remove: BTreeSet<FieldClass> = [FieldClass::CryptoWallet, FieldClass::Website]
        .into_iter()
        .collect();
    let m = handled(HandlingCode::H1);
    a.restrict(case.id, remove.clone(), m, Utc::now())
        .await
        .unwrap();
    pull(&a, &b).await;
    pull(&b, &c).await;
    for n in [&a, &b, &c] {
        let r = n.store.record(case.id).await.unwrap().unwrap().record;
        assert!(r.content().unwrap().field_classes().is_disjoint(&remove));
        assert_eq!(r.marking.handling, HandlingCode::H1);
    }

    // Withdrawal at A: gone at B, and at C through B.
    a.withdraw(case.id, "withdrawn by the provider", Utc::now())
        .await
        .unwrap();
    pull(&a, &b).await;
    pull(&b, &c).await;
    for n in [&a, &b, &c] {
        assert!(n.store.record(case.id).await.unwrap().is_none());
    }
    // A late copy of the old version (e.g. a delayed path) cannot resurrect it.
    assert!(
        c.db.exchange_raw_bodies()
            .await
            .unwrap()
            .iter()
            .all(|b| !b.contains("\"kind\":\"case\""))
    );
}

#[tokio::test]
async fn handling_codes_are_enforced_by_the_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = meshed(dir.path()).await;
    share(&[&a, &b], all_fields(), true).await;
    share(&[&a, &b, &c], all_fields(), true).await;
    let h1 = handled(HandlingCode::H1);
    let case_h1 = scam_case(&a, h1, "h1").await;
    let h2 = handled(HandlingCode::H2);
    let case_h2 = scam_case(&a, h2, "h2").await;
    let case_h0 = scam_case(&a, amber(), "h0").await;
    pull(&a, &b).await;

    // H1 at the receiver: not into a court bundle (refused and audited); H0 is fine. The owner
    // itself may always use its own record.
    let err = b.court_bundle(case_h1.id).await.unwrap_err().to_string();
    assert!(err.contains("court"), "{err}");
    assert!(!actions(&b, "court_export_denied").await.is_empty());
    assert!(b.court_bundle(case_h0.id).await.is_ok());
    assert!(a.court_bundle(case_h1.id).await.is_ok());

    // H2: B may not pass it on, even under an onward-sharing agreement; H1 may go on.
    pull(&b, &c).await;
    assert!(c.store.record(case_h2.id).await.unwrap().is_none());
    assert!(c.store.record(case_h1.id).await.unwrap().is_some());
}

#[tokio::test]
async fn interrupted_sync_resumes_without_duplicates_or_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = meshed(dir.path()).await;
    share(&[&a, &b], all_fields(), false).await;
    let case = scam_case(&a, amber(), "bulk").await;
    for i in 0..249 {
        a.add_lead(
            case.id,
            amber(),
            jikimi_exchange::domain::Content {
                title: format!("lead {i}"),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    }
    let now = Utc::now();
    // "Crash" after three pages of 40: what was committed stays, the cursor says where.
    let first = pull_pages(&a, &b, 40, 3, now).await;
    assert_eq!(first.applied, 120);
    // Reopen B's database as a restarted process would.
    drop(b);
    let b = reopen(dir.path(), "b").await;
    let rest = pull_pages(&a, &b, 40, usize::MAX, now).await;
    assert_eq!(rest.applied, 130);
    assert_eq!(rest.duplicates, 0);
    assert_eq!(b.store.records().await.unwrap().len(), 250);
    // Nothing was sent twice: A disclosed exactly 250 envelopes to B, all with receipts.
    assert_eq!(a.store.disclosure_counts(b.id()).await.unwrap(), (250, 250));
}

#[tokio::test]
async fn push_notification_triggers_a_pull_and_a_receipt_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let la = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut a = node(dir.path(), "a", "KR").await;
    let mut b = node(dir.path(), "b", "TH").await;
    a.me.endpoint = Some(format!("http://{}", la.local_addr().unwrap()));
    b.me.endpoint = Some(format!("http://{}", lb.local_addr().unwrap()));
    mesh(&[&a, &b]).await;
    share(&[&a, &b], all_fields(), false).await;
    serve_federation(&a, la);
    serve_federation(&b, lb);

    let case = scam_case(&a, amber(), "pushed").await;
    assert_eq!(a.notify_peers().await.unwrap(), 1);
    let start = std::time::Instant::now();
    // B pulls on the notification and answers with a signed receipt that A links to its disclosure.
    while a.store.disclosure_counts(b.id()).await.unwrap() != (1, 1) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no pull/receipt after notify"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(b.store.record(case.id).await.unwrap().is_some());
}

#[tokio::test]
async fn only_the_owner_can_withdraw() {
    use jikimi_exchange::domain::{Record, RecordBody};
    use jikimi_exchange::protocol::{Envelope, PROTOCOL};
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = meshed(dir.path()).await;
    share(&[&a, &b, &c], all_fields(), true).await;
    let case = scam_case(&a, amber(), "owned").await;
    pull(&a, &c).await;
    let forge = |origin: &jikimi_exchange::domain::AgencyId| {
        let record = Record {
            id: Uuid::new_v4(),
            version: 1,
            origin: origin.clone(),
            category: case.category,
            marking: case.marking,
            updated_at: Utc::now(),
            redacted: BTreeSet::new(),
            body: RecordBody::Withdrawal {
                target: case.id,
                reason: "forged".into(),
            },
        };
        let env = Envelope {
            protocol: PROTOCOL.into(),
            sender: b.id().clone(),
            recipient: c.id().clone(),
            seq: 1,
            nonce: Uuid::new_v4(),
            issued_at: Utc::now(),
            agreement: None,
            purpose: None,
            record,
        };
        Page {
            envelopes: vec![b.sign(env).unwrap()],
            next_cursor: 0,
            more: false,
        }
    };
    // B claims the withdrawal as its own: rejected, audited.
    let (_, s) = c
        .accept_page(b.id(), &forge(b.id()), false, Utc::now())
        .await
        .unwrap();
    assert_eq!(s.rejected, 1);
    assert!(
        actions(&c, "rejected")
            .await
            .iter()
            .any(|e| e.detail.contains("not_owner"))
    );
    // B pretends to relay A's withdrawal, but C got the case from A, not B: nothing changes.
    c.accept_page(b.id(), &forge(a.id()), false, Utc::now())
        .await
        .unwrap();
    assert!(c.store.record(case.id).await.unwrap().is_some());
}
