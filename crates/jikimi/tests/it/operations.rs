//! Joint operations (issue 23) across three real `jikimi serve` processes: A (KR) leads an operation with B (TH) and
//! C (KH) under two agreements, A-B sharing every field and A-B-C sharing no personal field. Every change is made
//! with `jikimi operation` on the node's database (checked, signed, kept, audited and pushed as through the API) and
//! appears at the others within 2 s; C's process is stopped for a minute while A and B keep working, and on its
//! return catches up through the sync with nothing lost or doubled; B's change of A's task is refused by B itself and, forged with B's
//! key, by A and by C; a task in C's jurisdiction exists only after C accepts it; C's database holds none of the
//! personal fields its agreement excludes; `jikimi audit verify` passes on all three.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::operation::rules::{Consent, OperationView};
use jikimi_exchange::operation::{Change, EventHead, OpEvent, TaskStatus};
use jikimi_exchange::protocol::PROTOCOL;
use jikimi_federation::operation::fold_applied;
use uuid::Uuid;

use crate::exchange::{NodeProc, agreement, setup, wait_async};

const NAME: &str = "Somchai Prasert";

/// How long C is cut off: the issue's minute.
const PARTITION: Duration = Duration::from_secs(60);

/// The operation as `node`'s database holds it (none before it arrives).
async fn view(node: &NodeProc, op: Uuid) -> Option<OperationView> {
    let held = node.store().await.op_events(op).await.expect("events");
    fold_applied(&held)
}

/// Waits until `f` holds for the operation at every node of `nodes`, at most 2 s after the change was made.
async fn within_2s(what: &str, nodes: &[&NodeProc], op: Uuid, f: impl Fn(&OperationView) -> bool) {
    let start = Instant::now();
    for n in nodes {
        loop {
            if view(n, op).await.is_some_and(|v| f(&v)) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{what} did not reach {} within 2 s",
                n.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `jikimi operation ... --json` on `node`.
fn op(node: &NodeProc, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["operation"];
    all.extend_from_slice(args);
    all.push("--json");
    node.ok(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_run_one_operation_each_within_its_law() {
    let a = setup(NodeProc::new("a", None), "KR");
    let b = setup(NodeProc::new("b", None), "TH");
    let mut c = setup(NodeProc::new("c", None), "KH");
    for (x, y) in [(&a, &b), (&a, &c), (&b, &a), (&b, &c), (&c, &a), (&c, &b)] {
        x.ok(&["peer", "add", "--endpoint", &y.url()]);
    }
    let ab = agreement(
        &a,
        &[&b],
        &[
            "--title",
            "KR-TH",
            "--category",
            "scam",
            "--fields",
            "all",
            "--purpose",
            "joint operation",
        ],
    );
    let abc = agreement(
        &a,
        &[&b, &c],
        &[
            "--title",
            "regional",
            "--category",
            "scam",
            "--fields",
            "non-personal",
            "--purpose",
            "regional taskforce",
        ],
    );
    let (a_id, b_id, c_id) = (a.id(), b.id(), c.id());

    // A opens the operation; B and C hold it within 2 s, and join.
    let created = op(
        &a,
        &[
            "create",
            "--title",
            "Operation Lantern",
            "--agreement",
            &ab,
            "--agreement",
            &abc,
            "--legal-basis",
            "KR Act on International Judicial Mutual Assistance art. 5",
            "--participant",
            b_id.as_str(),
            "--participant",
            c_id.as_str(),
        ],
    );
    let id: Uuid = created["view"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    within_2s("the creation", &[&b, &c], id, |v| v.participants.len() == 3).await;
    op(
        &b,
        &[
            "join",
            &id.to_string(),
            "--legal-basis",
            "TH Mutual Assistance Act s. 9",
        ],
    );
    op(
        &c,
        &[
            "join",
            &id.to_string(),
            "--legal-basis",
            "KH Criminal Procedure art. 33",
        ],
    );
    within_2s("the joins", &[&a, &b, &c], id, |v| {
        v.participants.values().all(|m| m.joined)
    })
    .await;

    // A names a person as a target: B (all fields) gets the entity, C (no personal fields) only that it exists.
    let target = op(
        &a,
        &[
            "target",
            &id.to_string(),
            "--entity",
            &format!("person={NAME};born=1988-02-03"),
        ],
    );
    let target_id: Uuid = target["head"]["body"]["target"]
        .as_str()
        .expect("target id")
        .parse()
        .expect("uuid");
    within_2s("the target", &[&b, &c], id, |v| {
        v.targets.contains_key(&target_id)
    })
    .await;
    let at_b = view(&b, id).await.expect("at B");
    assert!(
        at_b.targets[&target_id].entity.is_some(),
        "B may have the person"
    );
    let at_c = view(&c, id).await.expect("at C");
    assert!(at_c.targets[&target_id].entity.is_none(), "C may not");

    // A plans an arrest in C's territory: it exists only once C accepts.
    let task = op(
        &a,
        &[
            "task",
            &id.to_string(),
            "--kind",
            "arrest",
            "--jurisdiction",
            "KH",
            "--deadline",
            &(chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339(),
            "--description",
            "arrest the call-centre manager at the compound",
        ],
    );
    let task_id: Uuid = task["head"]["body"]["task"]
        .as_str()
        .expect("task")
        .parse()
        .expect("uuid");
    within_2s("the task", &[&b, &c], id, |v| {
        v.tasks
            .get(&task_id)
            .is_some_and(|t| t.consent == Consent::Pending && !t.exists())
    })
    .await;
    let early = a.cli(&[
        "operation",
        "task",
        &id.to_string(),
        "--id",
        &task_id.to_string(),
        "--status",
        "in_progress",
    ]);
    assert!(!early.status.success(), "no status before C's consent");
    let by_b = b.cli(&[
        "operation",
        "task",
        &id.to_string(),
        "--id",
        &task_id.to_string(),
        "--accept",
    ]);
    assert!(
        !by_b.status.success(),
        "only C consents to a task in its jurisdiction"
    );
    op(
        &c,
        &[
            "task",
            &id.to_string(),
            "--id",
            &task_id.to_string(),
            "--accept",
        ],
    );
    within_2s("C's consent", &[&a, &b], id, |v| v.tasks[&task_id].exists()).await;
    op(
        &a,
        &[
            "task",
            &id.to_string(),
            "--id",
            &task_id.to_string(),
            "--status",
            "in_progress",
        ],
    );
    within_2s("A's status", &[&b, &c], id, |v| {
        v.tasks[&task_id].status == TaskStatus::InProgress
    })
    .await;

    // B's change of A's task: refused by B's own node, and, forged with B's key, by A and by C.
    let refused = b.cli(&[
        "operation",
        "task",
        &id.to_string(),
        "--id",
        &task_id.to_string(),
        "--status",
        "cancelled",
    ]);
    assert!(
        !refused.status.success(),
        "B's node refuses to change A's task"
    );
    let (_, b_key) = b
        .store()
        .await
        .identity()
        .await
        .expect("identity")
        .expect("B's key");
    let forged_seq = view(&b, id).await.expect("at B").next_seq(&b_id);
    let forged = OpEvent::issue(
        EventHead {
            protocol: PROTOCOL.into(),
            operation: id,
            origin: b_id.clone(),
            seq: forged_seq,
            at: chrono::Utc::now(),
            marking: Default::default(),
            change: Change::TaskStatus {
                task: task_id,
                status: TaskStatus::Cancelled,
            },
            parts: BTreeMap::new(),
        },
        BTreeMap::new(),
        &b_key,
    )
    .expect("forge");
    let http = reqwest::Client::new();
    for n in [&a, &c] {
        let answer = http
            .post(format!("{}/federation/v1/operations/events", n.url()))
            .json(&forged)
            .send()
            .await
            .expect("post");
        assert_eq!(
            answer.status(),
            403,
            "{} refuses B's change of A's task",
            n.name
        );
        let v = view(n, id).await.expect("view");
        assert_eq!(v.tasks[&task_id].status, TaskStatus::InProgress);
        let audit = n.store().await.audit_log().await.expect("audit");
        assert!(
            audit.iter().any(|e| e.action == "operation_event_rejected"
                && e.detail.contains("only the owning agency")),
            "{} audits the refusal",
            n.name
        );
    }

    // C is cut off (its process stopped) for a full minute while A and B keep working; back, it catches up through
    // the push channel's catch-up (the sync pushes from each partner's delivery mark, in batches) with nothing lost
    // or doubled.
    c.kill9();
    let cut_off = Instant::now();
    let mut entries = 0;
    op(
        &a,
        &[
            "task",
            &id.to_string(),
            "--id",
            &task_id.to_string(),
            "--status",
            "done",
        ],
    );
    while cut_off.elapsed() < PARTITION {
        let (by, text) = if entries % 2 == 0 {
            (&a, format!("A: raid team {entries} in position"))
        } else {
            (&b, format!("B: border post {entries} alerted"))
        };
        op(by, &["log", &id.to_string(), "--text", &text]);
        entries += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(entries >= 20, "A and B kept working: {entries} entries");
    within_2s("the work during the partition", &[&a, &b], id, |v| {
        v.log.len() == entries
    })
    .await;
    if let Some(rest) = PARTITION.checked_sub(cut_off.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    c.start();
    let expected = view(&a, id).await.expect("at A");
    wait_async("C catching up", || async {
        view(&c, id)
            .await
            .is_some_and(|v| v.heads == expected.heads)
    })
    .await;
    for n in [&a, &b, &c] {
        let v = view(n, id).await.expect("view");
        assert_eq!(v.log.len(), entries, "{}: every log entry once", n.name);
        assert_eq!(v.tasks[&task_id].status, TaskStatus::Done, "{}", n.name);
        assert_eq!(v.heads, expected.heads, "{}", n.name);
        let held = n.store().await.op_events(id).await.expect("events");
        assert!(
            held.iter().all(|h| h.applied.is_some()),
            "{}: nothing left buffered",
            n.name
        );
        let mut keys: Vec<(AgencyId, u64)> = held
            .iter()
            .map(|h| (h.event.head.body.origin.clone(), h.event.head.body.seq))
            .collect();
        let all = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all, "{}: no event twice", n.name);
    }

    // C's database holds none of the personal fields its agreement excludes: no person part, no name (opened
    // with its keys), and nothing in clear in the raw rows.
    let held = c.store().await.op_events(id).await.expect("events");
    let opened = serde_json::to_string(&held).expect("json");
    assert!(!opened.contains(NAME), "C holds the name");
    assert!(
        held.iter()
            .all(|h| h.event.parts.keys().all(|k| !k.is_personal()))
    );
    let c_db = std::fs::read(c.site.db_path()).expect("C's database file");
    assert!(!String::from_utf8_lossy(&c_db).contains("Somchai"));
    let b_held = serde_json::to_string(&b.store().await.op_events(id).await.expect("B events"))
        .expect("json");
    assert!(b_held.contains(NAME), "B holds it under the A-B agreement");

    // A's court bundle holds the history; each side's audit holds every event it issued and received.
    let out = a.site.dir.path().join("lantern-court.json");
    let export = a.ok(&[
        "operation",
        "export",
        &id.to_string(),
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(export["events"].as_u64().expect("count") >= 14);
    for n in [&a, &b, &c] {
        let (ok, text) = n.site.run(&["audit", "verify"], &[]);
        assert!(
            ok && text.contains("hash chain intact"),
            "{}: {text}",
            n.name
        );
    }
    let _ = a_id;
}
