//! Property tests of the policy engine: nothing leaves that no agreement allows, an expired
//! (or revoked) agreement allows nothing, and the most restrictive marking wins.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{
    AgencyId, Agreement, CaseCategory, Content, FieldClass, Provenance, Record, RecordBody,
};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::policy;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use uuid::Uuid;

fn agencies() -> Vec<AgencyId> {
    (1u8..=4)
        .map(|i| AgencyId::from_key(&SigningKey::from_bytes(&[i; 32]).verifying_key()))
        .collect()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn marking() -> impl Strategy<Value = Marking> {
    (
        select(Tlp::ALL.to_vec()),
        select(HandlingCode::ALL.to_vec()),
        select(vec![
            SourceGrade::A,
            SourceGrade::B,
            SourceGrade::C,
            SourceGrade::X,
        ]),
        1u8..=4,
    )
        .prop_map(|(tlp, handling, source, i)| Marking {
            tlp,
            handling,
            source,
            information: InfoGrade::try_from(i).unwrap_or(InfoGrade::Four),
        })
}

fn agreement() -> impl Strategy<Value = Agreement> {
    (
        subsequence(agencies(), 2..=4),
        subsequence(CaseCategory::ALL.to_vec(), 1..=3),
        subsequence(FieldClass::ALL.to_vec(), 0..=9),
        select(Tlp::ALL.to_vec()),
        marking(),
        -100i64..100,
        1i64..200,
        any::<bool>(),
        proptest::option::of(-50i64..150),
    )
        .prop_map(
            |(parties, cats, fields, max_tlp, floor, start, len, onward, revoked)| Agreement {
                id: Uuid::new_v4(),
                title: "p".into(),
                parties: parties.into_iter().collect(),
                categories: cats.into_iter().collect(),
                fields: fields.into_iter().collect(),
                max_tlp,
                floor,
                purpose: "p".into(),
                valid_from: t0() + Duration::days(start),
                expires_at: t0() + Duration::days(start + len),
                onward_sharing: onward,
                revoked_at: revoked.map(|d| t0() + Duration::days(d)),
                freeze: None,
            },
        )
}

fn record() -> impl Strategy<Value = Record> {
    (
        select(agencies()),
        select(CaseCategory::ALL.to_vec()),
        marking(),
        subsequence(FieldClass::ALL.to_vec(), 0..=9),
    )
        .prop_map(|(origin, category, marking, fields)| {
            let content = super::support_content(&fields.into_iter().collect());
            Record {
                id: Uuid::new_v4(),
                version: 1,
                origin,
                category,
                marking,
                updated_at: t0(),
                redacted: BTreeSet::new(),
                body: RecordBody::Case(content),
            }
        })
}

fn setup() -> impl Strategy<
    Value = (
        Vec<Agreement>,
        Record,
        AgencyId,
        AgencyId,
        DateTime<Utc>,
        Option<usize>,
    ),
> {
    (
        proptest::collection::vec(agreement(), 0..5),
        record(),
        select(agencies()),
        select(agencies()),
        -50i64..250,
        any::<Option<usize>>(),
    )
        .prop_map(|(ags, rec, me, to, day, under)| {
            (ags, rec, me, to, t0() + Duration::days(day), under)
        })
}

fn provenance(rec: &Record, me: &AgencyId, ags: &[Agreement], under: Option<usize>) -> Provenance {
    if &rec.origin == me {
        Provenance::local()
    } else {
        Provenance {
            received_from: Some(rec.origin.clone()),
            received_under: under
                .and_then(|i| ags.get(i % ags.len().max(1)))
                .map(|a| a.id),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever goes out is covered by the agreement it cites, field by field.
    #[test]
    fn nothing_leaves_that_no_agreement_allows((ags, rec, me, to, now, under) in setup()) {
        let prov = provenance(&rec, &me, &ags, under);
        if let Ok(d) = policy::disclose(&ags, &me, &rec, &prov, &to, now) {
            let a = ags.iter().find(|a| a.id == d.agreement).unwrap();
            prop_assert!(a.is_active(now));
            prop_assert!(a.parties.contains(&me) && a.parties.contains(&to) && me != to);
            prop_assert!(a.categories.contains(&rec.category));
            prop_assert!(rec.marking.tlp <= a.max_tlp);
            let sent = d.record.content().map(Content::field_classes).unwrap_or_default();
            prop_assert!(sent.is_subset(&a.fields), "sent {sent:?} beyond {:?}", a.fields);
            if rec.origin != me {
                prop_assert!(a.parties.contains(&rec.origin));
                prop_assert!(rec.marking.handling.allows_onward() && rec.marking.tlp.allows_onward());
                let via = ags.iter().find(|x| Some(x.id) == prov.received_under).unwrap();
                prop_assert!(via.onward_sharing && via.is_active(now));
            }
            // Per-field decisions agree with the whole-record decision.
            for f in sent {
                prop_assert!(policy::decide_field(&ags, &me, &rec, &prov, f, &to, now).is_some());
            }
        }
        for f in FieldClass::ALL {
            if let Some(id) = policy::decide_field(&ags, &me, &rec, &prov, f, &to, now) {
                let a = ags.iter().find(|a| a.id == id).unwrap();
                prop_assert!(a.fields.contains(&f) && a.is_active(now));
            }
        }
    }

    /// Once every agreement has expired (or been revoked), nothing goes to anyone.
    #[test]
    fn expired_or_revoked_allows_nothing((ags, rec, me, to, _now, under) in setup(), revoke in any::<bool>()) {
        let mut ags = ags;
        let later = t0() + Duration::days(400);
        if revoke {
            for a in &mut ags { a.revoked_at = Some(t0() - Duration::days(200)); }
        }
        let now = if revoke { t0() } else { later };
        let prov = provenance(&rec, &me, &ags, under);
        prop_assert!(policy::disclose(&ags, &me, &rec, &prov, &to, now).is_err());
        for f in FieldClass::ALL {
            prop_assert!(policy::decide_field(&ags, &me, &rec, &prov, f, &to, now).is_none());
        }
    }

    /// The outgoing marking is at least the record's and at least every covering agreement's floor.
    #[test]
    fn most_restrictive_marking_wins((ags, rec, me, to, now, under) in setup()) {
        let prov = provenance(&rec, &me, &ags, under);
        if let Ok(d) = policy::disclose(&ags, &me, &rec, &prov, &to, now) {
            prop_assert!(d.record.marking.at_least(rec.marking));
            for a in ags.iter().filter(|a| policy::covers(a, &ags, &me, &rec, &prov, &to, now)) {
                prop_assert!(d.record.marking.at_least(a.floor));
            }
        }
    }

    #[test]
    fn combine_is_the_componentwise_maximum(a in marking(), b in marking()) {
        let c = a.combine(b);
        prop_assert!(c.at_least(a) && c.at_least(b));
        prop_assert_eq!(c, b.combine(a));
        prop_assert!(c == a || c == b || (c.tlp == a.tlp.max(b.tlp) && c.handling == a.handling.max(b.handling)));
    }
}
