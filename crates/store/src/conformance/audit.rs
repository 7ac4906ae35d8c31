//! The audit log: every change audited in its own transaction's chain; tampering detected.

use super::{TestStore, accept_one, alert, staff_change, t};
use crate::{Error, verify_audit};
use jikimi_audit::{AuditError, NewAuditEntry};
use jikimi_respond::{DeviceId, EventKind, Unit, UnitId, UnitStatus};

/// Changes of every kind append entries with actor, time and reason; the chain verifies.
pub(crate) async fn every_change_is_audited_and_the_chain_verifies<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 10, "took the call"),
        )
        .await
        .unwrap();
    let unit = Unit {
        id: UnitId::new("P-1"),
        status: UnitStatus::Available,
        position: None,
        reported_at: None,
        unit_type: jikimi_respond::UnitType::Police,
        capabilities: Default::default(),
    };
    store
        .put_unit(&unit, &staff_change("admin", 20, "new car"))
        .await
        .unwrap();
    store
        .set_unit_status(
            &unit.id,
            UnitStatus::OffDuty,
            &staff_change("kim", 30, "shift end"),
        )
        .await
        .unwrap();
    let seqs = store
        .append_audit(vec![NewAuditEntry::new(
            t(40).as_unix_ms(),
            "staff:kim",
            "subscriber.read",
            "subscriber/x",
            "call",
        )])
        .await
        .unwrap();
    assert_eq!(seqs, [5]);
    let entries = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "alert.received",
            "incident.acknowledged",
            "unit.saved",
            "unit.status",
            "subscriber.read"
        ]
    );
    assert_eq!(entries[1].actor, "staff:kim");
    assert_eq!(entries[1].reason, "took the call");
    assert_eq!(entries[1].at_unix_ms, t(10).as_unix_ms());
    assert_eq!(verify_audit(&store).await.unwrap(), 5);
    // Paging.
    let page = store.list_audit(2, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
}

/// A row changed with raw SQL makes verification fail at exactly that seq.
pub(crate) async fn tampered_audit_row_is_detected_at_its_seq<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    for i in 0..5 {
        accept_one(&store, alert(DeviceId::new_v4(), i)).await;
    }
    assert_eq!(verify_audit(&store).await.unwrap(), 5);
    store.tamper_audit_reason(3).await;
    let err = verify_audit(&store).await.unwrap_err();
    assert!(
        matches!(err, Error::Tampered(AuditError::Tampered { seq: 3, .. })),
        "{err}"
    );
}
