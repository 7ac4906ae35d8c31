//! Public warnings (issue 21): stored with their audit entry, listed newest first, a non-JSON body refused.

use super::{TestStore, staff_change, t};
use crate::WarningRecord;

pub(crate) async fn warnings_are_listed_newest_first_and_audited<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    assert!(store.list_warnings(10).await.unwrap().is_empty());
    let mut issued = Vec::new();
    for (i, ms) in [(1u128, 2_000), (2, 1_000), (3, 3_000)] {
        let w = WarningRecord {
            id: uuid::Uuid::from_u128(i),
            issued_at: t(ms),
            body: format!("{{\"headline\":\"warning {i}\"}}"),
        };
        store
            .issue_warning(&w, &staff_change("sup", ms, "flood"))
            .await
            .unwrap();
        issued.push(w);
    }
    let listed = store.list_warnings(10).await.unwrap();
    assert_eq!(
        listed,
        vec![issued[2].clone(), issued[0].clone(), issued[1].clone()]
    );
    assert_eq!(
        store.list_warnings(1).await.unwrap(),
        vec![issued[2].clone()]
    );
    let audit = store.list_audit(0, 100).await.unwrap();
    let warned: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "warning.issued")
        .collect();
    assert_eq!(warned.len(), 3);
    assert_eq!(
        warned[0].subject,
        format!("warning/{}", uuid::Uuid::from_u128(1))
    );
    assert_eq!(warned[0].actor, "staff:sup");

    let bad = WarningRecord {
        id: uuid::Uuid::from_u128(9),
        issued_at: t(0),
        body: "not json".into(),
    };
    assert!(matches!(
        store
            .issue_warning(&bad, &staff_change("sup", 0, "x"))
            .await,
        Err(crate::Error::Invalid(_))
    ));
    assert!(
        store
            .issue_warning(&issued[0], &staff_change("sup", 0, "again"))
            .await
            .is_err()
    );
    assert_eq!(store.list_warnings(10).await.unwrap().len(), 3);
}
