//! Aggregation of incidents to H3 cells or polygons, per time window, streaming: memory grows with the
//! number of cells and windows, never with the number of incidents, so a national-scale file works.
//!
//! [`IncidentCounter`] takes one incident at a time (lat, lon, date, category) and counts it in its
//! cell (H3 via `h3o`) or polygon (point-in-polygon, candidates from an R*-tree of bounding boxes) and
//! time window. [`IncidentCounter::h3_feature_collection`] writes cells as hexagon polygons, padded with
//! zero-count cells around the occupied ones so that hot-spot statistics see the empty surroundings too.
//! The CSV driver [`count_incidents_csv`] reads any `Read` (gzip is unwrapped by the caller).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use geo::{BoundingRect, Contains, MultiPolygon, Point};
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, JsonValue};
use h3o::{CellIndex, LatLng, Resolution};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use serde::Serialize;

use crate::error::{Error, Result};

/// How incidents are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWindow {
    /// One window for everything.
    All,
    /// Calendar year (`YYYY`).
    Year,
    /// Calendar month (`YYYY-MM`).
    Month,
}

impl std::str::FromStr for TimeWindow {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "all" => Ok(TimeWindow::All),
            "year" => Ok(TimeWindow::Year),
            "month" => Ok(TimeWindow::Month),
            other => Err(Error::Argument(format!(
                "time window '{other}' is not all, year or month"
            ))),
        }
    }
}

impl TimeWindow {
    /// The window key of an ISO date (`YYYY-MM-DD...`).
    pub fn key(self, date: &str) -> Option<String> {
        match self {
            TimeWindow::All => Some("all".to_string()),
            TimeWindow::Year => date.get(0..4).map(str::to_string),
            TimeWindow::Month => date.get(0..7).map(str::to_string),
        }
    }
}

/// Where incidents are counted.
#[derive(Debug)]
pub enum Target {
    /// H3 cells at a resolution.
    H3(Resolution),
    /// Polygons, indexed by their bounding boxes.
    Polygons {
        /// The polygons, in feature order.
        polygons: Vec<MultiPolygon<f64>>,
        /// Bounding boxes with the polygon index.
        tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    },
}

impl Target {
    /// Indexes polygons (lon/lat) for point-in-polygon counting.
    pub fn polygons(polygons: Vec<MultiPolygon<f64>>) -> Self {
        let boxes = polygons
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.bounding_rect().map(|r| {
                    GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    )
                })
            })
            .collect();
        Target::Polygons {
            polygons,
            tree: RTree::bulk_load(boxes),
        }
    }
}

/// What happened to the incidents fed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AggregateStats {
    /// Incidents counted.
    pub counted: u64,
    /// Incidents outside the date range or category filter.
    pub filtered: u64,
    /// Incidents whose coordinates are missing or invalid.
    pub bad_location: u64,
    /// Incidents inside no polygon.
    pub outside: u64,
}

/// Filter applied before counting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Keep only these categories (exact match); empty keeps all.
    pub categories: Vec<String>,
    /// Keep dates `>= from` (ISO string comparison).
    pub from: Option<String>,
    /// Keep dates `<= to`.
    pub to: Option<String>,
}

/// Streaming counter of incidents per place and window.
#[derive(Debug)]
pub struct IncidentCounter {
    target: Target,
    window: TimeWindow,
    filter: IncidentFilter,
    h3_counts: HashMap<CellIndex, BTreeMap<String, u64>>,
    polygon_counts: Vec<BTreeMap<String, u64>>,
    windows: BTreeSet<String>,
    /// Counts of what happened so far.
    pub stats: AggregateStats,
}

impl IncidentCounter {
    /// A counter for a target, window and filter.
    pub fn new(target: Target, window: TimeWindow, filter: IncidentFilter) -> Self {
        let n_polygons = match &target {
            Target::Polygons { polygons, .. } => polygons.len(),
            Target::H3(_) => 0,
        };
        IncidentCounter {
            target,
            window,
            filter,
            h3_counts: HashMap::new(),
            polygon_counts: vec![BTreeMap::new(); n_polygons],
            windows: BTreeSet::new(),
            stats: AggregateStats::default(),
        }
    }

    /// Counts one incident.
    pub fn add(&mut self, lat: f64, lon: f64, date: &str, category: &str) {
        let f = &self.filter;
        let in_range = f.from.as_deref().is_none_or(|from| date >= from)
            && f.to.as_deref().is_none_or(|to| date <= to);
        let in_category = f.categories.is_empty() || f.categories.iter().any(|c| c == category);
        let Some(key) = self.window.key(date).filter(|_| in_range && in_category) else {
            self.stats.filtered += 1;
            return;
        };
        if !(lat.is_finite() && lon.is_finite()) || (lat == 0.0 && lon == 0.0) {
            self.stats.bad_location += 1;
            return;
        }
        match &self.target {
            Target::H3(res) => match LatLng::new(lat, lon) {
                Ok(ll) => {
                    *self
                        .h3_counts
                        .entry(ll.to_cell(*res))
                        .or_default()
                        .entry(key.clone())
                        .or_default() += 1;
                }
                Err(_) => {
                    self.stats.bad_location += 1;
                    return;
                }
            },
            Target::Polygons { polygons, tree } => {
                let p = Point::new(lon, lat);
                let hit = tree
                    .locate_in_envelope_intersecting(AABB::from_point([lon, lat]))
                    .map(|g| g.data)
                    .filter(|&i| polygons[i].contains(&p))
                    .min();
                match hit {
                    Some(i) => *self.polygon_counts[i].entry(key.clone()).or_default() += 1,
                    None => {
                        self.stats.outside += 1;
                        return;
                    }
                }
            }
        }
        self.windows.insert(key);
        self.stats.counted += 1;
    }

    /// Adds `n` incidents already counted elsewhere (e.g. by a columnar engine) to an H3 cell and window.
    pub fn add_h3_count(&mut self, cell: CellIndex, window: &str, n: u64) {
        *self
            .h3_counts
            .entry(cell)
            .or_default()
            .entry(window.to_string())
            .or_default() += n;
        self.windows.insert(window.to_string());
        self.stats.counted += n;
    }

    /// The target's H3 resolution, if counting to cells.
    pub fn h3_resolution(&self) -> Option<Resolution> {
        match &self.target {
            Target::H3(r) => Some(*r),
            Target::Polygons { .. } => None,
        }
    }

    /// The time window.
    pub fn window(&self) -> TimeWindow {
        self.window
    }

    /// The incident filter.
    pub fn filter(&self) -> &IncidentFilter {
        &self.filter
    }

    /// Window keys seen, sorted.
    pub fn windows(&self) -> Vec<String> {
        self.windows.iter().cloned().collect()
    }

    /// Per-polygon total counts (all windows), in feature order.
    pub fn polygon_totals(&self) -> Vec<u64> {
        self.polygon_counts
            .iter()
            .map(|m| m.values().sum())
            .collect()
    }

    /// Per-polygon count in one window.
    pub fn polygon_window_counts(&self, window: &str) -> Vec<u64> {
        self.polygon_counts
            .iter()
            .map(|m| m.get(window).copied().unwrap_or(0))
            .collect()
    }

    /// Occupied H3 cells with their total counts, sorted by cell.
    pub fn h3_totals(&self) -> Vec<(CellIndex, u64)> {
        let mut v: Vec<(CellIndex, u64)> = self
            .h3_counts
            .iter()
            .map(|(c, m)| (*c, m.values().sum()))
            .collect();
        v.sort_unstable();
        v
    }

    /// H3 cells as a FeatureCollection of hexagons with `h3`, `count` and, when windows are used,
    /// `count_<window>` properties. Zero-count cells within grid distance `pad` of occupied ones are
    /// added so that the study area has no artificial holes.
    pub fn h3_feature_collection(&self, pad: u32) -> Result<FeatureCollection> {
        if self.h3_counts.is_empty() {
            return Err(Error::Empty(
                "no incident fell in any cell (check the filter and columns)".into(),
            ));
        }
        let mut cells: BTreeSet<CellIndex> = self.h3_counts.keys().copied().collect();
        if pad > 0 {
            for c in self.h3_counts.keys() {
                cells.extend(c.grid_disk::<Vec<_>>(pad));
            }
        }
        let windows = self.windows();
        let features = cells
            .into_iter()
            .map(|cell| {
                let counts = self.h3_counts.get(&cell);
                let mut props = JsonObject::new();
                props.insert("h3".into(), JsonValue::String(cell.to_string()));
                props.insert(
                    "count".into(),
                    JsonValue::from(counts.map(|m| m.values().sum::<u64>()).unwrap_or(0)),
                );
                if self.window != TimeWindow::All {
                    for w in &windows {
                        let v = counts.and_then(|m| m.get(w)).copied().unwrap_or(0);
                        props.insert(format!("count_{w}"), JsonValue::from(v));
                    }
                }
                Feature {
                    geometry: Some(Geometry::new(cell_polygon(cell))),
                    properties: Some(props),
                    ..Feature::default()
                }
            })
            .collect();
        Ok(FeatureCollection {
            features,
            bbox: None,
            foreign_members: None,
        })
    }
}

/// The hexagon (or pentagon) of a cell as a closed GeoJSON ring, coordinates rounded to 1e-7 degree
/// (about 1 cm) so that neighbouring cells share bit-identical vertices.
pub fn cell_polygon(cell: CellIndex) -> GeometryValue {
    let round = |v: f64| (v * 1e7).round() / 1e7;
    let mut ring: Vec<Vec<f64>> = cell
        .boundary()
        .iter()
        .map(|ll| vec![round(ll.lng()), round(ll.lat())])
        .collect();
    if let Some(first) = ring.first().cloned() {
        ring.push(first);
    }
    GeometryValue::new_polygon([ring])
}

/// Column names of an incidents CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentColumns {
    /// Latitude column.
    pub lat: String,
    /// Longitude column.
    pub lon: String,
    /// ISO date column (`YYYY-MM-DD`, a timestamp starting so is fine).
    pub date: String,
    /// Category column (may be absent when no category filter is used).
    pub category: String,
}

impl Default for IncidentColumns {
    fn default() -> Self {
        IncidentColumns {
            lat: "lat".into(),
            lon: "lon".into(),
            date: "date".into(),
            category: "category".into(),
        }
    }
}

/// Feeds every row of an incidents CSV to the counter. Unparseable coordinates count as bad locations.
pub fn count_incidents_csv<R: Read>(
    reader: R,
    source: &str,
    columns: &IncidentColumns,
    counter: &mut IncidentCounter,
) -> Result<()> {
    let mut csv = csv::ReaderBuilder::new().from_reader(reader);
    let headers = csv.headers()?.clone();
    let find = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| Error::MissingColumn {
                path: source.to_string(),
                wanted: name.to_string(),
                found: headers.iter().collect::<Vec<_>>().join(","),
            })
    };
    let (c_lat, c_lon, c_date) = (
        find(&columns.lat)?,
        find(&columns.lon)?,
        find(&columns.date)?,
    );
    let c_category = find(&columns.category).ok();
    if c_category.is_none() && !counter.filter.categories.is_empty() {
        find(&columns.category)?;
    }
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while csv.read_record(&mut record)? {
        rows += 1;
        let num = |c: usize| {
            record
                .get(c)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let date = record.get(c_date).unwrap_or("");
        let category = c_category.and_then(|c| record.get(c)).unwrap_or("");
        counter.add(num(c_lat), num(c_lon), date, category);
    }
    if rows == 0 {
        return Err(Error::Empty(format!("{source} has no data rows")));
    }
    Ok(())
}

/// Parses an H3 resolution 0-15.
pub fn resolution(r: u8) -> Result<Resolution> {
    Resolution::try_from(r).map_err(|_| Error::Argument(format!("h3 resolution {r} is not 0-15")))
}

/// Parses the `h3` property of each feature back into cells (for H3 adjacency weights).
pub fn h3_cells_of(fc: &FeatureCollection) -> Option<Vec<CellIndex>> {
    fc.features
        .iter()
        .map(|f| {
            f.properties
                .as_ref()?
                .get("h3")?
                .as_str()?
                .parse::<CellIndex>()
                .ok()
        })
        .collect()
}
