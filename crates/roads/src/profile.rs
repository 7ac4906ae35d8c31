//! Which OpenStreetMap ways are drivable, in which direction, and how fast: pure functions on tags.
//!
//! The drivable/access/oneway rules are exactly those of `shared/reference/roads/make_pairs.py`
//! (so `--metric distance` reproduces the reference lengths); speeds are ours and documented here.

use serde::{Deserialize, Serialize};

/// `highway` values that make a way part of the road network (exact match).
///
/// `service`, `track`, `pedestrian`, `footway`, `cycleway`, `path`, `steps`, `construction`,
/// `proposed`, `platform`, `crossing` are deliberately absent (as in OSMnx/pyrosm "drive").
pub const DRIVABLE_HIGHWAY: &[&str] = &[
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
];

/// Access tags consulted in this order; the first present one decides.
const ACCESS_KEYS: &[&str] = &["motorcar", "motor_vehicle", "vehicle", "access"];

/// Travel profile: the graph is the same, only speeds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Profile {
    /// Legal speed: `maxspeed` where tagged, else the default of the highway class.
    Civilian,
    /// Blue-light driving: the civilian speed times 1.2, at most 130 km/h, and never below
    /// 20 km/h (emergency vehicles do not crawl at walking pace on living streets).
    Emergency,
}

/// Allowed directions of travel along a way, relative to its node order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    pub forward: bool,
    pub backward: bool,
}

/// What the profile decided about one drivable way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WayRule {
    pub directions: Directions,
    /// Speed in km/h used for travel time (always > 0).
    pub speed_kmh: f64,
}

/// Tags of one way, looked up by key. A small linear map: ways carry a handful of tags.
pub trait Tags {
    fn get(&self, key: &str) -> Option<&str>;
}

impl Tags for [(&str, &str)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl Tags for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Decide whether a way is part of the network; `None` means it is not drivable.
pub fn way_rule(tags: &(impl Tags + ?Sized), profile: Profile) -> Option<WayRule> {
    let highway = tags.get("highway")?;
    if !DRIVABLE_HIGHWAY.contains(&highway) {
        return None;
    }
    if tags.get("area") == Some("yes") || is_closed(tags) {
        return None;
    }
    let directions = directions(tags)?;
    let civilian = tags
        .get("maxspeed")
        .and_then(parse_maxspeed_kmh)
        .unwrap_or_else(|| default_speed_kmh(highway));
    let speed_kmh = match profile {
        Profile::Civilian => civilian,
        Profile::Emergency => (civilian * 1.2).clamp(20.0, 130.0),
    };
    Some(WayRule {
        directions,
        speed_kmh,
    })
}

/// Access decision: the first of `motorcar`, `motor_vehicle`, `vehicle`, `access` present decides;
/// closed iff its `;`-separated values contain `no` or `private`.
fn is_closed(tags: &(impl Tags + ?Sized)) -> bool {
    ACCESS_KEYS
        .iter()
        .find_map(|k| tags.get(k))
        .is_some_and(|v| v.split(';').any(|p| matches!(p.trim(), "no" | "private")))
}

/// Directions from `oneway`, `junction` and `highway`; `None` drops the way (`oneway=reversible`).
fn directions(tags: &(impl Tags + ?Sized)) -> Option<Directions> {
    const FWD: Directions = Directions {
        forward: true,
        backward: false,
    };
    const BWD: Directions = Directions {
        forward: false,
        backward: true,
    };
    const BOTH: Directions = Directions {
        forward: true,
        backward: true,
    };
    if let Some(ow) = tags.get("oneway") {
        match ow.trim().to_lowercase().as_str() {
            "reversible" => return None,
            "yes" | "true" | "1" => return Some(FWD),
            "-1" | "reverse" => return Some(BWD),
            "no" | "false" | "0" | "alternating" => return Some(BOTH),
            _ => {}
        }
    }
    let implied = matches!(tags.get("junction"), Some("roundabout" | "circular"))
        || tags.get("highway") == Some("motorway");
    Some(if implied { FWD } else { BOTH })
}

/// Default speed (km/h) per highway class when `maxspeed` is absent or unparseable.
///
/// Urban-leaning values (the product dispatches in cities): motorway 100, trunk 80, primary 60,
/// secondary 50, tertiary 40, unclassified/residential/road 30, living_street 10; `_link` roads
/// are slower than their class.
pub fn default_speed_kmh(highway: &str) -> f64 {
    match highway {
        "motorway" => 100.0,
        "motorway_link" => 60.0,
        "trunk" => 80.0,
        "trunk_link" => 50.0,
        "primary" => 60.0,
        "primary_link" => 40.0,
        "secondary" => 50.0,
        "secondary_link" => 40.0,
        "tertiary" => 40.0,
        "tertiary_link" => 30.0,
        "living_street" => 10.0,
        _ => 30.0,
    }
}

/// Parse `maxspeed`: plain km/h (`50`), `50 km/h`, `30 mph`, the Finnish/common implicit zones
/// (`FI:urban` 50, `FI:rural` 80, `FI:living_street` 20, `*:motorway` 120), `walk` (6).
/// Multiple values (`50;30`) take the lowest. `none`, `signals` etc. give `None`
/// (the class default applies).
pub fn parse_maxspeed_kmh(raw: &str) -> Option<f64> {
    raw.split(';')
        .filter_map(|part| parse_one_maxspeed(part.trim()))
        .min_by(f64::total_cmp)
}

fn parse_one_maxspeed(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    if let Some((_, zone)) = lower.split_once(':') {
        return match zone {
            "urban" => Some(50.0),
            "rural" => Some(80.0),
            "living_street" => Some(20.0),
            "motorway" => Some(120.0),
            "trunk" => Some(100.0),
            _ => None,
        };
    }
    if lower == "walk" {
        return Some(6.0);
    }
    let (num, factor) = if let Some(n) = lower.strip_suffix("mph") {
        (n.trim(), 1.609_344)
    } else if let Some(n) = lower.strip_suffix("km/h") {
        (n.trim(), 1.0)
    } else if let Some(n) = lower.strip_suffix("kmh") {
        (n.trim(), 1.0)
    } else {
        (lower.as_str(), 1.0)
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v > 0.0 && v <= 300.0).then_some(v * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(tags: &[(&str, &str)]) -> Option<WayRule> {
        way_rule(tags, Profile::Civilian)
    }

    fn dirs(tags: &[(&str, &str)]) -> Option<(bool, bool)> {
        rule(tags).map(|r| (r.directions.forward, r.directions.backward))
    }

    #[test]
    fn drivable_classes() {
        assert!(rule(&[("highway", "residential")]).is_some());
        assert!(rule(&[("highway", "service")]).is_none());
        assert!(rule(&[("highway", "footway")]).is_none());
        assert!(rule(&[("name", "x")]).is_none());
        assert!(rule(&[("highway", "primary"), ("area", "yes")]).is_none());
    }

    #[test]
    fn access_first_key_decides() {
        assert!(rule(&[("highway", "residential"), ("access", "private")]).is_none());
        assert!(rule(&[("highway", "residential"), ("access", "no; yes")]).is_none());
        // motorcar=yes comes first and overrides access=no
        assert!(
            rule(&[
                ("highway", "residential"),
                ("access", "no"),
                ("motorcar", "yes")
            ])
            .is_some()
        );
        assert!(rule(&[("highway", "residential"), ("access", "destination")]).is_some());
        assert!(rule(&[("highway", "residential"), ("vehicle", "private")]).is_none());
    }

    #[test]
    fn oneway_rules() {
        let h = ("highway", "residential");
        assert_eq!(dirs(&[h]), Some((true, true)));
        assert_eq!(dirs(&[h, ("oneway", "yes")]), Some((true, false)));
        assert_eq!(dirs(&[h, ("oneway", " True ")]), Some((true, false)));
        assert_eq!(dirs(&[h, ("oneway", "1")]), Some((true, false)));
        assert_eq!(dirs(&[h, ("oneway", "-1")]), Some((false, true)));
        assert_eq!(dirs(&[h, ("oneway", "reverse")]), Some((false, true)));
        assert_eq!(dirs(&[h, ("oneway", "reversible")]), None);
        assert_eq!(dirs(&[h, ("oneway", "alternating")]), Some((true, true)));
        assert_eq!(dirs(&[h, ("junction", "roundabout")]), Some((true, false)));
        assert_eq!(dirs(&[h, ("junction", "circular")]), Some((true, false)));
        assert_eq!(
            dirs(&[h, ("junction", "roundabout"), ("oneway", "no")]),
            Some((true, true))
        );
        assert_eq!(dirs(&[("highway", "motorway")]), Some((true, false)));
        assert_eq!(
            dirs(&[("highway", "motorway"), ("oneway", "weird")]),
            Some((true, false))
        );
        assert_eq!(dirs(&[h, ("oneway", "weird")]), Some((true, true)));
    }

    #[test]
    fn maxspeed_parsing() {
        assert_eq!(parse_maxspeed_kmh("50"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("40 km/h"), Some(40.0));
        assert_eq!(parse_maxspeed_kmh("FI:urban"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("50;30"), Some(30.0));
        assert_eq!(parse_maxspeed_kmh("none"), None);
        assert_eq!(parse_maxspeed_kmh("-5"), None);
        let mph = parse_maxspeed_kmh("30 mph").unwrap_or(0.0);
        assert!((mph - 48.28).abs() < 0.01);
    }

    #[test]
    fn speeds_per_profile() {
        let tags = [("highway", "residential"), ("maxspeed", "40")];
        assert_eq!(rule(&tags).map(|r| r.speed_kmh), Some(40.0));
        assert_eq!(
            rule(&[("highway", "primary")]).map(|r| r.speed_kmh),
            Some(60.0)
        );
        let e = way_rule(&tags[..], Profile::Emergency).map(|r| r.speed_kmh);
        assert_eq!(e, Some(48.0));
        let walk = way_rule(&[("highway", "living_street")][..], Profile::Emergency);
        assert_eq!(walk.map(|r| r.speed_kmh), Some(20.0));
    }
}
