//! Referrals from another CAD (issue 21): an incident opened without a device, once per external id, even when
//! the same referral is imported again or twice at once; its first event and audit entry name the referrer.

use super::{TestStore, seoul, staff_change, t};
use crate::{IncidentFilter, NewReferral, verify_audit};
use jikimi_respond::{DeviceId, EventKind, FixMethod, IncidentId, LocationFix, Priority};

fn referral(external_id: &str) -> NewReferral {
    NewReferral {
        incident_id: IncidentId::new_v7(),
        external_id: external_id.to_owned(),
        from_agency: "busan.police.example".into(),
        from_element: "jikimi.busan.police.example".into(),
        incident_type: Some("Police".into()),
        priority: Priority::new(1).expect("priority"),
        fix: Some(LocationFix::new(seoul(), 30.0, FixMethod::Unknown, t(0)).expect("fix")),
        address: Some("Sejong-daero 110, Seoul".into()),
    }
}

pub(crate) async fn referral_opens_one_incident_per_external_id<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let first = referral("urn:emergency:uid:incidentid:a:busan");
    let opened = store
        .open_referral(&first, &staff_change("kim", 10, "referral"))
        .await
        .unwrap();
    assert!(!opened.duplicate);
    assert_eq!(opened.incident.id, first.incident_id);
    assert_eq!(opened.incident.device_id, DeviceId(uuid::Uuid::nil()));
    assert_eq!(opened.incident.priority.code(), 1);
    assert_eq!(opened.incident.location, first.fix);

    // The same external id again, with another proposed incident id: the first incident, nothing written.
    let n_audit = store.list_audit(0, 1_000).await.unwrap().len();
    let again = store
        .open_referral(
            &referral("urn:emergency:uid:incidentid:a:busan"),
            &staff_change("lee", 20, "referral"),
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.incident, opened.incident);
    assert_eq!(store.list_audit(0, 1_000).await.unwrap().len(), n_audit);

    let events = store.load_events(first.incident_id).await.unwrap();
    assert_eq!(events.len(), 1);
    match &events[0].kind {
        EventKind::Referred {
            from_agency,
            external_id,
            ..
        } => {
            assert_eq!(from_agency, "busan.police.example");
            assert_eq!(external_id, "urn:emergency:uid:incidentid:a:busan");
        }
        other => panic!("first event must be referred: {other:?}"),
    }
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let referred: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "incident.referred")
        .collect();
    assert_eq!(referred.len(), 1);
    assert_eq!(
        referred[0].subject,
        format!("incident/{}", first.incident_id)
    );
    verify_audit(&store).await.unwrap();

    // A referral is an ordinary incident from then on: listed, and it survives a projection rebuild.
    let listed = store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![opened.incident.clone()]);
    store.rebuild_projections().await.unwrap();
    assert_eq!(
        store.get_incident(first.incident_id).await.unwrap(),
        opened.incident
    );
}

pub(crate) async fn concurrent_referrals_of_one_external_id_open_one_incident<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let (a, b) = (
        referral("urn:emergency:uid:incidentid:b:busan"),
        referral("urn:emergency:uid:incidentid:b:busan"),
    );
    let (ca, cb) = (
        staff_change("kim", 10, "referral"),
        staff_change("lee", 10, "referral"),
    );
    let (ra, rb) = tokio::join!(store.open_referral(&a, &ca), store.open_referral(&b, &cb));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.incident.id, rb.incident.id);
    assert_eq!(
        [ra.duplicate, rb.duplicate].iter().filter(|d| **d).count(),
        1
    );
    assert_eq!(
        store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}
