//! `jikimi demo --disaster`: an earthquake over the demo city, so the console's disaster view fills.
//!
//! Everything goes through the real API, as in the rest of the demo: residents are registered with a home and
//! vulnerability flags (`POST /api/subscribers`, sealed by the server), the supervisor declares the earthquake
//! (`POST /api/disasters`, which runs the welfare check), rescue teams report in (`PUT /api/units/{id}`), the
//! dispatcher closes roads (`POST /api/closures`), and each resident's app polls its welfare check and answers it
//! signed (`GET /api/devices/{id}/welfare`, `POST /api/devices/{id}/welfare/{disaster}/answer`), spread over the
//! first minutes: most safe, some in need, trapped or injured (six of them in one collapsed building, which surge
//! clustering folds into one site incident while the disaster keeps each person), some silent. Those in need
//! answer again at the reporting interval the server gives them, their battery running down. The demo has no MQTT
//! broker, so every device is an app.
//!
//! The city is cut into twelve grid sectors (`sectors.geojson`, passed to the server as `--areas`) so counts are per
//! sector rather than per H3 cell, which at resolution 7 would put the whole extract in one or two cells.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::super::client::{ApiClient, Device};
use super::roads;

/// The extract's bounding box (`data/README.md`): south, west, north, east.
const BBOX: (f64, f64, f64, f64) = (60.164_155, 24.935_176, 60.179_113, 24.953_414);
/// Sector grid: rows (north to south, A..D) and columns (west to east, 1..3).
const ROWS: usize = 4;
const COLUMNS: usize = 3;
/// Residents registered for the earthquake.
const RESIDENTS: usize = 150;
/// The epicentre of the shaking (near the Esplanadi) and the radius of the declared area.
const EPICENTRE: (f64, f64) = (60.1702, 24.9438);
const AREA_RADIUS_M: f64 = 720.0;
/// The collapsed building where six people are trapped together.
const COLLAPSE: (f64, f64) = (60.1689, 24.9412);

/// A small deterministic generator: the demo is the same on every run without a random-number dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f64 / 1_000_000.0
    }
}

/// What a resident will answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Safe,
    NeedHelp,
    Trapped,
    Injured,
    Silent,
}

impl Fate {
    fn answer(self) -> Option<&'static str> {
        match self {
            Fate::Safe => Some("safe"),
            Fate::NeedHelp => Some("need_help"),
            Fate::Trapped => Some("trapped"),
            Fate::Injured => Some("injured"),
            Fate::Silent => None,
        }
    }
}

struct Resident {
    device: Device,
    at: (f64, f64),
    fate: Fate,
    /// Seconds after the declaration when the first answer is sent.
    delay_s: f64,
    battery: u8,
    people: Option<u32>,
}

/// Writes the sector grid as a GeoJSON FeatureCollection into `dir`; returns its path for `--areas`.
pub fn write_sectors(dir: &Path) -> anyhow::Result<PathBuf> {
    let (south, west, north, east) = BBOX;
    let dlat = (north - south) / ROWS as f64;
    let dlon = (east - west) / COLUMNS as f64;
    let mut features = Vec::new();
    for row in 0..ROWS {
        for col in 0..COLUMNS {
            let n = north - row as f64 * dlat;
            let s = n - dlat;
            let w = west + col as f64 * dlon;
            let e = w + dlon;
            let name = format!("{}{}", (b'A' + row as u8) as char, col + 1);
            features.push(json!({
                "type": "Feature",
                "properties": {"code": format!("S{:02}", row * COLUMNS + col + 1), "name": format!("Sector {name}")},
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            }));
        }
    }
    let path = dir.join("sectors.geojson");
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A ring of `n` points `radius_m` around `centre`, as GeoJSON `[lon, lat]`, closed.
fn circle(centre: (f64, f64), radius_m: f64, n: usize) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = i as f64 * std::f64::consts::TAU / n as f64;
            [
                centre.1 + radius_m * a.cos() / (111_320.0 * centre.0.to_radians().cos()),
                centre.0 + radius_m * a.sin() / 111_320.0,
            ]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

const FAMILY: [&str; 8] = ["김", "이", "박", "최", "정", "강", "조", "윤"];
const GIVEN: [&str; 10] = [
    "민준", "서연", "도윤", "지우", "하준", "서윤", "은우", "지아", "시우", "하은",
];

/// Registers the residents (invented names and numbers), each with one app device, a home in the city and
/// vulnerability flags, and decides what each will answer.
async fn register(supervisor: &ApiClient) -> anyhow::Result<Vec<Resident>> {
    let mut rng = Rng(0xD1A5_7E12_0000_0001);
    let (south, west, north, east) = BBOX;
    let mut residents = Vec::with_capacity(RESIDENTS);
    for i in 0..RESIDENTS {
        // The first six live in the building that collapses.
        let at = if i < 6 {
            (
                COLLAPSE.0 + (rng.next() - 0.5) * 0.0002,
                COLLAPSE.1 + (rng.next() - 0.5) * 0.0003,
            )
        } else {
            (
                south + rng.next() * (north - south),
                west + rng.next() * (east - west),
            )
        };
        let roll = rng.next();
        let fate = if i < 6 {
            Fate::Trapped
        } else if roll < 0.58 {
            Fate::Safe
        } else if roll < 0.72 {
            Fate::NeedHelp
        } else if roll < 0.78 {
            Fate::Trapped
        } else if roll < 0.88 {
            Fate::Injured
        } else {
            Fate::Silent
        };
        let vulnerability = json!({
            "child": rng.next() < 0.08,
            "elderly": rng.next() < 0.22,
            "disability": rng.next() < 0.06,
            "medical": rng.next() < 0.1,
        });
        let name = format!(
            "{}{}",
            FAMILY[i % FAMILY.len()],
            GIVEN[(i / FAMILY.len()) % GIVEN.len()]
        );
        let subscriber = json!({
            "name": name,
            "phone": format!("010-2100-{:04}", i + 1),
            "language": if i % 5 == 4 { "en" } else { "ko" },
            "home": {"lat": at.0, "lon": at.1},
            "vulnerability": vulnerability,
        });
        let device = supervisor
            .register_devices(&subscriber, 1)
            .await?
            .pop()
            .context("registration returned no device")?;
        residents.push(Resident {
            device,
            at,
            fate,
            // Most answer in the first two minutes; a few take much longer.
            delay_s: 3.0 + 40.0 * -(1.0 - rng.next()).ln(),
            battery: (15.0 + rng.next() * 85.0) as u8,
            people: (matches!(fate, Fate::Trapped | Fate::NeedHelp) && rng.next() < 0.4)
                .then(|| 1 + (rng.next() * 4.0) as u32),
        });
    }
    Ok(residents)
}

/// Prepared before the server's banner: residents registered.
pub struct Quake {
    residents: Vec<Resident>,
}

impl Quake {
    /// Registers the residents.
    pub async fn prepare(supervisor: &ApiClient) -> anyhow::Result<Quake> {
        Ok(Quake {
            residents: register(supervisor).await?,
        })
    }

    /// How many residents are registered.
    pub fn residents(&self) -> usize {
        self.residents.len()
    }

    /// Declares the earthquake, brings in rescue teams, closes roads; returns the disaster id and the task that
    /// simulates the answers.
    pub async fn declare(
        self,
        supervisor: &ApiClient,
        dispatcher: &ApiClient,
        devices: ApiClient,
    ) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
        let declared = supervisor
            .post_json(
                "/api/disasters",
                &json!({
                    "kind": "earthquake",
                    "title": "Helsinki earthquake M5.6 (exercise)",
                    "area": {"type": "Polygon", "coordinates": [circle(EPICENTRE, AREA_RADIUS_M, 48)]},
                }),
            )
            .await?;
        let id = declared["id"]
            .as_str()
            .context("the declaration answered no id")?
            .to_string();
        // R-201 is already at the collapsed building; the others stand by around the city.
        for (i, (call_sign, dlat, dlon)) in [
            (
                "R-201",
                COLLAPSE.0 - roads::CENTRE.0,
                COLLAPSE.1 - roads::CENTRE.1,
            ),
            ("R-202", -0.0040, 0.0055),
            ("M-301", 0.0050, 0.0040),
            ("F-401", -0.0055, -0.0050),
        ]
        .into_iter()
        .enumerate()
        {
            let (lat, lon) = roads::on_road((roads::CENTRE.0 + dlat, roads::CENTRE.1 + dlon));
            let status = if i == 0 { "on_scene" } else { "available" };
            supervisor
                .put_json(
                    &format!("/api/units/{call_sign}"),
                    &json!({"status": status, "position": {"lat": lat, "lon": lon}}),
                )
                .await?;
        }
        // Debris from the collapse blocks the street in front of it; a cordon closes the streets around a gas leak.
        let (lat, lon) = roads::on_road(COLLAPSE);
        for (geometry, reason) in [
            (
                json!({"type": "Point", "coordinates": [lon, lat]}),
                "building collapse: debris across the road",
            ),
            (
                json!({"type": "Polygon", "coordinates": [circle((60.1735, 24.9470), 70.0, 12)]}),
                "gas leak cordon",
            ),
        ] {
            if let Err(err) = dispatcher
                .post_json(
                    "/api/closures",
                    &json!({"geometry": geometry, "reason": reason}),
                )
                .await
            {
                tracing::warn!(error = %err, "demo road closure refused");
            }
        }
        let task = tokio::spawn(answer_all(devices, self.residents));
        Ok((id, task))
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Polls the device's welfare checks (signed, empty body): the open disasters that asked it.
async fn poll(client: &ApiClient, device: &Device) -> anyhow::Result<Vec<String>> {
    let context = jikimi_server::disaster::welfare::poll_context(&device.id);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let headers =
        jikimi_server::signing::sign_in(&context, &device.key, &device.id, now_s(), &nonce, b"");
    let polled = client
        .signed(
            reqwest::Method::GET,
            &format!("/api/devices/{}/welfare", device.id),
            &headers,
            Vec::new(),
        )
        .await?;
    Ok(polled["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter_map(|c| c["disaster_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Sends one signed answer; returns the reporting interval the server asks for.
async fn answer(
    client: &ApiClient,
    device: &Device,
    disaster: &str,
    body: &Value,
) -> anyhow::Result<u64> {
    let disaster_id: uuid::Uuid = disaster.parse().context("disaster id")?;
    let bytes = serde_json::to_vec(body)?;
    let context = jikimi_server::disaster::welfare::answer_context(&disaster_id);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let headers =
        jikimi_server::signing::sign_in(&context, &device.key, &device.id, now_s(), &nonce, &bytes);
    let answered = client
        .signed(
            reqwest::Method::POST,
            &format!("/api/devices/{}/welfare/{disaster}/answer", device.id),
            &headers,
            bytes,
        )
        .await?;
    Ok(answered["report_interval_s"].as_u64().unwrap_or(3_600))
}

/// One resident's device: waits, polls, answers; in need, answers again at the interval it is told.
async fn resident(client: ApiClient, r: Resident) {
    let Some(status) = r.fate.answer() else {
        return;
    };
    tokio::time::sleep(Duration::from_secs_f64(r.delay_s)).await;
    let disasters = match poll(&client, &r.device).await {
        Ok(d) => d,
        Err(err) => {
            tracing::warn!(error = %err, "demo welfare poll failed");
            return;
        }
    };
    // Outside the area: nobody asked, nothing to answer.
    let Some(disaster) = disasters.into_iter().next() else {
        return;
    };
    let mut battery = r.battery;
    loop {
        let mut body = json!({
            "answer_id": uuid::Uuid::new_v4(),
            "answer": status,
            "location": {"lat": r.at.0, "lon": r.at.1, "accuracy_m": 12.0, "method": "gnss"},
            "battery_pct": battery,
        });
        if let Some(people) = r.people {
            body["people"] = json!(people);
        }
        let interval = match answer(&client, &r.device, &disaster, &body).await {
            Ok(s) => s,
            Err(err) => {
                tracing::warn!(error = %err, "demo welfare answer failed");
                return;
            }
        };
        if status == "safe" {
            return;
        }
        tokio::time::sleep(Duration::from_secs(interval.max(30))).await;
        battery = battery.saturating_sub(3).max(2);
    }
}

async fn answer_all(client: ApiClient, residents: Vec<Resident>) {
    let mut tasks = tokio::task::JoinSet::new();
    for r in residents {
        tasks.spawn(resident(client.clone(), r));
    }
    while tasks.join_next().await.is_some() {}
}
