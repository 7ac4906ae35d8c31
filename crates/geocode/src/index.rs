//! The address index: nearest addressed feature, nearest street and crossing, and prefix search.
//!
//! Geometry is projected once (equirectangular about the data's mean latitude) and kept in two `rstar` trees: the
//! bounding rectangles of addressed features and the segments of named streets. A rectangle's distance is a lower
//! bound of its feature's, so the nearest search walks rectangles in order and stops once the next one is farther
//! than the best exact distance found: the answer equals a brute-force scan ([`AddressIndex::nearest_feature_scan`],
//! the reference of tests and `jikimi bench geocode`).

use std::collections::HashMap;

use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{AABB, Envelope as _, RTree};
use serde::{Deserialize, Serialize};

use crate::geo::{LatLon, Projection, in_ring, segment_distance2};
use crate::text::normalise;
use crate::{AddressData, AddressFeature, CivicAddress, OsmRef};

/// How a reverse answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The nearest feature carrying `addr:*` within the address radius.
    Address,
    /// No addressed feature near enough: the nearest named street (and its nearest crossing, if any).
    Street,
}

/// A reverse-geocoding answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reverse {
    pub method: Method,
    pub address: CivicAddress,
    /// Metres from the query point to the feature (zero inside a building) or to the street.
    pub distance_m: f64,
    /// The street crossing the answer's street nearest the point (street method only).
    pub cross_street: Option<String>,
    /// The addressed feature (address method only).
    pub osm: Option<OsmRef>,
}

/// Search radii for [`AddressIndex::reverse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseOptions {
    /// An addressed feature farther than this is not the point's address.
    pub address_radius_m: f64,
    /// A street farther than this is not the point's street either: no answer.
    pub street_radius_m: f64,
}

impl Default for ReverseOptions {
    fn default() -> Self {
        Self {
            address_radius_m: 50.0,
            street_radius_m: 300.0,
        }
    }
}

/// One forward-search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub address: CivicAddress,
    /// The one-line form ([`crate::format`]).
    pub label: String,
    /// Where to move the map: the feature's pin, or a point on the street.
    pub point: LatLon,
    /// The addressed feature; `None` for a street without numbered addresses.
    pub osm: Option<OsmRef>,
}

type FeatureRect = GeomWithData<Rectangle<[f64; 2]>, u32>;
type StreetSegment = GeomWithData<Line<[f64; 2]>, u32>;

/// Addresses and streets of one extract, indexed. Build once ([`AddressIndex::new`]); all queries take `&self`.
#[derive(Debug)]
pub struct AddressIndex {
    projection: Projection,
    features: Vec<AddressFeature>,
    /// Per feature: its point (nodes) or rings, projected.
    shapes: Vec<Vec<Vec<[f64; 2]>>>,
    feature_tree: RTree<FeatureRect>,
    street_names: Vec<String>,
    street_tree: RTree<StreetSegment>,
    /// Per street name: its junctions with other named streets (projected point, other name).
    junctions: Vec<Vec<([f64; 2], u32)>>,
    /// Per street name: a point on it, for search results.
    street_points: Vec<LatLon>,
    /// Sorted search keys: (normalised "street number", feature index or `u32::MAX - street`).
    keys: Vec<(String, Target)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Feature(u32),
    Street(u32),
}

impl AddressIndex {
    /// Indexes `data`. Features and streets beyond `u32::MAX` are not expected from a city extract and are dropped.
    pub fn new(data: AddressData) -> Self {
        let AddressData {
            features, streets, ..
        } = data;
        let n = (features.len() + streets.len()).max(1) as f64;
        let mean_lat = features.iter().map(|f| f.point.lat).sum::<f64>()
            + streets
                .iter()
                .filter_map(|s| s.points.first())
                .map(|p| p.lat)
                .sum::<f64>();
        let projection = Projection::new(mean_lat / n);

        let shapes: Vec<Vec<Vec<[f64; 2]>>> = features
            .iter()
            .map(|f| {
                if f.rings.is_empty() {
                    vec![vec![projection.forward(f.point)]]
                } else {
                    f.rings
                        .iter()
                        .map(|r| r.iter().map(|p| projection.forward(*p)).collect())
                        .collect()
                }
            })
            .collect();
        let rects: Vec<FeatureRect> = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, rings)| {
                let mut pts = rings.iter().flatten().copied();
                let first = pts.next()?;
                let aabb = pts.fold(AABB::from_point(first), |b, p| {
                    b.merged(&AABB::from_point(p))
                });
                Some(GeomWithData::new(
                    Rectangle::from_aabb(aabb),
                    u32::try_from(i).ok()?,
                ))
            })
            .collect();

        // Street names, their segments, and the nodes they share.
        let mut name_ids: HashMap<String, u32> = HashMap::new();
        let mut street_names: Vec<String> = Vec::new();
        let mut street_points: Vec<LatLon> = Vec::new();
        let mut segments: Vec<StreetSegment> = Vec::new();
        let mut node_names: HashMap<i64, (LatLon, Vec<u32>)> = HashMap::new();
        for s in &streets {
            let id = *name_ids.entry(s.name.clone()).or_insert_with(|| {
                street_names.push(s.name.clone());
                street_points.push(s.points[s.points.len() / 2]);
                (street_names.len() - 1) as u32
            });
            for w in s.points.windows(2) {
                segments.push(GeomWithData::new(
                    Line::new(projection.forward(w[0]), projection.forward(w[1])),
                    id,
                ));
            }
            for (node, p) in s.nodes.iter().zip(&s.points) {
                let entry = node_names.entry(*node).or_insert((*p, Vec::new()));
                if !entry.1.contains(&id) {
                    entry.1.push(id);
                }
            }
        }
        let mut junctions: Vec<Vec<([f64; 2], u32)>> = vec![Vec::new(); street_names.len()];
        for (p, names) in node_names.values() {
            for a in names {
                for b in names {
                    if a != b {
                        junctions[*a as usize].push((projection.forward(*p), *b));
                    }
                }
            }
        }

        let mut keys: Vec<(String, Target)> = Vec::new();
        for (i, f) in features.iter().enumerate() {
            let street = f.address.street.as_deref().unwrap_or("");
            let number = f.address.house_number.as_deref().unwrap_or("");
            for key in word_keys(street, number) {
                keys.push((key, Target::Feature(i as u32)));
            }
        }
        for (i, name) in street_names.iter().enumerate() {
            for key in word_keys(name, "") {
                keys.push((key, Target::Street(i as u32)));
            }
        }
        keys.sort();

        Self {
            projection,
            features,
            shapes,
            feature_tree: RTree::bulk_load(rects),
            street_names,
            street_tree: RTree::bulk_load(segments),
            junctions,
            street_points,
            keys,
        }
    }

    /// Number of addressed features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Number of distinct street names.
    pub fn n_streets(&self) -> usize {
        self.street_names.len()
    }

    /// The addressed features, in import order.
    pub fn features(&self) -> &[AddressFeature] {
        &self.features
    }

    /// Squared planar distance from a projected point to feature `i`: zero inside a closed ring.
    fn feature_distance2(&self, i: usize, p: [f64; 2]) -> f64 {
        let mut best = f64::INFINITY;
        for ring in &self.shapes[i] {
            if ring.len() == 1 {
                let (dx, dy) = (ring[0][0] - p[0], ring[0][1] - p[1]);
                best = best.min(dx * dx + dy * dy);
                continue;
            }
            if ring.len() >= 4 && ring.first() == ring.last() && in_ring(p, ring) {
                return 0.0;
            }
            for w in ring.windows(2) {
                best = best.min(segment_distance2(p, w[0], w[1]));
            }
        }
        best
    }

    /// The nearest addressed feature to `p` within `radius_m` and its distance in metres.
    pub fn nearest_feature(&self, p: LatLon, radius_m: f64) -> Option<(usize, f64)> {
        let xy = self.projection.forward(p);
        let limit2 = radius_m * radius_m;
        let mut best: Option<(usize, f64)> = None;
        for (rect, bound2) in self.feature_tree.nearest_neighbor_iter_with_distance_2(xy) {
            let best2 = best.map_or(limit2, |(_, d2)| d2);
            if bound2 > best2 {
                break;
            }
            let i = rect.data as usize;
            let d2 = self.feature_distance2(i, xy);
            if d2 <= best2 && best.is_none_or(|(j, b2)| d2 < b2 || (d2 == b2 && i < j)) {
                best = Some((i, d2));
            }
        }
        best.map(|(i, d2)| (i, d2.sqrt()))
    }

    /// The same answer as [`AddressIndex::nearest_feature`] by scanning every feature: the reference.
    pub fn nearest_feature_scan(&self, p: LatLon, radius_m: f64) -> Option<(usize, f64)> {
        let xy = self.projection.forward(p);
        let limit2 = radius_m * radius_m;
        let mut best: Option<(usize, f64)> = None;
        for i in 0..self.features.len() {
            let d2 = self.feature_distance2(i, xy);
            if d2 <= limit2 && best.is_none_or(|(_, b2)| d2 < b2) {
                best = Some((i, d2));
            }
        }
        best.map(|(i, d2)| (i, d2.sqrt()))
    }

    /// The point's civic address: the nearest addressed feature within the address radius, else the nearest named
    /// street within the street radius (with its nearest crossing, and the city and postcode of the nearest
    /// addressed feature). `None` when neither is near.
    pub fn reverse(&self, p: LatLon, options: ReverseOptions) -> Option<Reverse> {
        if let Some((i, distance_m)) = self.nearest_feature(p, options.address_radius_m) {
            let f = &self.features[i];
            return Some(Reverse {
                method: Method::Address,
                address: f.address.clone(),
                distance_m,
                cross_street: None,
                osm: Some(f.osm),
            });
        }
        let xy = self.projection.forward(p);
        let (segment, d2) = self
            .street_tree
            .nearest_neighbor_iter_with_distance_2(xy)
            .next()?;
        if d2 > options.street_radius_m * options.street_radius_m {
            return None;
        }
        let name = segment.data;
        let cross_street = self.junctions[name as usize]
            .iter()
            .min_by(|a, b| dist2(a.0, xy).total_cmp(&dist2(b.0, xy)))
            .map(|(_, other)| self.street_names[*other as usize].clone());
        let around = self
            .feature_tree
            .nearest_neighbor(xy)
            .map(|r| &self.features[r.data as usize].address);
        Some(Reverse {
            method: Method::Street,
            address: CivicAddress {
                street: Some(self.street_names[name as usize].clone()),
                house_number: None,
                postcode: around.and_then(|a| a.postcode.clone()),
                city: around.and_then(|a| a.city.clone()),
                country: around.and_then(|a| a.country.clone()),
                state: around.and_then(|a| a.state.clone()),
                district: around.and_then(|a| a.district.clone()),
            },
            distance_m: d2.sqrt(),
            cross_street,
            osm: None,
        })
    }

    /// Addresses and streets matching what a dispatcher typed: every normalised word of the query, in order, as
    /// a prefix of a street's words followed by the house number ("mannerh 5", "esplanadi 1", "세종대로 11"). Text
    /// after a comma (a city) is ignored. At most `limit` hits, exact matches first, then by street and number.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let head = query.split(',').next().unwrap_or("");
        let q = normalise(head);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let start = self.keys.partition_point(|(k, _)| k.as_str() < q.as_str());
        // Bounded so a one-letter query costs little; enough to sort a long street's numbers.
        let mut candidates: Vec<&(String, Target)> = self.keys[start..]
            .iter()
            .take_while(|(k, _)| k.starts_with(&q))
            .take(4_096)
            .collect();
        candidates.sort_by(|a, b| {
            (a.0 != q)
                .cmp(&(b.0 != q))
                .then_with(|| natural_cmp(&a.0, &b.0))
        });
        let mut seen = std::collections::HashSet::new();
        let mut hits = Vec::new();
        for (_, target) in candidates {
            let hit = match *target {
                Target::Feature(i) => {
                    let f = &self.features[i as usize];
                    SearchHit {
                        address: f.address.clone(),
                        label: String::new(),
                        point: f.point,
                        osm: Some(f.osm),
                    }
                }
                Target::Street(i) => {
                    let point = self.street_points[i as usize];
                    let around = self
                        .feature_tree
                        .nearest_neighbor(self.projection.forward(point))
                        .map(|r| &self.features[r.data as usize].address);
                    SearchHit {
                        address: CivicAddress {
                            street: Some(self.street_names[i as usize].clone()),
                            city: around.and_then(|a| a.city.clone()),
                            country: around.and_then(|a| a.country.clone()),
                            state: around.and_then(|a| a.state.clone()),
                            district: around.and_then(|a| a.district.clone()),
                            ..CivicAddress::default()
                        },
                        label: String::new(),
                        point,
                        osm: None,
                    }
                }
            };
            let label = crate::format(&hit.address);
            // A building and a node inside it often carry the same address: one hit.
            if seen.insert(label.clone()) {
                hits.push(SearchHit { label, ..hit });
                if hits.len() == limit {
                    break;
                }
            }
        }
        hits
    }
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Search keys for a street and number: the whole normalised street, then from each later word on, so
/// "Pohjoinen Rautatiekatu 21" is found by "rautatiekatu 21" as well.
fn word_keys(street: &str, number: &str) -> Vec<String> {
    let street = normalise(street);
    let number = normalise(number);
    let mut keys = Vec::new();
    let mut rest = street.as_str();
    loop {
        let key = match (rest.is_empty(), number.is_empty()) {
            (_, true) => rest.to_string(),
            (true, false) => number.clone(),
            (false, false) => format!("{rest} {number}"),
        };
        if !key.is_empty() {
            keys.push(key);
        }
        match rest.split_once(' ') {
            Some((_, tail)) => rest = tail,
            None => break,
        }
    }
    keys
}

/// Compares with digit runs as numbers ("katu 2" before "katu 10").
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (na, nb) = (take(&mut a), take(&mut b));
                let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let order = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if order != std::cmp::Ordering::Equal {
                    return order;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a.next();
                b.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_cmp("katu 2", "katu 10").is_lt());
        assert!(natural_cmp("katu 10", "katu 10a").is_lt());
        assert!(natural_cmp("a", "b").is_lt());
    }

    #[test]
    fn keys_from_each_word() {
        assert_eq!(
            word_keys("Pohjoinen Rautatiekatu", "21"),
            vec!["pohjoinen rautatiekatu 21", "rautatiekatu 21"]
        );
    }
}
