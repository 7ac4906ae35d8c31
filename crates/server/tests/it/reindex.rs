//! The one-time re-index of blind indexes (issue 17): a subscriber whose phone digest the old hand-written rule
//! derived (it kept the trunk `0` of "+82 010-…") is found by phone once the re-index ran, its sealed phone is in the
//! new normal form, and a second run changes nothing.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use jikimi_privacy::normalise_text;
use jikimi_respond::{Actor, SubscriberId};
use jikimi_server::reindex::{JOB, reindex, reindex_once};
use jikimi_server::roles::Role;
use jikimi_store::{Change, IndexEntry, SubscriberRecord};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

async fn search(h: &Harness, token: &str, phone: &str) -> Value {
    let (status, found) = h
        .call(
            Method::POST,
            "/api/subscribers/search",
            Some(token),
            Some(json!({"phone": phone, "reason": "welfare check after the re-index", "override": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    found["ids"].clone()
}

pub async fn old_subscriber_phone_digests_are_rederived_once(h: &Harness) {
    let state = &h.state;
    let now = state.now();
    // What "+82 010-5555-7001" became under the old rule, sealed and digested as it was then.
    let old_phone = "+8201055557001";
    let name = "Kim  Old-Rule";
    let id = SubscriberId(Uuid::now_v7());
    let owner = format!("subscriber/{}", id.0);
    let seal = |field: &str, value: &str| {
        state
            .keyring
            .seal_str(&owner, field, value)
            .expect("re-index test step")
    };
    let record = SubscriberRecord {
        id,
        fields: BTreeMap::from([
            ("name".to_string(), seal("name", name)),
            ("phone".to_string(), seal("phone", old_phone)),
        ]),
        indexes: vec![
            IndexEntry {
                domain: "phone".into(),
                digest: state.blind.digest("phone", old_phone),
            },
            IndexEntry {
                domain: "name".into(),
                digest: state.blind.digest("name", &normalise_text(name)),
            },
        ],
        language: "ko".into(),
        created_at: now,
        updated_at: now,
    };
    let change = Change::new(Actor::System, now, "registered by an earlier version");
    h.store
        .put_subscriber(&record, &change)
        .await
        .expect("re-index test step");
    // A subscriber registered through today's API is already indexed the new way and is left alone.
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, registered) = h
        .call(
            Method::POST,
            "/api/subscribers",
            Some(&supervisor),
            Some(json!({"name": "Park New-Rule", "phone": "+82 010-5555-7002"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(
        search(h, &supervisor, "010-5555-7002").await,
        json!([registered["id"]])
    );

    // Today's rule reads every written form as +821055557001: the old digest is missed.
    assert_eq!(search(h, &supervisor, "+82 010-5555-7001").await, json!([]));

    let first = reindex_once(h.store.as_ref(), &state.keyring, &state.blind, now)
        .await
        .expect("re-index test step");
    assert!(first.ran);
    assert_eq!(
        (first.checked, first.changed, first.superseded, first.kept),
        (2, 1, 0, 0)
    );
    for written in ["+82 010-5555-7001", "010-5555-7001", "+82 10 5555 7001"] {
        assert_eq!(
            search(h, &supervisor, written).await,
            json!([id.0]),
            "{written}"
        );
    }
    // The sealed phone is in the new normal form; the name index was right and is kept.
    let stored = h
        .store
        .get_subscriber(id)
        .await
        .expect("re-index test step");
    let phone = state
        .keyring
        .open_str(&owner, "phone", &stored.fields["phone"])
        .expect("re-index test step");
    assert_eq!(phone, "+821055557001");
    assert!(stored.indexes.contains(&record.indexes[1]));
    assert!(!stored.indexes.contains(&record.indexes[0]));

    // Again, on demand: nothing left to change. At start: the marker says it ran.
    let second = reindex(h.store.as_ref(), &state.keyring, &state.blind, now)
        .await
        .expect("re-index test step");
    assert_eq!((second.checked, second.changed), (2, 0));
    assert_eq!(
        h.store
            .get_subscriber(id)
            .await
            .expect("re-index test step"),
        stored
    );
    let third = reindex_once(h.store.as_ref(), &state.keyring, &state.blind, now)
        .await
        .expect("re-index test step");
    assert!(!third.ran);

    let audit = h.audit().await;
    let reindexed: Vec<_> = audit
        .iter()
        .filter(|(action, ..)| action == "subscriber.reindexed")
        .collect();
    assert_eq!(reindexed.len(), 1, "{reindexed:?}");
    assert!(reindexed[0].3.contains(JOB), "{reindexed:?}");
    let completed = audit
        .iter()
        .filter(|(action, ..)| action == "maintenance.completed")
        .count();
    assert_eq!(completed, 2);
    // Nothing personal in the entries: neither form of the phone, nor the name.
    for (_, reason, _, detail) in &audit {
        for secret in ["55557001", "Old-Rule"] {
            assert!(
                !detail.contains(secret) && !reason.contains(secret),
                "{detail}"
            );
        }
    }
}
