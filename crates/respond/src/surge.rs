//! Surge clustering: after an earthquake or a crowd crush many devices raise alerts from the same place within
//! minutes; the dispatcher must see one incident per place with a report count, not thousands of rows.
//!
//! An alert with a location joins an open incident whose *anchor* (the position of the alert that opened it) lies
//! within [`SurgeConfig::radius_m`] and whose last report is within [`SurgeConfig::window_ms`] of the alert;
//! otherwise it opens a new incident, which becomes a cluster itself. The anchor never moves, so a cluster cannot
//! drift away across a city one report at a time; the incident's displayed location is its best fix instead
//! ([`crate::better_fix`]). Alerts without a location never cluster: nothing says they are the same emergency.
//!
//! [`ClusterIndex`] is a uniform grid over latitude/longitude ([`CELL_DEG`] per side) so a lookup only looks at the
//! cells the search circle touches ([`cells_near`]); the store keeps each cluster's cell key in a column so the
//! same cells can be fetched from the database. Beyond ±[`MAX_CLUSTER_LAT`] degrees of latitude the cells shrink to
//! nothing in longitude, so there alerts do not cluster (a rule the naive twin in the tests shares).
//!
//! Pure: no clock, no I/O; the caller passes the alert times.

use std::collections::HashMap;

use crate::{Coordinates, IncidentId, Timestamp, haversine_m};

/// Side of a grid cell in degrees (about 222 m of latitude).
pub const CELL_DEG: f64 = 0.002;
/// Alerts beyond this latitude (either hemisphere) are not clustered.
pub const MAX_CLUSTER_LAT: f64 = 85.0;
const METRES_PER_DEG_LAT: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;
const N_CELLS_LON: i64 = 180_000; // 360 / CELL_DEG

/// How close in space and time alerts must be to share an incident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeConfig {
    /// Largest distance from the cluster's anchor, in metres; 0 disables clustering.
    pub radius_m: f64,
    /// Largest time since the cluster's last report, in milliseconds; 0 disables clustering.
    pub window_ms: i64,
}

impl SurgeConfig {
    /// No clustering: every alert opens its own incident.
    pub const DISABLED: SurgeConfig = SurgeConfig {
        radius_m: 0.0,
        window_ms: 0,
    };

    /// The operational default: 200 m and 10 minutes.
    pub const DEFAULT: SurgeConfig = SurgeConfig {
        radius_m: 200.0,
        window_ms: 600_000,
    };

    /// Whether alerts are clustered at all.
    pub fn is_enabled(&self) -> bool {
        self.radius_m.is_finite() && self.radius_m > 0.0 && self.window_ms > 0
    }
}

impl Default for SurgeConfig {
    fn default() -> Self {
        SurgeConfig::DEFAULT
    }
}

/// The grid cell holding `position`, as one integer key (row in the high 32 bits, column in the low).
pub fn cell_of(position: Coordinates) -> i64 {
    let row = (position.lat() / CELL_DEG).floor() as i64;
    let col = ((position.lon() / CELL_DEG).floor() as i64).rem_euclid(N_CELLS_LON);
    cell_key(row, col)
}

fn cell_key(row: i64, col: i64) -> i64 {
    (row << 32) | col
}

/// The keys of every cell a circle of `radius_m` around `position` touches, or `None` where clustering does not
/// apply (beyond ±[`MAX_CLUSTER_LAT`], or a radius that is not a positive finite number). Sorted, no repeats.
pub fn cells_near(position: Coordinates, radius_m: f64) -> Option<Vec<i64>> {
    if !(radius_m.is_finite() && radius_m > 0.0) {
        return None;
    }
    let dlat = radius_m / METRES_PER_DEG_LAT;
    let lat_max = position.lat().abs() + dlat;
    if lat_max > MAX_CLUSTER_LAT {
        return None;
    }
    // Longitude degrees shrink with latitude: size the span at the circle's most poleward edge.
    let dlon = dlat / lat_max.to_radians().cos();
    if dlon >= 180.0 {
        return None;
    }
    let row_lo = ((position.lat() - dlat) / CELL_DEG).floor() as i64;
    let row_hi = ((position.lat() + dlat) / CELL_DEG).floor() as i64;
    let col_lo = ((position.lon() - dlon) / CELL_DEG).floor() as i64;
    let col_hi = ((position.lon() + dlon) / CELL_DEG).floor() as i64;
    let mut cells = Vec::with_capacity(((row_hi - row_lo + 1) * (col_hi - col_lo + 1)) as usize);
    for row in row_lo..=row_hi {
        for col in col_lo..=col_hi {
            cells.push(cell_key(row, col.rem_euclid(N_CELLS_LON)));
        }
    }
    cells.sort_unstable();
    cells.dedup();
    Some(cells)
}

/// An open incident that alerts may join.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// The incident.
    pub incident_id: IncidentId,
    /// Where its first alert came from; distances are measured from here.
    pub anchor: Coordinates,
    /// When its latest report was received.
    pub last_report_at: Timestamp,
}

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Into this open incident, as another report.
    Join(IncidentId),
    /// Into a new incident of its own.
    Open,
}

/// Open clusters on a grid. Build it from the clusters near a batch of alerts, then [`ClusterIndex::place`] each
/// alert in order: the decisions depend only on the clusters given and the order of the alerts.
#[derive(Debug, Clone)]
pub struct ClusterIndex {
    config: SurgeConfig,
    clusters: Vec<Cluster>,
    by_incident: HashMap<IncidentId, usize>,
    by_cell: HashMap<i64, Vec<usize>>,
}

impl ClusterIndex {
    /// An empty index.
    pub fn new(config: SurgeConfig) -> ClusterIndex {
        ClusterIndex {
            config,
            clusters: Vec::new(),
            by_incident: HashMap::new(),
            by_cell: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> SurgeConfig {
        self.config
    }

    /// Adds a cluster (or, for an incident already present, keeps the later `last_report_at`).
    pub fn insert(&mut self, cluster: Cluster) {
        if let Some(&i) = self.by_incident.get(&cluster.incident_id) {
            let existing = &mut self.clusters[i];
            existing.last_report_at = existing.last_report_at.max(cluster.last_report_at);
            return;
        }
        let i = self.clusters.len();
        self.clusters.push(cluster);
        self.by_incident.insert(cluster.incident_id, i);
        self.by_cell
            .entry(cell_of(cluster.anchor))
            .or_default()
            .push(i);
    }

    /// The cluster of an incident, if indexed.
    pub fn get(&self, incident_id: IncidentId) -> Option<&Cluster> {
        self.by_incident
            .get(&incident_id)
            .map(|&i| &self.clusters[i])
    }

    /// Every cluster, in insertion order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster an alert at `position` received `at` would join: the nearest anchor within the radius whose last
    /// report is within the window (ties broken by incident id), or `None`.
    pub fn find(&self, position: Coordinates, at: Timestamp) -> Option<IncidentId> {
        if !self.config.is_enabled() {
            return None;
        }
        let cells = cells_near(position, self.config.radius_m)?;
        let mut best: Option<(f64, IncidentId)> = None;
        for cell in cells {
            let Some(members) = self.by_cell.get(&cell) else {
                continue;
            };
            for &i in members {
                let cluster = &self.clusters[i];
                if let Some(distance_m) = joinable(&self.config, cluster, position, at) {
                    let candidate = (distance_m, cluster.incident_id);
                    if best.is_none_or(|b| closer(candidate, b)) {
                        best = Some(candidate);
                    }
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Decides where an alert goes and records the decision: a joined cluster's last report becomes `at` (if
    /// later); an alert with a position that opens `new_incident` becomes a cluster of its own.
    pub fn place(
        &mut self,
        new_incident: IncidentId,
        position: Option<Coordinates>,
        at: Timestamp,
    ) -> Placement {
        let Some(position) = position else {
            return Placement::Open;
        };
        if let Some(incident_id) = self.find(position, at) {
            if let Some(&i) = self.by_incident.get(&incident_id) {
                let cluster = &mut self.clusters[i];
                cluster.last_report_at = cluster.last_report_at.max(at);
            }
            return Placement::Join(incident_id);
        }
        if self.config.is_enabled() && cells_near(position, self.config.radius_m).is_some() {
            self.insert(Cluster {
                incident_id: new_incident,
                anchor: position,
                last_report_at: at,
            });
        }
        Placement::Open
    }
}

/// The distance if `cluster` may take an alert at `position` received `at`.
fn joinable(
    config: &SurgeConfig,
    cluster: &Cluster,
    position: Coordinates,
    at: Timestamp,
) -> Option<f64> {
    let gap_ms = (at.as_unix_ms() - cluster.last_report_at.as_unix_ms()).abs();
    if gap_ms > config.window_ms {
        return None;
    }
    let distance_m = haversine_m(cluster.anchor, position);
    (distance_m <= config.radius_m).then_some(distance_m)
}

fn closer(a: (f64, IncidentId), b: (f64, IncidentId)) -> bool {
    match a.0.total_cmp(&b.0) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => a.1.0 < b.1.0,
        std::cmp::Ordering::Greater => false,
    }
}

/// The naive twin of [`ClusterIndex::find`]: scans every cluster. For tests.
pub fn find_by_scan(
    config: &SurgeConfig,
    clusters: &[Cluster],
    position: Coordinates,
    at: Timestamp,
) -> Option<IncidentId> {
    if !config.is_enabled() || cells_near(position, config.radius_m).is_none() {
        return None;
    }
    let mut best: Option<(f64, IncidentId)> = None;
    for cluster in clusters {
        if let Some(distance_m) = joinable(config, cluster, position, at) {
            let candidate = (distance_m, cluster.incident_id);
            if best.is_none_or(|b| closer(candidate, b)) {
                best = Some(candidate);
            }
        }
    }
    best.map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(lat: f64, lon: f64) -> Coordinates {
        Coordinates::new(lat, lon).unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_ms(1_767_225_600_000 + s * 1000)
    }

    /// A point `north_m` north and `east_m` east of `origin` (small distances).
    fn offset(origin: Coordinates, north_m: f64, east_m: f64) -> Coordinates {
        let dlat = north_m / METRES_PER_DEG_LAT;
        let dlon = east_m / (METRES_PER_DEG_LAT * origin.lat().to_radians().cos());
        c(origin.lat() + dlat, origin.lon() + dlon)
    }

    #[test]
    fn alerts_close_in_space_and_time_join_the_first() {
        let mut index = ClusterIndex::new(SurgeConfig::DEFAULT);
        let plaza = c(37.5665, 126.9780);
        let first = IncidentId::new_v4();
        assert_eq!(index.place(first, Some(plaza), t(0)), Placement::Open);
        // 150 m away, a minute later: the same emergency.
        let near = offset(plaza, 100.0, 110.0);
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(near), t(60)),
            Placement::Join(first)
        );
        // 250 m away: another incident.
        let far = offset(plaza, 0.0, 250.0);
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(far), t(61)),
            Placement::Open
        );
        // The window slides with the last report: 9 minutes after the join is still within 10 of it.
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(plaza), t(60 + 540)),
            Placement::Join(first)
        );
        // More than 10 minutes of silence closes the window.
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(plaza), t(600 + 601)),
            Placement::Open
        );
    }

    #[test]
    fn no_location_or_disabled_means_a_new_incident() {
        let mut index = ClusterIndex::new(SurgeConfig::DEFAULT);
        let id = IncidentId::new_v4();
        assert_eq!(index.place(id, None, t(0)), Placement::Open);
        assert!(index.clusters().is_empty());
        let mut off = ClusterIndex::new(SurgeConfig::DISABLED);
        let p = c(37.5, 127.0);
        assert_eq!(off.place(id, Some(p), t(0)), Placement::Open);
        assert_eq!(
            off.place(IncidentId::new_v4(), Some(p), t(1)),
            Placement::Open
        );
    }

    #[test]
    fn clusters_work_across_cell_edges_and_the_antimeridian() {
        let mut index = ClusterIndex::new(SurgeConfig::DEFAULT);
        let id = IncidentId::new_v4();
        let west = c(10.0, 179.9995);
        assert_eq!(index.place(id, Some(west), t(0)), Placement::Open);
        let east = c(10.0, -179.9995);
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(east), t(1)),
            Placement::Join(id)
        );
    }

    #[test]
    fn the_nearest_cluster_wins() {
        let mut index = ClusterIndex::new(SurgeConfig::DEFAULT);
        let a = IncidentId::new_v4();
        let b = IncidentId::new_v4();
        let origin = c(37.5, 127.0);
        index.insert(Cluster {
            incident_id: a,
            anchor: origin,
            last_report_at: t(0),
        });
        index.insert(Cluster {
            incident_id: b,
            anchor: offset(origin, 0.0, 300.0),
            last_report_at: t(0),
        });
        assert_eq!(index.find(offset(origin, 0.0, 190.0), t(1)), Some(b));
        assert_eq!(index.find(offset(origin, 0.0, 110.0), t(1)), Some(a));
    }

    #[test]
    fn polar_alerts_do_not_cluster() {
        let mut index = ClusterIndex::new(SurgeConfig::DEFAULT);
        let p = c(89.0, 0.0);
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(p), t(0)),
            Placement::Open
        );
        assert_eq!(
            index.place(IncidentId::new_v4(), Some(p), t(0)),
            Placement::Open
        );
    }
}
