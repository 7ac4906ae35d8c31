//! The dispatcher console: its static files (embedded in the binary, so `jikimi serve` needs nothing else at run
//! time), its settings, and the base map it draws.
//!
//! - `GET /` serves `console/index.html`; `GET /console/{file}` the scripts and styles beside it.
//! - `GET /api/console/config` tells the console the centre's time zone ([`crate::Config::time_zone`]:
//!   `--time-zone` / `JIKIMI_TIME_ZONE` / `time_zone` in the config file, default Asia/Seoul; the demo's Helsinki).
//! - `GET /api/map/base` returns the base map as line strings in lon/lat from a pluggable [`BaseMapSource`]
//!   (the road network once the roads crate is wired in with [`set_base_map_source`]); without one, a synthetic
//!   street grid and district outline around the demo city's centre, so the map is never blank and never online.

use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The console's files, embedded at build time (no build step: plain ES modules).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/map.js"),
    ),
    (
        "money.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/money.js"),
    ),
    (
        "money_freeze.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/money_freeze.js"),
    ),
    (
        "disaster.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/disaster.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/live.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/i18n.js"),
    ),
    (
        "identify.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/identify.js"),
    ),
    (
        "geosearch.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/geosearch.js"),
    ),
    (
        "twoway.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/twoway.js"),
    ),
    (
        "freeze.html",
        "text/html; charset=utf-8",
        include_str!("../console/freeze.html"),
    ),
    (
        "freeze.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/freeze.js"),
    ),
    (
        "operations.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/operations.js"),
    ),
    (
        "operations_forms.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/operations_forms.js"),
    ),
    (
        "operations.css",
        "text/css; charset=utf-8",
        include_str!("../console/operations.css"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
];

fn asset_response(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "no-cache"),
                // The one policy of the main listener (framing forbidden too).
                (
                    header::CONTENT_SECURITY_POLICY,
                    crate::web::CONTENT_SECURITY_POLICY,
                ),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

/// `GET /`: the console page.
pub async fn index() -> Response {
    asset_response("index.html")
}

/// `GET /console/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    asset_response(&file)
}

/// The console's labels in one language, from the `console` Fluent domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleLabels {
    /// The language the labels are in (one of the fourteen; English when the requested one is not there).
    #[schema(example = "ko")]
    pub language: String,
    /// Label text by key (the Fluent id without its `console-` prefix), e.g. `title`, `s_received`, `lang-vi`.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The console's labels in `lang` (a BCP 47 tag), from the Fluent files: the console's `i18n.js` loads its Korean
/// and English strings from here. Public, like the settings: the login page needs them. A language the service
/// lacks gets English.
#[utoipa::path(get, path = "/api/console/i18n/{lang}", tag = "console",
    params(("lang" = String, Path, description = "BCP 47 language tag, e.g. ko, en, vi")),
    responses((status = 200, body = ConsoleLabels),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: not a BCP 47 language tag")))]
pub async fn labels(
    Path(lang): Path<String>,
) -> Result<axum::Json<ConsoleLabels>, crate::error::ApiError> {
    let tag = jikimi_i18n::canonical_tag(&lang).map_err(|_| {
        crate::error::ApiError::new(
            crate::error::ErrorCode::InvalidField,
            "lang: a BCP 47 language tag such as ko or en",
        )
    })?;
    let l10n = jikimi_i18n::Localizer::global();
    let language = l10n.chain(&tag).first().copied().unwrap_or("en");
    let labels = l10n
        .catalogue(language, "console")
        .into_iter()
        .filter_map(|(id, text)| Some((id.strip_prefix("console-")?.to_string(), text)))
        .collect();
    Ok(axum::Json(ConsoleLabels {
        language: language.to_string(),
        labels,
    }))
}

/// The console's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleConfig {
    /// IANA time zone the console shows times in.
    #[schema(example = "Asia/Seoul")]
    pub time_zone: String,
}

/// The console's settings: the centre's time zone. Public (the console reads it before anyone logs in).
#[utoipa::path(get, path = "/api/console/config", tag = "console",
    responses((status = 200, body = ConsoleConfig)))]
pub async fn config(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> axum::Json<ConsoleConfig> {
    axum::Json(ConsoleConfig {
        time_zone: state.config.time_zone.clone(),
    })
}

/// A base map: lines to draw, in `[lon, lat]` pairs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BaseMap {
    /// Where the lines come from (e.g. `osm:helsinki.osm.pbf`, `synthetic-grid`).
    pub source: String,
    /// Roads as line strings of `[lon, lat]` points.
    #[schema(value_type = Vec<Vec<Vec<f64>>>)]
    pub roads: Vec<Vec<[f64; 2]>>,
    /// District outlines as closed line strings of `[lon, lat]` points.
    #[schema(value_type = Vec<Vec<Vec<f64>>>)]
    pub districts: Vec<Vec<[f64; 2]>>,
}

/// Anything that can draw the base map (the roads network, a file of outlines).
pub trait BaseMapSource: Send + Sync {
    /// The lines to draw.
    fn base_map(&self) -> BaseMap;
}

static SOURCE: OnceLock<Arc<dyn BaseMapSource>> = OnceLock::new();

/// Installs the process's base-map source (once; later calls are ignored and return false).
pub fn set_base_map_source(source: Arc<dyn BaseMapSource>) -> bool {
    SOURCE.set(source).is_ok()
}

/// A street grid around a centre: the stand-in when no roads data is configured.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticGrid {
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Half the side of the square, metres.
    pub half_m: f64,
    /// Street spacing, metres.
    pub spacing_m: f64,
}

impl Default for SyntheticGrid {
    /// Seoul City Hall, where `jikimi demo` runs its city.
    fn default() -> Self {
        Self {
            lat: 37.5665,
            lon: 126.9780,
            half_m: 3_000.0,
            spacing_m: 400.0,
        }
    }
}

impl BaseMapSource for SyntheticGrid {
    fn base_map(&self) -> BaseMap {
        let m_lat = 1.0 / 111_320.0;
        let m_lon = 1.0 / (111_320.0 * self.lat.to_radians().cos());
        let n = (self.half_m / self.spacing_m).floor() as i64;
        let (h_lat, h_lon) = (self.half_m * m_lat, self.half_m * m_lon);
        let mut roads = Vec::new();
        for k in -n..=n {
            let off = k as f64 * self.spacing_m;
            let lat = self.lat + off * m_lat;
            let lon = self.lon + off * m_lon;
            roads.push(vec![[self.lon - h_lon, lat], [self.lon + h_lon, lat]]);
            roads.push(vec![[lon, self.lat - h_lat], [lon, self.lat + h_lat]]);
        }
        // Two diagonal avenues and a ring road make the grid readable as a city.
        roads.push(vec![
            [self.lon - h_lon, self.lat - h_lat],
            [self.lon + h_lon, self.lat + h_lat],
        ]);
        roads.push(vec![
            [self.lon - h_lon, self.lat + h_lat],
            [self.lon + h_lon, self.lat - h_lat],
        ]);
        let ring: Vec<[f64; 2]> = (0..=48)
            .map(|i| {
                let a = i as f64 / 48.0 * std::f64::consts::TAU;
                [
                    self.lon + 0.6 * h_lon * a.cos(),
                    self.lat + 0.6 * h_lat * a.sin(),
                ]
            })
            .collect();
        roads.push(ring);
        let quad = |sx: f64, sy: f64| {
            let (x0, x1) = (self.lon, self.lon + sx * h_lon);
            let (y0, y1) = (self.lat, self.lat + sy * h_lat);
            vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        };
        BaseMap {
            source: "synthetic-grid".to_string(),
            roads,
            districts: vec![
                quad(1.0, 1.0),
                quad(-1.0, 1.0),
                quad(-1.0, -1.0),
                quad(1.0, -1.0),
            ],
        }
    }
}

/// The console's base map: the loaded road network when there is one, else the installed source, else a synthetic
/// street grid. Lines only, in `[lon, lat]`; nothing is fetched from the internet.
#[utoipa::path(get, path = "/api/map/base", tag = "console",
    responses((status = 200, body = BaseMap)))]
pub async fn base_map(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> axum::Json<BaseMap> {
    let map = match (&state.roads, SOURCE.get()) {
        (Some(network), _) => RoadNetworkMap(network.clone()).base_map(),
        (None, Some(source)) => source.base_map(),
        (None, None) => SyntheticGrid::default().base_map(),
    };
    axum::Json(map)
}

/// The imported road network drawn as its segments.
struct RoadNetworkMap(Arc<jikimi_roads::RoadNetwork>);

impl BaseMapSource for RoadNetworkMap {
    fn base_map(&self) -> BaseMap {
        let roads = self
            .0
            .road_lines()
            .into_iter()
            .map(|line| vec![[line.from.lon, line.from.lat], [line.to.lon, line.to.lat]])
            .collect();
        BaseMap {
            source: "openstreetmap".to_string(),
            roads,
            districts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_type_and_body() {
        for (name, mime, body) in ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
            assert!(mime.contains("charset"), "{name}");
        }
    }

    /// The files one console file loads: `from './x.js'` in a module, `/console/x` in a page.
    fn loaded(body: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for marker in ["from './", "\"/console/"] {
            let mut rest = body;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                let end = rest.find(['\'', '"']).unwrap_or(rest.len());
                out.push(&rest[..end]);
            }
        }
        out
    }

    #[test]
    fn every_file_the_console_loads_is_served() {
        let mut seen = 0;
        for (name, _, body) in ASSETS {
            for file in loaded(body) {
                seen += 1;
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == file),
                    "{name} loads {file}, which is not served"
                );
            }
        }
        assert!(seen > 10, "only {seen} references found");
    }

    #[test]
    fn synthetic_grid_is_around_its_centre() {
        let map = SyntheticGrid::default().base_map();
        assert!(map.roads.len() > 10);
        for line in &map.roads {
            for [lon, lat] in line {
                assert!((lat - 37.5665).abs() < 0.03 && (lon - 126.978).abs() < 0.04);
            }
        }
        assert_eq!(map.districts.len(), 4);
    }
}
