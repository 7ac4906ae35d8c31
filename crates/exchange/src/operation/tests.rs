//! Unit and property tests of the operation core: sovereignty, consent, order and buffering, per-field visibility,
//! leave and withdraw, court items.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, TimeZone as _, Utc};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::rules::{self, Consent, OperationView, Verdict};
use super::*;
use crate::domain::{Agreement, CaseCategory};
use crate::marking::{HandlingCode, Tlp};
use crate::protocol::PROTOCOL;

struct Agency {
    id: AgencyId,
    key: SigningKey,
}

fn agency(seed: u8) -> Agency {
    let key = SigningKey::from_bytes(&[seed; 32]);
    Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        key,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

const OP: Uuid = Uuid::from_u128(42);
const AGREEMENT: Uuid = Uuid::from_u128(7);

fn agreement(parties: &[&AgencyId], fields: &[FieldClass]) -> Agreement {
    Agreement {
        id: AGREEMENT,
        title: "t".into(),
        parties: parties.iter().map(|p| (*p).clone()).collect(),
        categories: BTreeSet::from([CaseCategory::Scam]),
        fields: fields.iter().copied().collect(),
        max_tlp: Tlp::Amber,
        floor: Marking::default(),
        purpose: "p".into(),
        valid_from: now() - Duration::days(1),
        expires_at: now() + Duration::days(100),
        onward_sharing: false,
        revoked_at: None,
        freeze: None,
    }
}

fn event(
    by: &Agency,
    seq: u64,
    change: Change,
    parts: BTreeMap<FieldClass, Part>,
    handling: HandlingCode,
) -> OpEvent {
    let head = EventHead {
        protocol: PROTOCOL.into(),
        operation: OP,
        origin: by.id.clone(),
        seq,
        at: now(),
        marking: Marking {
            handling,
            ..Marking::default()
        },
        change,
        parts: BTreeMap::new(),
    };
    OpEvent::issue(head, parts, &by.key).unwrap()
}

fn plain(by: &Agency, seq: u64, change: Change) -> OpEvent {
    event(by, seq, change, BTreeMap::new(), HandlingCode::H0)
}

fn create(a: &Agency, others: &[&Agency]) -> OpEvent {
    let mut participants = vec![Participant {
        agency: a.id.clone(),
        role: Role::Lead,
        legal_basis: "KR MLA Act art. 5".into(),
    }];
    participants.extend(others.iter().map(|o| Participant {
        agency: o.id.clone(),
        role: Role::Participant,
        legal_basis: "proposed".into(),
    }));
    plain(
        a,
        1,
        Change::Create {
            title: "Operation Lantern".into(),
            agreements: BTreeSet::from([AGREEMENT]),
            participants,
            day_of_action: None,
        },
    )
}

fn join(by: &Agency, seq: u64) -> OpEvent {
    plain(
        by,
        seq,
        Change::Join {
            legal_basis: "own law art. 1".into(),
        },
    )
}

fn task(by: &Agency, seq: u64, id: u128, jurisdiction: &Agency) -> OpEvent {
    let part = Part::new(
        serde_json::json!("watch the warehouse"),
        Uuid::from_u128(99),
    );
    event(
        by,
        seq,
        Change::Task {
            task: Uuid::from_u128(id),
            kind: TaskKind::Surveillance,
            jurisdiction: jurisdiction.id.clone(),
            deadline: now() + Duration::days(2),
        },
        BTreeMap::from([(FieldClass::Summary, part)]),
        HandlingCode::H0,
    )
}

/// Applies `events` in the given order, buffering what must wait, as a receiver does.
fn receive(events: &[OpEvent]) -> (Option<OperationView>, Vec<String>) {
    let mut view = None;
    let mut pending: Vec<OpEvent> = Vec::new();
    let mut refused = Vec::new();
    for e in events {
        pending.push(e.clone());
        loop {
            let mut progressed = false;
            let mut keep = Vec::new();
            for p in pending.drain(..) {
                match rules::check(view.as_ref(), &p.head.body) {
                    Verdict::Apply => {
                        rules::apply(&mut view, &p);
                        progressed = true;
                    }
                    Verdict::Duplicate => {}
                    Verdict::Wait(_) => keep.push(p),
                    Verdict::Refuse(why) => refused.push(why),
                }
            }
            pending = keep;
            if !progressed {
                break;
            }
        }
    }
    (view, refused)
}

fn started() -> (Agency, Agency, Agency, Vec<OpEvent>) {
    let (a, b, c) = (agency(1), agency(2), agency(3));
    let events = vec![create(&a, &[&b, &c]), join(&b, 1), join(&c, 1)];
    (a, b, c, events)
}

#[test]
fn an_agency_changes_only_its_own_tasks() {
    let (a, b, _c, mut events) = started();
    events.push(task(&a, 2, 1, &a));
    let (view, refused) = receive(&events);
    assert!(refused.is_empty(), "{refused:?}");
    let view = view.unwrap();
    assert!(view.tasks[&Uuid::from_u128(1)].exists());
    let bs = plain(
        &b,
        2,
        Change::TaskStatus {
            task: Uuid::from_u128(1),
            status: TaskStatus::Done,
        },
    );
    assert!(
        matches!(rules::check(Some(&view), &bs.head.body), Verdict::Refuse(w) if w.contains("owning"))
    );
    let own = plain(
        &a,
        3,
        Change::TaskStatus {
            task: Uuid::from_u128(1),
            status: TaskStatus::InProgress,
        },
    );
    assert_eq!(rules::check(Some(&view), &own.head.body), Verdict::Apply);
    // B may not withdraw A's task either.
    let steal = plain(&b, 2, Change::Withdraw { event: 2 });
    assert!(matches!(
        rules::check(Some(&view), &steal.head.body),
        Verdict::Refuse(_)
    ));
}

#[test]
fn a_task_in_another_jurisdiction_exists_only_after_consent() {
    let (a, b, c, mut events) = started();
    events.push(task(&a, 2, 5, &c));
    let (view, _) = receive(&events);
    let view = view.unwrap();
    let t = &view.tasks[&Uuid::from_u128(5)];
    assert_eq!(t.consent, Consent::Pending);
    assert!(!t.exists());
    // Not even its owner moves it before consent (its node waits; a receiver buffers); only C consents, once.
    let early = plain(
        &a,
        3,
        Change::TaskStatus {
            task: t.id,
            status: TaskStatus::InProgress,
        },
    );
    assert_eq!(
        rules::check(Some(&view), &early.head.body),
        Verdict::Wait("the task's consent")
    );
    let consent = |by: &Agency, seq| {
        plain(
            by,
            seq,
            Change::Consent {
                task: t.id,
                accept: true,
                reason: String::new(),
            },
        )
    };
    assert!(matches!(
        rules::check(Some(&view), &consent(&b, 2).head.body),
        Verdict::Refuse(_)
    ));
    events.push(consent(&c, 2));
    let (view, refused) = receive(&events);
    assert!(refused.is_empty());
    let view = view.unwrap();
    assert!(view.tasks[&t.id].exists());
    assert!(matches!(
        rules::check(Some(&view), &consent(&c, 3).head.body),
        Verdict::Refuse(w) if w.contains("once")
    ));
    // A refusal needs a reason.
    let silent = plain(
        &c,
        3,
        Change::Consent {
            task: Uuid::from_u128(5),
            accept: false,
            reason: String::new(),
        },
    );
    assert!(matches!(
        rules::check(Some(&view), &silent.head.body),
        Verdict::Refuse(_)
    ));
}

#[test]
fn order_is_per_origin_and_early_events_wait() {
    let (a, _b, c, events) = started();
    let view = rules::fold(&events).unwrap();
    let second = task(&a, 3, 9, &a);
    assert_eq!(
        rules::check(Some(&view), &second.head.body),
        Verdict::Wait("an earlier event of this origin")
    );
    assert_eq!(
        rules::check(Some(&view), &events[0].head.body),
        Verdict::Duplicate
    );
    // A consent to a task not seen yet waits for the task.
    let consent = plain(
        &c,
        2,
        Change::Consent {
            task: Uuid::from_u128(77),
            accept: true,
            reason: String::new(),
        },
    );
    assert_eq!(
        rules::check(Some(&view), &consent.head.body),
        Verdict::Wait("the task")
    );
    // Nothing applies before the creation.
    assert_eq!(
        rules::check(None, &events[1].head.body),
        Verdict::Wait("the operation's creation")
    );
}

#[test]
fn observers_read_and_invitees_act_only_after_joining() {
    let (a, b, c) = (agency(1), agency(2), agency(3));
    let mut events = vec![create(&a, &[&b])];
    events.push(plain(
        &a,
        2,
        Change::Invite {
            participant: Participant {
                agency: c.id.clone(),
                role: Role::Observer,
                legal_basis: "observer status".into(),
            },
        },
    ));
    let view = rules::fold(&events).unwrap();
    let b_task = task(&b, 1, 3, &b);
    assert!(matches!(
        rules::check(Some(&view), &b_task.head.body),
        Verdict::Refuse(w) if w.contains("joins")
    ));
    events.push(join(&c, 1));
    let view = rules::fold(&events).unwrap();
    let c_log = plain(
        &c,
        2,
        Change::Log {
            entry: Uuid::from_u128(1),
        },
    );
    assert!(matches!(
        rules::check(Some(&view), &c_log.head.body),
        Verdict::Refuse(w) if w.contains("observers")
    ));
    // Only the lead invites and sets the day of action.
    let b_day = plain(&b, 1, Change::DayOfAction { day: Some(now()) });
    assert!(matches!(
        rules::check(Some(&view), &b_day.head.body),
        Verdict::Refuse(_)
    ));
}

#[test]
fn leaving_stops_future_data_and_what_was_shared_stays_withdrawable() {
    let (a, b, c, mut events) = started();
    let part = Part::new(serde_json::json!("seen at the port"), Uuid::from_u128(5));
    events.push(event(
        &b,
        2,
        Change::Log {
            entry: Uuid::from_u128(8),
        },
        BTreeMap::from([(FieldClass::Event, part)]),
        HandlingCode::H0,
    ));
    events.push(plain(
        &b,
        3,
        Change::Leave {
            reason: "case closed at home".into(),
        },
    ));
    events.push(task(&a, 2, 1, &a));
    let (view, refused) = receive(&events);
    assert!(refused.is_empty(), "{refused:?}");
    let view = view.unwrap();
    // A's first event goes to B (before the leave), its second not.
    assert!(rules::recipients(&view, &a.id, 1).contains(&b.id));
    assert!(!rules::recipients(&view, &a.id, 2).contains(&b.id));
    assert!(rules::recipients(&view, &a.id, 2).contains(&c.id));
    // B sends nothing new, but may withdraw its log entry.
    let more = plain(
        &b,
        4,
        Change::Log {
            entry: Uuid::from_u128(9),
        },
    );
    assert!(matches!(
        rules::check(Some(&view), &more.head.body),
        Verdict::Refuse(w) if w.contains("left")
    ));
    let withdraw = plain(&b, 4, Change::Withdraw { event: 2 });
    assert_eq!(
        rules::check(Some(&view), &withdraw.head.body),
        Verdict::Apply
    );
    assert_eq!(rules::erases(&withdraw.head.body), Some((b.id.clone(), 2)));
    events.push(withdraw);
    let view = receive(&events).0.unwrap();
    assert!(view.log.is_empty());
    let _ = c;
}

#[test]
fn parts_go_only_where_an_agreement_allows_and_must_match_the_head() {
    let (a, b, c, events) = started();
    let view = rules::fold(&events).unwrap();
    let agreements = vec![
        agreement(&[&a.id, &b.id], &FieldClass::ALL),
        Agreement {
            id: Uuid::from_u128(8),
            ..agreement(&[&a.id, &c.id], &[FieldClass::Summary])
        },
    ];
    let mut view = view;
    view.agreements.insert(Uuid::from_u128(8));
    let person = crate::domain::Entity::Person {
        id: Uuid::from_u128(3),
        name: "Kim Min-su".into(),
        nationality: None,
        born: None,
        passport: None,
        border_control: false,
    };
    let (class, part) = entity_part(&person, Uuid::from_u128(4)).unwrap();
    let target = event(
        &a,
        2,
        Change::Target {
            target: Uuid::from_u128(3),
            kind: "person".into(),
            source_case: None,
        },
        BTreeMap::from([(class, part)]),
        HandlingCode::H0,
    );
    target.check_parts().unwrap();
    let to_b = rules::allowed_parts(&agreements, &view, &a.id, &b.id, Tlp::Amber, now());
    let to_c = rules::allowed_parts(&agreements, &view, &a.id, &c.id, Tlp::Amber, now());
    assert!(to_b.contains(&FieldClass::Person));
    assert_eq!(to_c, BTreeSet::from([FieldClass::Summary]));
    let for_c = target.redacted(&to_c);
    assert!(for_c.parts.is_empty());
    for_c.check_parts().unwrap();
    assert!(for_c.head.verify(&a.id).is_ok(), "the head stays signed");
    assert!(
        rules::parts_beyond(&agreements, &view, &target, &c.id, now())
            .contains(&FieldClass::Person)
    );
    assert!(rules::parts_beyond(&agreements, &view, &for_c, &c.id, now()).is_empty());
    // A part changed on the way no longer matches its signed digest.
    let mut forged = target.clone();
    if let Some(p) = forged.parts.get_mut(&FieldClass::Person) {
        p.value = serde_json::json!({"type": "person", "name": "someone else"});
    }
    assert!(forged.check_parts().is_err());
    // Nor does a TLP above an agreement's maximum let anything through.
    assert!(rules::allowed_parts(&agreements, &view, &a.id, &b.id, Tlp::Red, now()).is_empty());
}

#[test]
fn court_items_refuse_other_agencies_restricted_events() {
    let (a, b, _c, mut events) = started();
    events.push(event(
        &b,
        2,
        Change::Log {
            entry: Uuid::from_u128(1),
        },
        BTreeMap::new(),
        HandlingCode::H1,
    ));
    events.push(event(
        &a,
        2,
        Change::Log {
            entry: Uuid::from_u128(2),
        },
        BTreeMap::new(),
        HandlingCode::H3,
    ));
    let (included, refused) = rules::court_items(&events, &a.id);
    assert_eq!(included.len(), 4, "ours always, theirs if H0");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].origin, b.id);
    assert_eq!(refused[0].seq, 2);
}

#[test]
fn a_creation_names_one_lead_and_legal_bases() {
    let (a, b) = (agency(1), agency(2));
    let mut bad = create(&a, &[&b]);
    if let Change::Create { participants, .. } = &mut bad.head.body.change {
        participants[1].role = Role::Lead;
    }
    assert!(matches!(
        rules::check(None, &bad.head.body),
        Verdict::Refuse(_)
    ));
    let mut no_basis = create(&a, &[&b]);
    if let Change::Create { participants, .. } = &mut no_basis.head.body.change {
        participants[1].legal_basis = " ".into();
    }
    assert!(matches!(
        rules::check(None, &no_basis.head.body),
        Verdict::Refuse(_)
    ));
    // The wrong part class for a change is refused.
    let wrong = event(
        &a,
        2,
        Change::Log {
            entry: Uuid::from_u128(1),
        },
        BTreeMap::from([(
            FieldClass::Person,
            Part::new(serde_json::json!(1), Uuid::nil()),
        )]),
        HandlingCode::H0,
    );
    let view = rules::fold([&create(&a, &[&b])]).unwrap();
    assert!(matches!(
        rules::check(Some(&view), &wrong.head.body),
        Verdict::Refuse(_)
    ));
}

/// A scenario of three origins, each event in its origin's order: tasks, consents, statuses, logs.
fn scenario() -> Vec<OpEvent> {
    let (a, b, c, mut events) = started();
    events.push(task(&a, 2, 1, &c));
    events.push(plain(
        &c,
        2,
        Change::Consent {
            task: Uuid::from_u128(1),
            accept: true,
            reason: String::new(),
        },
    ));
    events.push(plain(
        &a,
        3,
        Change::TaskStatus {
            task: Uuid::from_u128(1),
            status: TaskStatus::InProgress,
        },
    ));
    events.push(task(&b, 2, 2, &b));
    events.push(plain(
        &b,
        3,
        Change::Log {
            entry: Uuid::from_u128(3),
        },
    ));
    events.push(plain(
        &c,
        3,
        Change::Log {
            entry: Uuid::from_u128(4),
        },
    ));
    events.push(plain(&b, 4, Change::Withdraw { event: 3 }));
    events
}

proptest! {
    /// Whatever order events arrive in (a partition, a lost push, a redelivery, a replay), a receiver that buffers
    /// early events ends with the same operation as one that got them in order, refusing nothing.
    #[test]
    fn any_arrival_order_converges(order in Just((0..10usize).collect::<Vec<_>>()).prop_shuffle(), dup in 0..10usize) {
        let events = scenario();
        let (expected, refused) = receive(&events);
        prop_assert!(refused.is_empty());
        let mut shuffled: Vec<OpEvent> = order.iter().map(|i| events[*i].clone()).collect();
        shuffled.push(events[dup].clone());
        let (got, refused) = receive(&shuffled);
        prop_assert!(refused.is_empty(), "{:?}", refused);
        let (expected, got) = (expected.unwrap(), got.unwrap());
        prop_assert_eq!(&expected.tasks, &got.tasks);
        prop_assert_eq!(&expected.heads, &got.heads);
        prop_assert_eq!(&expected.participants, &got.participants);
        let entries = |v: &OperationView| v.log.iter().map(|l| l.entry).collect::<BTreeSet<_>>();
        prop_assert_eq!(entries(&expected), entries(&got));
    }
}
