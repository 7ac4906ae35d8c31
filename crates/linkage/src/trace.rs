//! Tracing organisations across agencies: a graph of cases and the entities they name, activity by country
//! and month, and detection of relocation between countries after a drop (the "balloon effect").
//!
//! Cases from several agencies name entities (people, phones, accounts, wallets, places). Entity values are
//! normalised first ([`crate::ident`], [`crate::korean`]), so "010-1234-5678" in one agency's case and
//! "+82 10 1234 5678" in another's are one node. An **organisation** is a connected component of cases
//! joined through shared entities, plus any person links the analyst or the linker supplies
//! ([`TraceGraph::link_entities`]). Each organisation's cases give a monthly activity series per country;
//! a **relocation** is flagged when activity in one country falls to at most half within a window while
//! activity in another country, previously at most half as large, rises to at least `min_events`. The
//! evidence is the entities seen on both sides of the move and the cases that show them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use crate::ident;
use crate::korean;

/// What an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Phone,
    Account,
    Wallet,
    Place,
}

impl EntityKind {
    fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Phone => "phone",
            EntityKind::Account => "account",
            EntityKind::Wallet => "wallet",
            EntityKind::Place => "place",
        }
    }
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// Parse `YYYY-MM` (a longer date is cut to its month).
    pub fn parse(text: &str) -> Option<Month> {
        let year = text.get(..4)?.parse().ok()?;
        let month: u32 = text.get(5..7)?.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    fn from_index(index: i64) -> Month {
        Month {
            year: index.div_euclid(12) as i32,
            month: (index.rem_euclid(12) + 1) as u32,
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// An entity named in a case, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMention {
    pub kind: EntityKind,
    pub value: String,
}

/// A case (or lead) of one agency: where and when, and which entities it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub agency: String,
    pub case_id: String,
    /// ISO 3166 alpha-3 country where the activity took place.
    pub country: String,
    pub month: Month,
    pub entities: Vec<EntityMention>,
}

/// Normalised key of an entity, so that spellings of the same identifier meet.
pub fn entity_key(kind: EntityKind, value: &str) -> Option<String> {
    let normalised = match kind {
        EntityKind::Phone => ident::phone_e164(value, jikimi_ident::Region::KR)?,
        EntityKind::Account => ident::iban(value).or_else(|| ident::account(value))?,
        EntityKind::Wallet => ident::wallet(value)?,
        EntityKind::Person => {
            // "Surname Given" with Korean variants folded; a best effort without a linker run.
            let words: Vec<&str> = value.split_whitespace().collect();
            let (surname, given) = match words.split_first() {
                Some((s, rest)) if korean::is_known_korean_surname(s) => {
                    (s.to_string(), rest.join(""))
                }
                _ => match words.split_last() {
                    Some((s, rest)) => (s.to_string(), rest.join("")),
                    None => return None,
                },
            };
            format!(
                "{} {}",
                korean::surname_key(&surname),
                korean::given_name_key(&given)
            )
        }
        EntityKind::Place => value.trim().to_lowercase(),
    };
    (!normalised.is_empty()).then(|| format!("{}:{normalised}", kind.as_str()))
}

/// The case-entity graph.
#[derive(Debug, Clone, Default)]
pub struct TraceGraph {
    pub cases: Vec<Case>,
    /// Entity key -> indices of the cases naming it.
    pub entity_cases: BTreeMap<String, Vec<usize>>,
    /// Extra "same entity" links (e.g. persons linked by the linker or confirmed by an analyst).
    pub same_as: Vec<(String, String)>,
    /// WGS84 coordinates of places by entity key (`place:...`), for the GeoJSON export.
    pub place_coordinates: BTreeMap<String, Coordinates>,
}

/// A point in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    /// A point, if it lies on the globe (latitude within ±90, longitude within ±180, both finite).
    pub fn new(lat: f64, lon: f64) -> Option<Coordinates> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(Coordinates { lat, lon })
    }
}

/// An organisation: a connected group of cases.
#[derive(Debug, Clone, Serialize)]
pub struct Organisation {
    pub id: usize,
    pub case_indices: Vec<usize>,
    pub entities: Vec<String>,
    /// Activity: number of cases per (country, month).
    pub activity: BTreeMap<String, BTreeMap<Month, usize>>,
}

/// An entity seen on both sides of a relocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgeEntity {
    pub entity: String,
    /// `agency/case_id (country month)` of the cases naming it.
    pub cases: Vec<String>,
}

/// A flagged move of an organisation's activity from one country to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relocation {
    pub organisation: usize,
    pub from_country: String,
    pub to_country: String,
    /// First month of the window after the move.
    pub month: Month,
    pub from_before: usize,
    pub from_after: usize,
    pub to_before: usize,
    pub to_after: usize,
    pub evidence: Vec<BridgeEntity>,
}

/// Thresholds of relocation detection.
#[derive(Debug, Clone, Copy)]
pub struct RelocationOptions {
    /// Months before and after the boundary that are compared.
    pub window_months: i64,
    /// Minimum cases in the old country before and in the new country after.
    pub min_events: usize,
}

impl Default for RelocationOptions {
    fn default() -> Self {
        RelocationOptions {
            window_months: 4,
            min_events: 3,
        }
    }
}

impl TraceGraph {
    /// Build the graph from cases.
    pub fn new(cases: Vec<Case>) -> TraceGraph {
        let mut entity_cases: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, case) in cases.iter().enumerate() {
            for mention in &case.entities {
                if let Some(key) = entity_key(mention.kind, &mention.value) {
                    let list = entity_cases.entry(key).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        TraceGraph {
            cases,
            entity_cases,
            same_as: Vec::new(),
            place_coordinates: BTreeMap::new(),
        }
    }

    /// Give a place (as written in a case) its coordinates; places without coordinates are left out of the
    /// GeoJSON export. Returns false if the name normalises to nothing.
    pub fn set_place_coordinates(&mut self, place: &str, point: Coordinates) -> bool {
        match entity_key(EntityKind::Place, place) {
            Some(key) => {
                self.place_coordinates.insert(key, point);
                true
            }
            None => false,
        }
    }

    /// Declare two entity keys the same (from a linkage run or an analyst's confirmation).
    pub fn link_entities(&mut self, a: String, b: String) {
        self.same_as.push((a, b));
    }

    /// Organisations: connected components over cases sharing an entity (or linked entities).
    pub fn organisations(&self) -> Vec<Organisation> {
        let n = self.cases.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (find(parent, a), find(parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        };
        for cases in self.entity_cases.values() {
            for pair in cases.windows(2) {
                union(&mut parent, pair[0], pair[1]);
            }
        }
        for (a, b) in &self.same_as {
            if let (Some(ca), Some(cb)) = (self.entity_cases.get(a), self.entity_cases.get(b))
                && let (Some(&x), Some(&y)) = (ca.first(), cb.first())
            {
                union(&mut parent, x, y);
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let root = find(&mut parent, i);
            groups.entry(root).or_default().push(i);
        }
        let case_entities = |i: usize| -> Vec<String> {
            self.cases[i]
                .entities
                .iter()
                .filter_map(|m| entity_key(m.kind, &m.value))
                .collect()
        };
        groups
            .into_values()
            .enumerate()
            .map(|(id, case_indices)| {
                let mut entities = BTreeSet::new();
                let mut activity: BTreeMap<String, BTreeMap<Month, usize>> = BTreeMap::new();
                for &i in &case_indices {
                    entities.extend(case_entities(i));
                    let case = &self.cases[i];
                    *activity
                        .entry(case.country.clone())
                        .or_default()
                        .entry(case.month)
                        .or_default() += 1;
                }
                Organisation {
                    id,
                    case_indices,
                    entities: entities.into_iter().collect(),
                    activity,
                }
            })
            .collect()
    }

    /// Relocations of every organisation.
    pub fn relocations(&self, options: &RelocationOptions) -> Vec<Relocation> {
        self.organisations()
            .iter()
            .flat_map(|org| self.relocations_of(org, options))
            .collect()
    }

    /// Relocations of one organisation: for each ordered pair of countries, the boundary month with the
    /// largest combined shift that meets the thresholds.
    pub fn relocations_of(
        &self,
        org: &Organisation,
        options: &RelocationOptions,
    ) -> Vec<Relocation> {
        let w = options.window_months;
        let count = |country: &str, from: i64, to: i64| -> usize {
            org.activity.get(country).map_or(0, |series| {
                series
                    .iter()
                    .filter(|(m, _)| (from..to).contains(&m.index()))
                    .map(|(_, c)| c)
                    .sum()
            })
        };
        let months: Vec<i64> = org
            .activity
            .values()
            .flat_map(|s| s.keys().map(|m| m.index()))
            .collect();
        let (Some(&first), Some(&last)) = (months.iter().min(), months.iter().max()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for from in org.activity.keys() {
            for to in org.activity.keys().filter(|c| *c != from) {
                let mut best: Option<(usize, i64, [usize; 4])> = None;
                for t in first + 1..=last {
                    let counts = [
                        count(from, t - w, t),
                        count(from, t, t + w),
                        count(to, t - w, t),
                        count(to, t, t + w),
                    ];
                    let [from_before, from_after, to_before, to_after] = counts;
                    let dropped =
                        from_before >= options.min_events && from_after * 2 <= from_before;
                    let rose = to_after >= options.min_events && to_before * 2 <= to_after;
                    if dropped && rose {
                        let shift = (from_before - from_after) + (to_after - to_before);
                        if best.is_none_or(|(s, _, _)| shift > s) {
                            best = Some((shift, t, counts));
                        }
                    }
                }
                if let Some((_, t, [from_before, from_after, to_before, to_after])) = best {
                    out.push(Relocation {
                        organisation: org.id,
                        from_country: from.clone(),
                        to_country: to.clone(),
                        month: Month::from_index(t),
                        from_before,
                        from_after,
                        to_before,
                        to_after,
                        evidence: self.bridge_entities(org, from, to),
                    });
                }
            }
        }
        out
    }

    /// Entities of the organisation named in cases in both countries.
    fn bridge_entities(&self, org: &Organisation, from: &str, to: &str) -> Vec<BridgeEntity> {
        let mut out = Vec::new();
        for entity in &org.entities {
            let Some(cases) = self.entity_cases.get(entity) else {
                continue;
            };
            let countries: BTreeSet<&str> = cases
                .iter()
                .map(|&i| self.cases[i].country.as_str())
                .collect();
            if countries.contains(from) && countries.contains(to) {
                out.push(BridgeEntity {
                    entity: entity.clone(),
                    cases: cases
                        .iter()
                        .map(|&i| {
                            let c = &self.cases[i];
                            format!("{}/{} ({} {})", c.agency, c.case_id, c.country, c.month)
                        })
                        .collect(),
                });
            }
        }
        out
    }

    /// The graph as GraphML: case and entity nodes, case-entity edges; attributes for kind, agency,
    /// country, month and organisation.
    pub fn to_graphml(&self) -> String {
        let organisation_of: HashMap<usize, usize> = self
            .organisations()
            .iter()
            .flat_map(|o| o.case_indices.iter().map(move |&i| (i, o.id)))
            .collect();
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n",
        );
        for (key, name) in [
            ("d0", "kind"),
            ("d1", "label"),
            ("d2", "agency"),
            ("d3", "country"),
            ("d4", "month"),
            ("d5", "organisation"),
        ] {
            let _ = writeln!(
                out,
                "  <key id=\"{key}\" for=\"node\" attr.name=\"{name}\" attr.type=\"string\"/>"
            );
        }
        out.push_str("  <graph id=\"trace\" edgedefault=\"undirected\">\n");
        for (i, case) in self.cases.iter().enumerate() {
            let _ = writeln!(
                out,
                "    <node id=\"case{i}\"><data key=\"d0\">case</data><data key=\"d1\">{}</data><data key=\"d2\">{}</data><data key=\"d3\">{}</data><data key=\"d4\">{}</data><data key=\"d5\">{}</data></node>",
                xml_escape(&case.case_id),
                xml_escape(&case.agency),
                xml_escape(&case.country),
                case.month,
                organisation_of.get(&i).copied().unwrap_or_default()
            );
        }
        for (e, (entity, _)) in self.entity_cases.iter().enumerate() {
            let kind = entity.split(':').next().unwrap_or_default();
            let _ = writeln!(
                out,
                "    <node id=\"entity{e}\"><data key=\"d0\">{}</data><data key=\"d1\">{}</data></node>",
                xml_escape(kind),
                xml_escape(entity)
            );
        }
        for (e, (_, cases)) in self.entity_cases.iter().enumerate() {
            for &i in cases {
                let _ = writeln!(out, "    <edge source=\"case{i}\" target=\"entity{e}\"/>");
            }
        }
        out.push_str("  </graph>\n</graphml>\n");
        out
    }
}

impl TraceGraph {
    /// The graph as a GeoJSON `FeatureCollection` (RFC 7946) for map tools: one `Point` per place that has
    /// coordinates, with the cases naming it, their organisations, and its activity as
    /// `{"country": {"YYYY-MM": cases}}`. Places without coordinates are counted in the collection's
    /// `places_without_coordinates` member rather than guessed.
    pub fn to_geojson(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        let organisation_of: HashMap<usize, usize> = self
            .organisations()
            .iter()
            .flat_map(|o| o.case_indices.iter().map(move |&i| (i, o.id)))
            .collect();
        let mut features = Vec::new();
        let mut without_coordinates = 0usize;
        for (entity, case_indices) in &self.entity_cases {
            let Some(name) = entity.strip_prefix("place:") else {
                continue;
            };
            let Some(point) = self.place_coordinates.get(entity) else {
                without_coordinates += 1;
                continue;
            };
            let mut activity: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
            let mut organisations = BTreeSet::new();
            let mut cases = Vec::new();
            for &i in case_indices {
                let case = &self.cases[i];
                *activity
                    .entry(case.country.as_str())
                    .or_default()
                    .entry(case.month.to_string())
                    .or_default() += 1;
                if let Some(&o) = organisation_of.get(&i) {
                    organisations.insert(o);
                }
                cases.push(format!("{}/{}", case.agency, case.case_id));
            }
            let mut properties = Map::new();
            properties.insert("kind".into(), json!("place"));
            properties.insert("name".into(), json!(name));
            properties.insert("cases".into(), json!(cases));
            properties.insert("organisations".into(), json!(organisations));
            properties.insert("activity".into(), json!(activity));
            features.push(json!({
                "type": "Feature",
                "id": entity,
                // RFC 7946: longitude first.
                "geometry": {"type": "Point", "coordinates": [point.lon, point.lat]},
                "properties": Value::Object(properties),
            }));
        }
        json!({
            "type": "FeatureCollection",
            "features": features,
            "places_without_coordinates": without_coordinates,
        })
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
