//! OpenStreetMap PBF import: drivable ways to road segments with length and travel time.
//!
//! Two passes over the file (ways, then only the nodes they reference) keep memory proportional
//! to the road network rather than to the whole extract.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use osmpbf::{Element, ElementReader};
use serde::{Deserialize, Serialize};

use crate::RoadsError;
use crate::geo::{LatLon, haversine_m};
use crate::profile::{Directions, Profile, way_rule};

/// One piece of a way between two consecutive nodes: the unit of snapping and the source of arcs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub a: u32,
    pub b: u32,
    /// Travel allowed a -> b.
    pub forward: bool,
    /// Travel allowed b -> a.
    pub backward: bool,
    pub length_m: f64,
    pub duration_s: f64,
}

/// The imported road network before preprocessing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoadGraph {
    pub coords: Vec<LatLon>,
    pub osm_ids: Vec<i64>,
    pub segments: Vec<Segment>,
    /// Counts for the import report.
    pub drivable_ways: usize,
    pub refs_without_coords: usize,
}

impl RoadGraph {
    /// A graph made in code (generated networks, tests): node `i` has OSM id `i`, each segment counts as a way.
    pub fn synthetic(coords: Vec<LatLon>, segments: Vec<Segment>) -> RoadGraph {
        RoadGraph {
            osm_ids: (0..coords.len() as i64).collect(),
            drivable_ways: segments.len(),
            coords,
            segments,
            refs_without_coords: 0,
        }
    }
}

struct WayRec {
    refs: Vec<i64>,
    directions: Directions,
    speed_kmh: f64,
}

/// Import from a file path.
pub fn import_path(path: &std::path::Path, profile: Profile) -> Result<RoadGraph, RoadsError> {
    let open = || {
        ElementReader::from_path(path).map_err(|e| RoadsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    import_with(open, profile)
}

/// Import from bytes already in memory (tests, fuzzing).
pub fn import_bytes(bytes: &[u8], profile: Profile) -> Result<RoadGraph, RoadsError> {
    import_with(|| Ok(ElementReader::new(bytes)), profile)
}

fn pbf_error(e: osmpbf::Error) -> RoadsError {
    RoadsError::Pbf(e.to_string())
}

/// Import using `open` to (re)open the PBF for each pass.
///
/// Why `catch_unwind`: the PBF decoder is third-party and fed untrusted files; a panic inside it
/// (e.g. arithmetic overflow on a crafted block) must surface as a clean error, not abort the caller.
pub fn import_with<R: Read + Send, F: Fn() -> Result<ElementReader<R>, RoadsError>>(
    open: F,
    profile: Profile,
) -> Result<RoadGraph, RoadsError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        import_inner(&open, profile)
    }))
    .unwrap_or_else(|_| Err(RoadsError::Pbf("decoder failed on malformed data".into())))
}

fn import_inner<R: Read + Send, F: Fn() -> Result<ElementReader<R>, RoadsError>>(
    open: &F,
    profile: Profile,
) -> Result<RoadGraph, RoadsError> {
    // Pass 1: drivable ways.
    let mut ways: Vec<WayRec> = Vec::new();
    let mut needed: HashSet<i64> = HashSet::new();
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut elements = 0usize;
    open()?
        .for_each(|el| {
            elements += 1;
            if let Element::Way(w) = el {
                tags.clear();
                tags.extend(w.tags().map(|(k, v)| (k.to_owned(), v.to_owned())));
                if let Some(rule) = way_rule(&tags, profile) {
                    let refs: Vec<i64> = w.refs().collect();
                    if refs.len() >= 2 {
                        needed.extend(refs.iter().copied());
                        ways.push(WayRec {
                            refs,
                            directions: rule.directions,
                            speed_kmh: rule.speed_kmh,
                        });
                    }
                }
            }
        })
        .map_err(pbf_error)?;
    if elements == 0 {
        return Err(RoadsError::EmptyPbf);
    }
    if ways.is_empty() {
        return Err(RoadsError::NoRoads);
    }
    // Pass 2: coordinates of referenced nodes only. Invalid coordinates count as missing.
    let mut coords_by_id: HashMap<i64, LatLon> = HashMap::with_capacity(needed.len());
    let mut keep = |id: i64, nlat: i64, nlon: i64| {
        if needed.contains(&id)
            && let Ok(p) = LatLon::new(nlat as f64 * 1e-9, nlon as f64 * 1e-9)
        {
            coords_by_id.insert(id, p);
        }
    };
    open()?
        .for_each(|el| match el {
            Element::Node(n) => keep(n.id(), n.nano_lat(), n.nano_lon()),
            Element::DenseNode(n) => keep(n.id(), n.nano_lat(), n.nano_lon()),
            _ => {}
        })
        .map_err(pbf_error)?;

    let mut g = RoadGraph {
        drivable_ways: ways.len(),
        ..RoadGraph::default()
    };
    let mut index: HashMap<i64, u32> = HashMap::new();
    let mut node = |id: i64, p: LatLon, g: &mut RoadGraph| -> Result<u32, RoadsError> {
        if let Some(&i) = index.get(&id) {
            return Ok(i);
        }
        let i = u32::try_from(g.coords.len()).map_err(|_| RoadsError::TooLarge)?;
        index.insert(id, i);
        g.coords.push(p);
        g.osm_ids.push(id);
        Ok(i)
    };
    for w in &ways {
        g.refs_without_coords += w
            .refs
            .iter()
            .filter(|r| !coords_by_id.contains_key(r))
            .count();
        for pair in w.refs.windows(2) {
            let (ra, rb) = (pair[0], pair[1]);
            if ra == rb {
                continue;
            }
            let (Some(&pa), Some(&pb)) = (coords_by_id.get(&ra), coords_by_id.get(&rb)) else {
                continue;
            };
            let a = node(ra, pa, &mut g)?;
            let b = node(rb, pb, &mut g)?;
            let length_m = haversine_m(pa, pb);
            g.segments.push(Segment {
                a,
                b,
                forward: w.directions.forward,
                backward: w.directions.backward,
                length_m,
                duration_s: length_m / (w.speed_kmh / 3.6),
            });
        }
    }
    if g.segments.is_empty() {
        return Err(RoadsError::NoRoads);
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_errors() {
        assert!(matches!(
            import_bytes(&[], Profile::Civilian),
            Err(RoadsError::EmptyPbf)
        ));
        let garbage = [0u8, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7];
        let r = import_bytes(&garbage, Profile::Civilian);
        assert!(matches!(r, Err(RoadsError::Pbf(_))), "{r:?}");
    }
}
