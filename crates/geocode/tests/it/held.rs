//! Reverse geocoding agrees with the nearest addressed OSM feature on a held set of points.
//!
//! The truth is computed here, from the raw PBF with `osmpbf` directly and this file's own geometry (not from
//! the crate's importer or index): every node, way and relation with `addr:housenumber` or `addr:street`; the
//! distance to a node is to its point, to a way or relation to its outline (zero inside a closed ring). The held
//! points are addressed features' own positions moved a few metres in a fixed pattern.

use std::collections::HashMap;

use jikimi_geocode::index::ReverseOptions;
use jikimi_geocode::{LatLon, Method, OsmRef};
use osmpbf::{Element, ElementReader, RelMemberType};

use crate::common::{helsinki, helsinki_bytes};

struct Raw {
    osm: OsmRef,
    street: Option<String>,
    number: Option<String>,
    /// A point (len 1) or polylines.
    lines: Vec<Vec<(f64, f64)>>,
}

fn addressed(
    tags: &mut dyn Iterator<Item = (&str, &str)>,
) -> Option<(Option<String>, Option<String>)> {
    let (mut street, mut number) = (None, None);
    for (k, v) in tags {
        match k {
            "addr:street" if !v.trim().is_empty() => street = Some(v.trim().to_string()),
            "addr:place" if street.is_none() && !v.trim().is_empty() => {
                street = Some(v.trim().to_string())
            }
            "addr:housenumber" if !v.trim().is_empty() => number = Some(v.trim().to_string()),
            _ => {}
        }
    }
    (street.is_some() || number.is_some()).then_some((street, number))
}

/// Metres east and north of a fixed origin (60.17 N): the test's own projection.
fn xy(lat: f64, lon: f64) -> (f64, f64) {
    const R: f64 = 6_371_008.8;
    let k = 60.17_f64.to_radians().cos();
    (lon.to_radians() * R * k, lat.to_radians() * R)
}

fn raw_features() -> Vec<Raw> {
    let mut coords: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut way_refs: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut nodes = Vec::new();
    let mut ways = Vec::new();
    let mut relations = Vec::new();
    ElementReader::new(helsinki_bytes())
        .for_each(|el| match el {
            Element::DenseNode(n) => {
                coords.insert(n.id(), (n.lat(), n.lon()));
                if let Some((s, h)) = addressed(&mut n.tags()) {
                    nodes.push((n.id(), s, h));
                }
            }
            Element::Node(n) => {
                coords.insert(n.id(), (n.lat(), n.lon()));
                if let Some((s, h)) = addressed(&mut n.tags()) {
                    nodes.push((n.id(), s, h));
                }
            }
            Element::Way(w) => {
                way_refs.insert(w.id(), w.refs().collect());
                if let Some((s, h)) = addressed(&mut w.tags()) {
                    ways.push((w.id(), s, h));
                }
            }
            Element::Relation(r) => {
                if let Some((s, h)) = addressed(&mut r.tags()) {
                    let members: Vec<i64> = r
                        .members()
                        .filter(|m| m.member_type == RelMemberType::Way)
                        .filter(|m| matches!(m.role(), Ok("outer") | Ok("")))
                        .map(|m| m.member_id)
                        .collect();
                    relations.push((r.id(), s, h, members));
                }
            }
        })
        .expect("reading the PBF");
    let line = |refs: &[i64]| -> Vec<(f64, f64)> {
        refs.iter()
            .filter_map(|r| coords.get(r))
            .map(|(la, lo)| xy(*la, *lo))
            .collect()
    };
    let mut out = Vec::new();
    for (id, street, number) in nodes {
        let (la, lo) = coords[&id];
        out.push(Raw {
            osm: OsmRef::Node(id),
            street,
            number,
            lines: vec![vec![xy(la, lo)]],
        });
    }
    for (id, street, number) in ways {
        let l = line(&way_refs[&id]);
        if !l.is_empty() {
            out.push(Raw {
                osm: OsmRef::Way(id),
                street,
                number,
                lines: vec![l],
            });
        }
    }
    for (id, street, number, members) in relations {
        let lines: Vec<_> = members
            .iter()
            .filter_map(|m| way_refs.get(m))
            .map(|r| line(r))
            .filter(|l| !l.is_empty())
            .collect();
        if !lines.is_empty() {
            out.push(Raw {
                osm: OsmRef::Relation(id),
                street,
                number,
                lines,
            });
        }
    }
    out
}

fn distance(p: (f64, f64), f: &Raw) -> f64 {
    let mut best = f64::INFINITY;
    for l in &f.lines {
        if l.len() == 1 {
            best = best.min(((l[0].0 - p.0).powi(2) + (l[0].1 - p.1).powi(2)).sqrt());
            continue;
        }
        if l.len() >= 4 && l.first() == l.last() {
            // Ray casting.
            let mut inside = false;
            for w in l.windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0)
                {
                    inside = !inside;
                }
            }
            if inside {
                return 0.0;
            }
        }
        for w in l.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            best = best.min(((a.0 + t * dx - p.0).powi(2) + (a.1 + t * dy - p.1).powi(2)).sqrt());
        }
    }
    best
}

#[test]
fn reverse_agrees_with_the_nearest_addressed_osm_feature() {
    let raw = raw_features();
    assert!(
        raw.len() > 100,
        "only {} addressed features in the extract",
        raw.len()
    );
    let index = helsinki();
    assert_eq!(
        index.n_features(),
        raw.len(),
        "importer and raw scan count different features"
    );
    let by_ref: HashMap<OsmRef, &Raw> = raw.iter().map(|r| (r.osm, r)).collect();
    let options = ReverseOptions::default();
    let mut held = 0;
    for (i, f) in raw.iter().enumerate().step_by(3) {
        // A vertex of the feature, moved 2 to 9 m in one of eight directions.
        let (east, north) = f.lines[0][0];
        let angle = (i % 8) as f64 * std::f64::consts::FRAC_PI_4;
        let r = 2.0 + (i % 8) as f64;
        let p = (east + r * angle.cos(), north + r * angle.sin());
        let (best, truth) = raw
            .iter()
            .map(|g| (distance(p, g), g))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("features");
        let k = 60.17_f64.to_radians().cos();
        const R: f64 = 6_371_008.8;
        let query = LatLon {
            lat: (p.1 / R).to_degrees(),
            lon: (p.0 / (R * k)).to_degrees(),
        };
        let answer = index
            .reverse(query, options)
            .expect("an answer near an addressed feature");
        assert_eq!(answer.method, Method::Address, "{query:?}");
        let chosen = by_ref[&answer.osm.expect("addressed answer names its feature")];
        // The chosen feature is a nearest one (ties between equally near features either way).
        let chosen_d = distance(p, chosen);
        assert!(
            (chosen_d - best).abs() < 0.05,
            "{query:?}: answered {} at {chosen_d:.2} m, nearest is {} at {best:.2} m",
            chosen.osm,
            truth.osm
        );
        assert!((answer.distance_m - best).abs() < 0.05 + best * 1e-3);
        assert_eq!(answer.address.street, chosen.street);
        assert_eq!(answer.address.house_number, chosen.number);
        held += 1;
    }
    assert!(held > 50, "{held}");
}

#[test]
fn index_equals_scan_on_a_grid() {
    let index = helsinki();
    let mut n_some = 0;
    for i in 0..40 {
        for j in 0..40 {
            let p = LatLon {
                lat: 60.1642 + i as f64 * 0.00037,
                lon: 24.9352 + j as f64 * 0.00045,
            };
            let fast = index.nearest_feature(p, 60.0);
            let slow = index.nearest_feature_scan(p, 60.0);
            assert_eq!(fast.map(|f| f.1), slow.map(|s| s.1), "{p:?}");
            n_some += usize::from(fast.is_some());
        }
    }
    assert!(n_some > 400, "{n_some}");
}

#[test]
fn far_from_addresses_the_nearest_street_answers() {
    let index = helsinki();
    // Every held point in the extract gets some answer; those answered by street name the street and say so.
    let mut streets = 0;
    for i in 0..30 {
        for j in 0..30 {
            let p = LatLon {
                lat: 60.1642 + i as f64 * 0.0005,
                lon: 24.9352 + j as f64 * 0.0006,
            };
            if let Some(r) = index.reverse(
                p,
                ReverseOptions {
                    address_radius_m: 5.0,
                    street_radius_m: 300.0,
                },
            ) && r.method == Method::Street
            {
                {
                    streets += 1;
                    assert!(
                        r.address.street.is_some()
                            && r.address.house_number.is_none()
                            && r.osm.is_none()
                    );
                    assert_ne!(r.cross_street.as_deref(), r.address.street.as_deref());
                }
            }
        }
    }
    assert!(streets > 10, "{streets}");
}
