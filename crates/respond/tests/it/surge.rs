//! Surge clustering against its naive twin: the grid index finds exactly what a scan of every cluster finds, and a
//! whole sequence of placements never puts two alerts farther apart than twice the radius into one incident.

use jikimi_respond::surge::{Cluster, find_by_scan};
use jikimi_respond::{
    ClusterIndex, Coordinates, IncidentId, Placement, SurgeConfig, Timestamp, haversine_m,
};
use proptest::prelude::*;
use std::collections::HashMap;

fn near_seoul() -> impl Strategy<Value = Coordinates> {
    // A few square kilometres, so neighbours are common; plus the occasional far point.
    prop_oneof![
        4 => (37.56f64..37.575, 126.97f64..126.99).prop_map(|(lat, lon)| Coordinates::new(lat, lon).unwrap()),
        1 => (-84.0f64..84.0, -180.0f64..180.0).prop_map(|(lat, lon)| Coordinates::new(lat, lon).unwrap()),
    ]
}

fn config() -> impl Strategy<Value = SurgeConfig> {
    (1.0f64..600.0, 1i64..900_000).prop_map(|(radius_m, window_ms)| SurgeConfig {
        radius_m,
        window_ms,
    })
}

proptest! {
    #[test]
    fn grid_lookup_equals_a_scan(
        config in config(),
        clusters in proptest::collection::vec((near_seoul(), 0i64..1_200_000), 0..60),
        probes in proptest::collection::vec((near_seoul(), 0i64..1_200_000), 1..30),
    ) {
        let mut index = ClusterIndex::new(config);
        let mut all = Vec::new();
        for (anchor, at) in clusters {
            let cluster = Cluster { incident_id: IncidentId::new_v4(), anchor, last_report_at: Timestamp::from_unix_ms(at) };
            index.insert(cluster);
            all.push(cluster);
        }
        for (position, at) in probes {
            let at = Timestamp::from_unix_ms(at);
            prop_assert_eq!(index.find(position, at), find_by_scan(&config, &all, position, at));
        }
    }

    #[test]
    fn members_of_one_incident_are_within_the_radius_of_its_anchor(
        config in config(),
        alerts in proptest::collection::vec((near_seoul(), 0i64..60_000), 1..120),
    ) {
        let mut index = ClusterIndex::new(config);
        let mut anchors: HashMap<IncidentId, Coordinates> = HashMap::new();
        let mut sorted = alerts;
        sorted.sort_by_key(|(_, at)| *at);
        for (position, at) in sorted {
            let id = IncidentId::new_v4();
            match index.place(id, Some(position), Timestamp::from_unix_ms(at)) {
                Placement::Open => { anchors.insert(id, position); }
                Placement::Join(joined) => {
                    let anchor = anchors.get(&joined).copied();
                    prop_assert!(anchor.is_some(), "joined an incident that was never opened");
                    if let Some(anchor) = anchor {
                        prop_assert!(haversine_m(anchor, position) <= config.radius_m);
                    }
                }
            }
        }
    }
}
