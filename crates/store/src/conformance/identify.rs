//! Identify (issue 19): the bank lifecycle on both backends: banks with their rules, content added, disabled
//! (kept) and re-enabled, paged for the index, lookups with their matches, reviews, quarantine, an
//! exchange-backed bank read-only, every change audited and told to commit observers.

use super::{TestStore, staff_change};
use crate::identify::{
    LOCAL_ORIGIN, LookupRecord, NewBank, NewContent, NewMatch, SignalType, Verdict,
};
use crate::{ChangeSet, CommitObserver, Committed, Conflict, Entity, Error};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

#[derive(Default)]
struct Seen(Mutex<Vec<Committed>>);

impl CommitObserver for Seen {
    fn committed(&self, changes: &ChangeSet) {
        if let Ok(mut seen) = self.0.lock() {
            seen.extend(changes.changes().iter().cloned());
        }
    }
}

fn bank(id: u128, name: &str) -> NewBank {
    NewBank {
        id: Uuid::from_u128(id),
        name: name.into(),
        match_distance: 31,
        negative: false,
        suppresses: Vec::new(),
        origin: LOCAL_ORIGIN.into(),
    }
}

fn content(id: u128, bank: u128) -> NewContent {
    NewContent {
        id: Uuid::from_u128(id),
        bank_id: Uuid::from_u128(bank),
        signal_type: SignalType::Pdq,
        signal: format!("{:064x}", id),
        category: Some("A1".into()),
        series: Some("series-7".into()),
        signal_id: None,
    }
}

pub(crate) async fn identify_bank_lifecycle<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let seen = Arc::new(Seen::default());
    store.observe_commits(seen.clone());
    let who = staff_change("analyst", 1_000, "bank");

    let known = store.create_bank(&bank(1, "known"), &who).await.unwrap();
    assert_eq!(known.match_distance, 31);
    assert!(known.enabled && known.is_local() && !known.negative);
    assert_eq!(known.created_by, "staff:analyst");
    assert!(matches!(
        store.create_bank(&bank(9, "known"), &who).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.create_bank(&bank(1, "other"), &who).await,
        Err(Error::Conflict(Conflict::AlreadyExists(_)))
    ));
    // A negative bank names existing banks only, and a positive bank names none.
    let negative = NewBank {
        negative: true,
        suppresses: vec![Uuid::from_u128(1)],
        match_distance: 8,
        ..bank(2, "false positives")
    };
    let neg = store.create_bank(&negative, &who).await.unwrap();
    assert_eq!(neg.suppresses, vec![Uuid::from_u128(1)]);
    assert!(matches!(
        store
            .create_bank(
                &NewBank {
                    suppresses: vec![Uuid::from_u128(77)],
                    ..negative.clone()
                }
                .clone_with(3, "dangling"),
                &who
            )
            .await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        store
            .create_bank(
                &NewBank {
                    suppresses: vec![Uuid::from_u128(1)],
                    ..bank(4, "positive naming")
                },
                &who
            )
            .await,
        Err(Error::Invalid(_))
    ));
    let partner = store
        .create_bank(
            &NewBank {
                origin: "exchange:agency-b".into(),
                ..bank(5, "partner")
            },
            &who,
        )
        .await
        .unwrap();
    assert!(!partner.is_local());
    let names: Vec<String> = store
        .list_banks()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, vec!["false positives", "known", "partner"]);
    assert!(matches!(
        store.get_bank(Uuid::from_u128(99)).await,
        Err(Error::NotFound {
            entity: Entity::Bank,
            ..
        })
    ));

    // Content: added with labels, refused in a partner's bank or an unknown bank, an id used once.
    let added = store.add_content(&content(10, 1), &who).await.unwrap();
    assert_eq!(added.category.as_deref(), Some("A1"));
    assert!(added.enabled && added.quarantined_at.is_none());
    store.add_content(&content(11, 1), &who).await.unwrap();
    assert!(matches!(
        store.add_content(&content(10, 1), &who).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.add_content(&content(12, 5), &who).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        store.add_content(&content(13, 99), &who).await,
        Err(Error::NotFound { .. })
    ));

    // Disabled content is kept; paging sees it with its state.
    let disabled = store
        .set_content_enabled(
            Uuid::from_u128(10),
            false,
            &staff_change("sup", 2_000, "wrong"),
        )
        .await
        .unwrap();
    assert!(!disabled.enabled);
    let page = store.content_page(None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, Uuid::from_u128(10));
    assert!(!page[0].enabled);
    let rest = store.content_page(Some(page[0].id), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, Uuid::from_u128(11));
    assert!(matches!(
        store
            .set_content_enabled(Uuid::from_u128(98), false, &who)
            .await,
        Err(Error::NotFound {
            entity: Entity::Content,
            ..
        })
    ));

    // A lookup with a match, a review, a second review replacing it.
    let m = Uuid::from_u128(500);
    store
        .record_lookup(
            &LookupRecord {
                id: Uuid::from_u128(400),
                kind: "pdq".into(),
                banks: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
                matches: vec![NewMatch {
                    id: m,
                    content_id: Uuid::from_u128(11),
                    bank_id: Uuid::from_u128(1),
                    distance: 3,
                }],
                withheld: vec![],
            },
            &staff_change("analyst", 3_000, "lookup"),
        )
        .await
        .unwrap();
    let stored = store.get_match(m).await.unwrap();
    assert_eq!((stored.distance, stored.verdict), (3, None));
    let reviewed = store
        .review_match(
            m,
            Verdict::FalsePositive,
            &staff_change("sup", 4_000, "review"),
        )
        .await
        .unwrap();
    assert_eq!(reviewed.verdict, Some(Verdict::FalsePositive));
    assert_eq!(reviewed.reviewed_by.as_deref(), Some("staff:sup"));
    let again = store
        .review_match(
            m,
            Verdict::TruePositive,
            &staff_change("sup", 5_000, "review"),
        )
        .await
        .unwrap();
    assert_eq!(again.verdict, Some(Verdict::TruePositive));
    assert!(matches!(
        store
            .review_match(Uuid::from_u128(501), Verdict::TruePositive, &who)
            .await,
        Err(Error::NotFound {
            entity: Entity::Match,
            ..
        })
    ));

    // Quarantine: set once (a repeat changes nothing), released.
    let q = store
        .set_quarantine(
            Uuid::from_u128(11),
            true,
            &staff_change("system", 6_000, "flood"),
        )
        .await
        .unwrap();
    assert!(q.quarantined_at.is_some());
    store
        .set_quarantine(Uuid::from_u128(11), true, &who)
        .await
        .unwrap();
    let released = store
        .set_quarantine(Uuid::from_u128(11), false, &who)
        .await
        .unwrap();
    assert!(released.quarantined_at.is_none());

    // A hash list imported at once: one transaction, one audit entry, paged by bank.
    let list: Vec<NewContent> = (0..1_500u128).map(|i| content(10_000 + i, 1)).collect();
    assert_eq!(
        store
            .import_content(
                Uuid::from_u128(1),
                &list,
                &staff_change("sup", 7_000, "list")
            )
            .await
            .unwrap(),
        1_500
    );
    let mut n = 0;
    let mut after = None;
    loop {
        let page = store
            .bank_content_page(Uuid::from_u128(1), after, 1_000)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        n += page.len();
    }
    assert_eq!(n, 1_502);
    assert!(matches!(
        store
            .import_content(Uuid::from_u128(5), &[content(20_000, 5)], &who)
            .await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        store
            .import_content(Uuid::from_u128(1), &[content(20_001, 2)], &who)
            .await,
        Err(Error::Invalid(_))
    ));
    assert!(
        seen.0
            .lock()
            .unwrap()
            .contains(&Committed::IdentifyBankContent(Uuid::from_u128(1)))
    );

    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("identify."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "identify.bank_created",
            "identify.bank_created",
            "identify.bank_created",
            "identify.content_added",
            "identify.content_added",
            "identify.content_disabled",
            "identify.lookup",
            "identify.reviewed",
            "identify.reviewed",
            "identify.quarantined",
            "identify.released",
            "identify.content_imported",
        ]
    );
    let lookup = audit
        .iter()
        .find(|e| e.action == "identify.lookup")
        .unwrap();
    assert!(lookup.detail.contains(&Uuid::from_u128(11).to_string()));
    assert!(!lookup.detail.contains(&format!("{:064x}", 11)));
    let seen = seen.0.lock().unwrap().clone();
    assert!(seen.contains(&Committed::IdentifyBank(Uuid::from_u128(1))));
    assert_eq!(
        seen.iter()
            .filter(|c| **c == Committed::IdentifyContent(Uuid::from_u128(11)))
            .count(),
        3
    );
}

/// Concurrent lookups committed together (the server's group commit): one transaction, each lookup with its own
/// matches and audit entry in order, the chain intact; a batch that fails records none of its lookups.
pub(crate) async fn lookups_are_recorded_together_each_audited<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let who = staff_change("analyst", 1_000, "bank");
    store.create_bank(&bank(1, "known"), &who).await.unwrap();
    store.add_content(&content(11, 1), &who).await.unwrap();
    let lookup = |id: u128, matched: Option<u128>| {
        (
            LookupRecord {
                id: Uuid::from_u128(id),
                kind: "pdq".into(),
                banks: vec![Uuid::from_u128(1)],
                matches: matched
                    .map(|m| NewMatch {
                        id: Uuid::from_u128(m),
                        content_id: Uuid::from_u128(11),
                        bank_id: Uuid::from_u128(1),
                        distance: 2,
                    })
                    .into_iter()
                    .collect(),
                withheld: vec![],
            },
            staff_change("analyst", 2_000 + id as i64, "lookup"),
        )
    };
    store.record_lookups(&[]).await.unwrap();
    store
        .record_lookups(&[
            lookup(400, Some(500)),
            lookup(401, None),
            lookup(402, Some(502)),
        ])
        .await
        .unwrap();
    for kept in [500u128, 502] {
        let found = store.get_match(Uuid::from_u128(kept)).await.unwrap();
        assert_eq!(found.distance, 2, "match {kept}");
    }
    // The second lookup repeats a match id already held: the whole batch is refused and nothing of it is kept.
    assert!(
        store
            .record_lookups(&[lookup(403, Some(503)), lookup(404, Some(500))])
            .await
            .is_err()
    );
    assert!(matches!(
        store.get_match(Uuid::from_u128(503)).await,
        Err(Error::NotFound { .. })
    ));
    let audit = store.list_audit(0, 100).await.unwrap();
    let lookups: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "identify.lookup")
        .map(|e| e.subject.as_str())
        .collect();
    let expected: Vec<String> = [400u128, 401, 402]
        .iter()
        .map(|id| format!("lookup/{}", Uuid::from_u128(*id)))
        .collect();
    assert_eq!(lookups, expected);
    assert!(crate::verify_audit(&store).await.unwrap() > 3);
}

trait CloneWith {
    fn clone_with(&self, id: u128, name: &str) -> Self;
}

impl CloneWith for NewBank {
    fn clone_with(&self, id: u128, name: &str) -> Self {
        NewBank {
            id: Uuid::from_u128(id),
            name: name.into(),
            ..self.clone()
        }
    }
}
