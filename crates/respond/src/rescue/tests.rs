//! Unit types, needs and the need-honouring recommendation: examples, and the property that a recommendation never
//! includes a unit lacking the needed type or capabilities.

use super::*;
use crate::unit::{StraightLineEta, UnitStatus};
use crate::{Timestamp, UnitId};
use proptest::prelude::*;

fn unit(
    id: &str,
    unit_type: UnitType,
    capabilities: &[Capability],
    status: UnitStatus,
    lat: f64,
    lon: f64,
) -> Unit {
    Unit {
        id: UnitId::new(id),
        status,
        position: Some(Coordinates::new(lat, lon).unwrap()),
        reported_at: Some(Timestamp::from_unix_ms(0)),
        unit_type,
        capabilities: capabilities.iter().copied().collect(),
    }
}

fn here() -> Coordinates {
    Coordinates::new(37.5665, 126.9780).unwrap()
}

#[test]
fn names_round_trip_and_unknown_names_are_refused() {
    for t in UnitType::ALL {
        assert_eq!(UnitType::parse(t.as_str()), Some(t));
    }
    for c in Capability::ALL {
        assert_eq!(Capability::parse(c.as_str()), Some(c));
    }
    assert_eq!(UnitType::parse("Police"), None);
    assert_eq!(UnitType::parse("swat"), None);
    assert_eq!(Capability::parse("laser"), None);
    let caps: Capabilities = [Capability::WaterRescue, Capability::HeavyRescue].into();
    assert_eq!(capabilities_to_text(&caps), "heavy_rescue,water_rescue");
    assert_eq!(
        capabilities_from_text("heavy_rescue,water_rescue"),
        Some(caps)
    );
    assert_eq!(capabilities_from_text(""), Some(Capabilities::new()));
    assert_eq!(capabilities_from_text("heavy_rescue,laser"), None);
    // Units saved before unit types existed read as police with no capabilities.
    let old: Unit = serde_json::from_str(
        r#"{"id":"P-1","status":"available","position":null,"reported_at":null}"#,
    )
    .unwrap();
    assert_eq!(old.unit_type, UnitType::Police);
    assert!(old.capabilities.is_empty());
}

#[test]
fn the_welfare_answer_decides_the_need() {
    use DisasterKind::*;
    use WelfareStatus::*;
    let check = |status, kind, want: Option<UnitNeed>| {
        assert_eq!(
            need_for_welfare(status, kind),
            want,
            "{status:?} in {kind:?}"
        );
    };
    check(
        Trapped,
        Earthquake,
        Some(UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue])),
    );
    check(
        Trapped,
        Other,
        Some(UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue])),
    );
    check(
        Trapped,
        Flood,
        Some(UnitNeed::new(UnitType::Rescue, [Capability::WaterRescue])),
    );
    check(
        Injured,
        Earthquake,
        Some(UnitNeed::new(UnitType::Medical, [])),
    );
    check(Injured, Flood, Some(UnitNeed::new(UnitType::Medical, [])));
    check(
        NeedHelp,
        Flood,
        Some(UnitNeed::new(UnitType::Rescue, [Capability::WaterRescue])),
    );
    check(
        NeedHelp,
        Earthquake,
        Some(UnitNeed::new(UnitType::Rescue, [])),
    );
    check(Safe, Flood, None);
    check(NoAnswer, Earthquake, None);
}

#[test]
fn the_dispatcher_then_the_most_urgent_person_then_police() {
    use WelfareStatus::*;
    let quake = DisasterKind::Earthquake;
    assert_eq!(
        derived_need(None, &[]),
        (UnitNeed::police(), NeedSource::Default)
    );
    assert_eq!(
        derived_need(None, &[(Safe, quake), (NoAnswer, quake)]),
        (UnitNeed::police(), NeedSource::Default)
    );
    assert_eq!(
        derived_need(
            None,
            &[(NeedHelp, quake), (Injured, quake), (Trapped, quake)]
        ),
        (
            UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue]),
            NeedSource::Welfare(Trapped)
        )
    );
    assert_eq!(
        derived_need(None, &[(NeedHelp, quake), (Injured, quake)]).1,
        NeedSource::Welfare(Injured)
    );
    let chosen = UnitNeed::new(UnitType::Fire, [Capability::Hazmat]);
    assert_eq!(
        derived_need(Some(&chosen), &[(Trapped, quake)]),
        (chosen, NeedSource::Dispatcher)
    );
}

#[test]
fn only_suitable_units_are_recommended_and_the_others_are_labelled_apart() {
    let units = vec![
        // The nearest of all is a patrol car: never offered for a trapped person.
        unit(
            "P-1",
            UnitType::Police,
            &[],
            UnitStatus::Available,
            37.5666,
            126.9781,
        ),
        // A rescue team without heavy rescue.
        unit(
            "R-1",
            UnitType::Rescue,
            &[Capability::WaterRescue],
            UnitStatus::Available,
            37.567,
            126.978,
        ),
        // Heavy rescue teams: one busy, one far, one near.
        unit(
            "R-2",
            UnitType::Rescue,
            &[Capability::HeavyRescue],
            UnitStatus::Dispatched,
            37.5665,
            126.978,
        ),
        unit(
            "R-3",
            UnitType::Rescue,
            &[Capability::HeavyRescue, Capability::SearchDog],
            UnitStatus::Available,
            37.60,
            126.98,
        ),
        unit(
            "R-4",
            UnitType::Rescue,
            &[Capability::HeavyRescue],
            UnitStatus::Available,
            37.57,
            126.98,
        ),
    ];
    let need = UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue]);
    let r = recommend_for(here(), &units, &need, &StraightLineEta::default(), 5, 3);
    let ids: Vec<&str> = r.suitable.iter().map(|r| r.unit.as_str()).collect();
    assert_eq!(ids, ["R-4", "R-3"]);
    assert!(!r.none_suitable());
    let others: Vec<&str> = r
        .others
        .iter()
        .map(|o| o.recommendation.unit.as_str())
        .collect();
    assert_eq!(others, ["P-1", "R-1"]);
    assert!(r.others[0].shortfall.wrong_type);
    assert_eq!(
        r.others[0].shortfall.missing,
        [Capability::HeavyRescue].into()
    );
    assert!(!r.others[1].shortfall.wrong_type);
    assert_eq!(r.others[1].unit_type, UnitType::Rescue);

    // No medical unit at all: the answer says so and offers nobody in its place.
    let medical = UnitNeed::new(UnitType::Medical, []);
    let r = recommend_for(here(), &units, &medical, &StraightLineEta::default(), 5, 2);
    assert!(r.none_suitable());
    assert_eq!(r.others.len(), 2);
    assert!(r.others.iter().all(|o| o.shortfall.wrong_type));
}

#[test]
fn a_unit_may_have_more_than_is_needed() {
    let u = unit(
        "R-9",
        UnitType::Rescue,
        &[Capability::HeavyRescue, Capability::WaterRescue],
        UnitStatus::Available,
        37.5,
        127.0,
    );
    assert!(UnitNeed::new(UnitType::Rescue, []).satisfied_by(&u));
    assert!(UnitNeed::new(UnitType::Rescue, [Capability::WaterRescue]).satisfied_by(&u));
    assert!(!UnitNeed::new(UnitType::Rescue, [Capability::Hazmat]).satisfied_by(&u));
    assert!(!UnitNeed::new(UnitType::Fire, []).satisfied_by(&u));
    assert_eq!(
        UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue]).to_string(),
        "rescue with heavy_rescue"
    );
}

fn any_type() -> impl Strategy<Value = UnitType> {
    prop::sample::select(UnitType::ALL.to_vec())
}

fn any_capabilities() -> impl Strategy<Value = Capabilities> {
    prop::collection::btree_set(prop::sample::select(Capability::ALL.to_vec()), 0..4)
}

fn any_status() -> impl Strategy<Value = UnitStatus> {
    prop::sample::select(vec![
        UnitStatus::Available,
        UnitStatus::Dispatched,
        UnitStatus::OnScene,
        UnitStatus::OffDuty,
    ])
}

fn any_unit(i: usize) -> impl Strategy<Value = Unit> {
    (
        any_type(),
        any_capabilities(),
        any_status(),
        37.4..37.7f64,
        126.8..127.1f64,
    )
        .prop_map(move |(unit_type, capabilities, status, lat, lon)| Unit {
            id: UnitId::new(format!("U-{i}")),
            status,
            position: Some(Coordinates::new(lat, lon).unwrap()),
            reported_at: None,
            unit_type,
            capabilities,
        })
}

fn any_units() -> impl Strategy<Value = Vec<Unit>> {
    (0usize..40).prop_flat_map(|n| (0..n).map(any_unit).collect::<Vec<_>>())
}

proptest! {
    /// Whatever the fleet and the need, every recommended unit is available and has the needed type and every
    /// needed capability; every suitable available unit is ranked when `k` covers them all; every "other" lacks
    /// something and says what.
    #[test]
    fn recommendations_never_include_a_unit_lacking_the_need(
        units in any_units(),
        unit_type in any_type(),
        capabilities in any_capabilities(),
        k in 0usize..50,
        k_others in 0usize..5,
    ) {
        let need = UnitNeed { unit_type, capabilities };
        let r = recommend_for(here(), &units, &need, &StraightLineEta::default(), k, k_others);
        let by_id = |id: &UnitId| units.iter().find(|u| &u.id == id).unwrap();
        for rec in &r.suitable {
            let u = by_id(&rec.unit);
            prop_assert_eq!(u.status, UnitStatus::Available);
            prop_assert_eq!(u.unit_type, need.unit_type);
            prop_assert!(need.capabilities.is_subset(&u.capabilities));
        }
        let n_suitable = units
            .iter()
            .filter(|u| u.status == UnitStatus::Available && need.satisfied_by(u))
            .count();
        prop_assert_eq!(r.suitable.len(), n_suitable.min(k));
        for other in &r.others {
            let u = by_id(&other.recommendation.unit);
            prop_assert!(!need.satisfied_by(u));
            prop_assert!(other.shortfall.wrong_type || !other.shortfall.missing.is_empty());
            prop_assert!(r.suitable.iter().all(|s| s.unit != u.id));
        }
        prop_assert!(r.others.len() <= k_others);
    }
}
