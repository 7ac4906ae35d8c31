//! Entity links (issue 11): runs propose, analysts decide, later runs respect the decisions; all audited.

use super::{TestStore, staff_change};
use crate::{Error, LinkStatus, NewEntityLink, verify_audit};

fn link(kind: &str, left: &str, right: &str, probability: f64) -> NewEntityLink {
    NewEntityLink {
        kind: kind.to_owned(),
        left_ref: left.to_owned(),
        right_ref: right.to_owned(),
        probability,
        weight: 10.0 * probability,
        evidence: format!(r#"[{{"field":"surname","level":"exact","weight":{probability}}}]"#),
    }
}

/// A run proposes pairs (ordered, deduplicated); a decision is kept by the next run, which refreshes the score,
/// withdraws proposals it no longer finds, and never re-opens a rejection.
pub(crate) async fn entity_links_keep_decisions_across_runs<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let report = store
        .record_link_run(
            vec![
                link("person", "b", "a", 0.9),
                link("person", "a", "b", 0.9),
                link("phone", "c", "d", 1.0),
                link("wallet", "e", "f", 0.7),
                link("person", "a", "a", 1.0),
            ],
            &staff_change("analyst1", 0, "linkage run"),
        )
        .await
        .unwrap();
    assert_eq!(
        (report.added, report.refreshed, report.withdrawn),
        (3, 0, 0)
    );
    let links = store.list_entity_links(None).await.unwrap();
    let pairs: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| (l.kind.as_str(), l.left_ref.as_str(), l.right_ref.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("person", "a", "b"),
            ("phone", "c", "d"),
            ("wallet", "e", "f")
        ]
    );
    assert!(links.iter().all(|l| l.status == LinkStatus::Proposed));

    let person = links[0].id;
    let phone = links[1].id;
    let rejected = store
        .decide_entity_link(
            person,
            LinkStatus::Rejected,
            &staff_change("analyst1", 10, "different birth year"),
        )
        .await
        .unwrap();
    assert_eq!(rejected.status, LinkStatus::Rejected);
    assert_eq!(rejected.decided_by.as_deref(), Some("staff:analyst1"));
    store
        .decide_entity_link(
            phone,
            LinkStatus::Confirmed,
            &staff_change("analyst2", 20, "same subscriber"),
        )
        .await
        .unwrap();

    // The next run finds the person pair again and no longer the wallet pair nor the phone pair.
    let report = store
        .record_link_run(
            vec![
                link("person", "a", "b", 0.95),
                link("account", "g", "h", 1.0),
            ],
            &staff_change("analyst1", 30, "linkage run"),
        )
        .await
        .unwrap();
    assert_eq!(
        (report.added, report.refreshed, report.withdrawn),
        (1, 1, 1)
    );
    let links = store.list_entity_links(None).await.unwrap();
    let view: Vec<(&str, LinkStatus)> = links.iter().map(|l| (l.kind.as_str(), l.status)).collect();
    assert_eq!(
        view,
        [
            ("account", LinkStatus::Proposed),
            ("person", LinkStatus::Rejected),
            ("phone", LinkStatus::Confirmed),
        ]
    );
    assert_eq!(links[1].probability, 0.95);
    assert_eq!(links[1].id, person);
    let confirmed = store
        .list_entity_links(Some(LinkStatus::Confirmed))
        .await
        .unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].id, phone);

    let missing = store
        .decide_entity_link(
            uuid::Uuid::now_v7(),
            LinkStatus::Confirmed,
            &staff_change("analyst1", 40, "?"),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    let invalid = store
        .record_link_run(
            vec![link("person", "x", "y", 1.5)],
            &staff_change("analyst1", 50, "linkage run"),
        )
        .await;
    assert!(matches!(invalid, Err(Error::Invalid(_))), "{invalid:?}");

    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "linkage.run",
            "linkage.decided",
            "linkage.decided",
            "linkage.run"
        ]
    );
    verify_audit(&store).await.unwrap();
}
