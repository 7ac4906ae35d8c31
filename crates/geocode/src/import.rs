//! OpenStreetMap PBF import: addressed features and named streets into [`AddressData`].
//!
//! Three passes keep memory proportional to what is kept, not to the extract: relations with `addr:*` (their outer
//! member ways), then ways (addressed, members of those relations, or named streets), then nodes (addressed nodes,
//! and the coordinates of the ways' vertices). Way refs whose node is missing (cropped extracts) are dropped.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use osmpbf::{Element, ElementReader, RelMemberType};

use crate::geo::{LatLon, Projection, ring_centroid};
use crate::{AddressData, AddressFeature, CivicAddress, GeocodeError, OsmRef, StreetWay};

/// Highway values that are not streets a caller would name as an address (paths, stairs, lifts, plans).
const NOT_STREETS: [&str; 11] = [
    "footway",
    "cycleway",
    "path",
    "steps",
    "corridor",
    "bridleway",
    "platform",
    "proposed",
    "construction",
    "elevator",
    "bus_stop",
];

/// The civic address in a tag list, when it has a street, a house number or a place name.
pub fn address_of<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<CivicAddress> {
    let mut a = CivicAddress::default();
    let mut place = None;
    let mut fallback_district = None;
    for (k, v) in tags {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let v = Some(v.to_string());
        match k {
            "addr:street" => a.street = v,
            "addr:housenumber" => a.house_number = v,
            "addr:postcode" => a.postcode = v,
            "addr:city" => a.city = v,
            "addr:country" => a.country = v.map(|c| c.to_ascii_uppercase()),
            "addr:province" | "addr:state" => a.state = v,
            "addr:district" | "addr:county" => a.district = v,
            "addr:suburb" => fallback_district = v,
            "addr:place" => place = v,
            _ => {}
        }
    }
    if a.street.is_none() {
        a.street = place;
    }
    if a.district.is_none() {
        a.district = fallback_district;
    }
    (a.street.is_some() || a.house_number.is_some()).then_some(a)
}

fn street_name<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut highway = None;
    let mut name = None;
    for (k, v) in tags {
        match k {
            "highway" => highway = Some(v),
            "name" => name = Some(v.trim()),
            _ => {}
        }
    }
    let highway = highway?;
    if NOT_STREETS.contains(&highway) {
        return None;
    }
    name.filter(|n| !n.is_empty()).map(str::to_string)
}

/// Import from a file path.
pub fn import_path(path: &std::path::Path) -> Result<AddressData, GeocodeError> {
    let open = || {
        ElementReader::from_path(path).map_err(|e| GeocodeError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    import_with(open)
}

/// Import from bytes in memory (the demo's embedded extract, tests).
pub fn import_bytes(bytes: &[u8]) -> Result<AddressData, GeocodeError> {
    import_with(|| Ok(ElementReader::new(bytes)))
}

fn pbf_error(e: osmpbf::Error) -> GeocodeError {
    GeocodeError::Pbf(e.to_string())
}

/// Import using `open` to (re)open the PBF for each pass.
///
/// Why `catch_unwind`: the decoder is third-party and fed untrusted files; a panic in it must become an error.
pub fn import_with<R: Read + Send, F: Fn() -> Result<ElementReader<R>, GeocodeError>>(
    open: F,
) -> Result<AddressData, GeocodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| import_inner(&open)))
        .unwrap_or_else(|_| Err(GeocodeError::Pbf("decoder failed on malformed data".into())))
}

enum WayUse {
    Addressed(CivicAddress),
    Street(String),
}

fn import_inner<R: Read + Send, F: Fn() -> Result<ElementReader<R>, GeocodeError>>(
    open: &F,
) -> Result<AddressData, GeocodeError> {
    // Pass 1: addressed relations and their outer ways.
    let mut relations: Vec<(i64, CivicAddress, Vec<i64>)> = Vec::new();
    let mut elements = 0usize;
    open()?
        .for_each(|el| {
            elements += 1;
            if let Element::Relation(r) = el
                && let Some(address) = address_of(r.tags())
            {
                let ways: Vec<i64> = r
                    .members()
                    .filter(|m| m.member_type == RelMemberType::Way)
                    .filter(|m| matches!(m.role(), Ok("outer") | Ok("")))
                    .map(|m| m.member_id)
                    .collect();
                if !ways.is_empty() {
                    relations.push((r.id(), address, ways));
                }
            }
        })
        .map_err(pbf_error)?;
    if elements == 0 {
        return Err(GeocodeError::EmptyPbf);
    }
    let member_ways: HashSet<i64> = relations
        .iter()
        .flat_map(|(_, _, w)| w.iter().copied())
        .collect();

    // Pass 2: ways.
    let mut ways: Vec<(i64, WayUse, Vec<i64>)> = Vec::new();
    let mut member_refs: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut needed: HashSet<i64> = HashSet::new();
    open()?
        .for_each(|el| {
            if let Element::Way(w) = el {
                let refs = || w.refs().collect::<Vec<i64>>();
                if member_ways.contains(&w.id()) {
                    let r = refs();
                    needed.extend(r.iter().copied());
                    member_refs.insert(w.id(), r);
                }
                let use_ = match address_of(w.tags()) {
                    Some(a) => Some(WayUse::Addressed(a)),
                    None => street_name(w.tags()).map(WayUse::Street),
                };
                if let Some(use_) = use_ {
                    let r = refs();
                    needed.extend(r.iter().copied());
                    ways.push((w.id(), use_, r));
                }
            }
        })
        .map_err(pbf_error)?;

    // Pass 3: nodes.
    let mut data = AddressData::default();
    let mut coords: HashMap<i64, LatLon> = HashMap::with_capacity(needed.len());
    let mut node = |id: i64, nlat: i64, nlon: i64, address: Option<CivicAddress>| {
        let Ok(p) = LatLon::new(nlat as f64 * 1e-9, nlon as f64 * 1e-9) else {
            return;
        };
        if needed.contains(&id) {
            coords.insert(id, p);
        }
        if let Some(address) = address {
            data.features.push(AddressFeature {
                osm: OsmRef::Node(id),
                address,
                point: p,
                rings: Vec::new(),
            });
        }
    };
    open()?
        .for_each(|el| match el {
            Element::Node(n) => node(n.id(), n.nano_lat(), n.nano_lon(), address_of(n.tags())),
            Element::DenseNode(n) => node(n.id(), n.nano_lat(), n.nano_lon(), address_of(n.tags())),
            _ => {}
        })
        .map_err(pbf_error)?;

    let mut missing = 0usize;
    let mut locate = |refs: &[i64]| -> (Vec<LatLon>, Vec<i64>) {
        let mut points = Vec::with_capacity(refs.len());
        let mut ids = Vec::with_capacity(refs.len());
        for r in refs {
            match coords.get(r) {
                Some(p) => {
                    points.push(*p);
                    ids.push(*r);
                }
                None => missing += 1,
            }
        }
        (points, ids)
    };
    for (id, use_, refs) in &ways {
        let (points, ids) = locate(refs);
        if points.is_empty() {
            continue;
        }
        match use_ {
            WayUse::Addressed(address) => {
                let rings = vec![points];
                data.features.push(AddressFeature {
                    osm: OsmRef::Way(*id),
                    address: address.clone(),
                    point: representative(&rings),
                    rings,
                });
            }
            WayUse::Street(name) if points.len() >= 2 => data.streets.push(StreetWay {
                name: name.clone(),
                points,
                nodes: ids,
            }),
            WayUse::Street(_) => {}
        }
    }
    for (id, address, members) in relations {
        let rings: Vec<Vec<LatLon>> = members
            .iter()
            .filter_map(|w| member_refs.get(w))
            .map(|refs| locate(refs).0)
            .filter(|ring| !ring.is_empty())
            .collect();
        if rings.is_empty() {
            continue;
        }
        data.features.push(AddressFeature {
            osm: OsmRef::Relation(id),
            address,
            point: representative(&rings),
            rings,
        });
    }
    data.refs_without_coords = missing;
    Ok(data)
}

/// A pin for an outline: the area centroid of its largest closed ring, else its first vertex.
fn representative(rings: &[Vec<LatLon>]) -> LatLon {
    let Some(first) = rings.first().and_then(|r| r.first()).copied() else {
        return LatLon { lat: 0.0, lon: 0.0 };
    };
    let projection = Projection::new(first.lat);
    let closed = rings
        .iter()
        .filter(|r| r.len() >= 4 && r.first() == r.last())
        .max_by_key(|r| r.len());
    match closed {
        Some(ring) => {
            let xy: Vec<[f64; 2]> = ring.iter().map(|p| projection.forward(*p)).collect();
            ring_centroid(&xy).map_or(first, |c| projection.inverse(c))
        }
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_errors() {
        assert!(matches!(import_bytes(&[]), Err(GeocodeError::EmptyPbf)));
        let garbage = [0u8, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7];
        assert!(matches!(import_bytes(&garbage), Err(GeocodeError::Pbf(_))));
    }

    #[test]
    fn address_tags() {
        let tags = [
            ("addr:street", "세종대로"),
            ("addr:housenumber", "110"),
            ("addr:country", "kr"),
            ("addr:suburb", "태평로1가"),
        ];
        let a = address_of(tags.iter().map(|(k, v)| (*k, *v))).expect("addressed");
        assert_eq!(a.country.as_deref(), Some("KR"));
        assert_eq!(a.district.as_deref(), Some("태평로1가"));
        assert!(address_of([("building", "yes")].into_iter()).is_none());
    }
}
