//! One-time maintenance (issue 17): re-derived blind indexes and sealed fields applied in one audited transaction
//! with the job's marker; a subscriber saved since it was read is left alone.

use super::{TestStore, staff_change, t};
use crate::{IndexEntry, Reindexed};
use jikimi_privacy::BlindDigest;
use jikimi_respond::SubscriberId;
use std::collections::BTreeMap;

use super::registration::{keyring, sealed_subscriber};

const JOB: &str = "test-job/v1";

fn phone_index(byte: u8) -> IndexEntry {
    IndexEntry {
        domain: "phone".into(),
        digest: BlindDigest([byte; 32]),
    }
}

pub(crate) async fn reindex_rewrites_digests_once_under_a_marker<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    assert!(!store.maintenance_done(JOB).await.unwrap());
    let a = SubscriberId(uuid::Uuid::now_v7());
    let b = SubscriberId(uuid::Uuid::now_v7());
    for (id, phone) in [(a, "010-1111-0001"), (b, "010-1111-0002")] {
        let mut record = sealed_subscriber(id, "Kim", phone);
        record.indexes = vec![phone_index(1)];
        let change = staff_change("admin", 0, "registered");
        store.put_subscriber(&record, &change).await.unwrap();
    }
    assert_eq!(store.subscriber_ids().await.unwrap(), vec![a, b]);

    let resealed = keyring()
        .seal_str(&format!("subscriber/{a}"), "phone", "+821011110001")
        .unwrap();
    let rows = vec![
        Reindexed {
            id: a,
            read_updated_at: t(0),
            fields: BTreeMap::from([("phone".to_string(), resealed.clone())]),
            indexes: vec![phone_index(2)],
        },
        // Read before a save that came in meanwhile: left alone.
        Reindexed {
            id: b,
            read_updated_at: t(-1),
            fields: BTreeMap::new(),
            indexes: vec![phone_index(3)],
        },
    ];
    let change = staff_change("system", 10, "re-derived");
    let applied = store.apply_reindex(JOB, rows, 2, &change).await.unwrap();
    assert_eq!((applied.changed, applied.superseded), (1, 1));
    assert!(store.maintenance_done(JOB).await.unwrap());
    assert!(!store.maintenance_done("another-job").await.unwrap());

    let digest = |byte| BlindDigest([byte; 32]);
    assert_eq!(
        store.find_subscribers("phone", &digest(2)).await.unwrap(),
        vec![a]
    );
    assert_eq!(
        store.find_subscribers("phone", &digest(1)).await.unwrap(),
        vec![b]
    );
    assert!(
        store
            .find_subscribers("phone", &digest(3))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = store.get_subscriber(a).await.unwrap();
    assert_eq!(stored.fields["phone"], resealed);
    // Other sealed fields are untouched; the record is marked changed.
    assert_eq!(stored.fields.len(), 5);
    assert_eq!(stored.updated_at, t(10));

    // A second run with nothing to change keeps the marker and changes no row.
    let again = store
        .apply_reindex(JOB, Vec::new(), 2, &staff_change("system", 20, "again"))
        .await
        .unwrap();
    assert_eq!((again.changed, again.superseded), (0, 0));
    assert_eq!(store.get_subscriber(a).await.unwrap(), stored);

    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action != "subscriber.saved")
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    let subject = format!("subscriber/{a}");
    assert_eq!(
        actions,
        vec![
            ("subscriber.reindexed", subject.as_str()),
            ("maintenance.completed", "maintenance/test-job/v1"),
            ("maintenance.completed", "maintenance/test-job/v1"),
        ]
    );
    crate::verify_audit(&store).await.unwrap();
}
