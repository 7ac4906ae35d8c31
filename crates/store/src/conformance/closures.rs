//! Road closures (issue 20): closed and reopened with their audit entries, told to commit observers, listed in
//! force or all; an unknown id is not found and a second reopen a conflict that changes nothing.

use super::{TestStore, staff_change, t};
use crate::{ChangeSet, CommitObserver, Committed, Conflict, Entity, Error, RoadClosureRecord};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Told(Mutex<Vec<Committed>>);

impl CommitObserver for Told {
    fn committed(&self, changes: &ChangeSet) {
        self.0
            .lock()
            .unwrap()
            .extend(changes.changes().iter().cloned());
    }
}

fn closure(i: u128, ms: i64) -> RoadClosureRecord {
    RoadClosureRecord {
        id: uuid::Uuid::from_u128(i),
        closed_at: t(ms),
        closed_by: "disp".into(),
        reason: format!("bridge {i}"),
        geometry: r#"{"type":"Point","coordinates":[24.94,60.17]}"#.into(),
        reopened_at: None,
        reopened_by: None,
    }
}

pub(crate) async fn road_closures_are_audited_told_and_reopened_once<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let told = Arc::new(Told::default());
    store.observe_commits(told.clone());
    assert!(store.list_road_closures(true).await.unwrap().is_empty());
    let (a, b) = (closure(1, 2_000), closure(2, 1_000));
    for c in [&a, &b] {
        store
            .close_road(c, &staff_change("disp", 0, "closed"))
            .await
            .unwrap();
    }
    assert_eq!(
        store.list_road_closures(false).await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    let reopened = store
        .reopen_road(a.id, "sup", &staff_change("sup", 5_000, "cleared"))
        .await
        .unwrap();
    assert_eq!(reopened.reopened_at, Some(t(5_000)));
    assert_eq!(reopened.reopened_by.as_deref(), Some("sup"));
    assert_eq!(
        store.list_road_closures(false).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        store.list_road_closures(true).await.unwrap(),
        vec![b.clone(), reopened.clone()]
    );
    assert!(matches!(
        store
            .reopen_road(a.id, "sup", &staff_change("sup", 6_000, "again"))
            .await,
        Err(Error::Conflict(Conflict::AlreadyReopened))
    ));
    assert!(matches!(
        store
            .reopen_road(
                uuid::Uuid::from_u128(9),
                "sup",
                &staff_change("sup", 6_000, "?")
            )
            .await,
        Err(Error::NotFound {
            entity: Entity::RoadClosure,
            ..
        })
    ));
    let mut bad = closure(3, 0);
    bad.geometry = "not json".into();
    assert!(matches!(
        store.close_road(&bad, &staff_change("disp", 0, "x")).await,
        Err(Error::Invalid(_))
    ));
    assert!(
        store
            .close_road(&a, &staff_change("disp", 0, "again"))
            .await
            .is_err()
    );
    assert_eq!(
        *told.0.lock().unwrap(),
        vec![
            Committed::RoadClosure(a.id),
            Committed::RoadClosure(b.id),
            Committed::RoadClosure(a.id)
        ]
    );
    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action.starts_with("road."))
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("road.closed", "staff:disp"),
            ("road.closed", "staff:disp"),
            ("road.reopened", "staff:sup")
        ]
    );
}
