//! Equity from the incident store: a seeded simulation of the demo city writes incidents through the
//! real `Store`, SQLite and PostgreSQL, one district deliberately slower; `jikimi analyze equity --db`
//! flags exactly that district on both.

use jikimi_forecast::cli::{AnalyzeCommand, EquityArgs, run};
use jikimi_forecast::districts::{DEMO_CENTRE, DEMO_HALF_EXTENT, DistrictLayout};
use jikimi_forecast::equity::ReportPeriod;
use jikimi_respond::{
    Actor, AlertId, Coordinates, DeviceId, EventKind, FixMethod, IncidentId, LocationFix, Priority,
    Timestamp, UnitId,
};
use jikimi_store::{Change, NewAlert, Store};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const SLOW: &str = "Kluuvi";
const PER_DISTRICT: usize = 40;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_767_225_600_000 + ms)
}

fn alert(i: usize, at_ms: i64, fix: Option<(f64, f64)>) -> NewAlert {
    NewAlert {
        incident_id: IncidentId::new_v7(),
        alert_id: AlertId::new_v4(),
        device_id: DeviceId::new_v4(),
        subscriber_id: None,
        nonce: format!("nonce-{i}"),
        received_at: t(at_ms),
        priority: Priority::new(1).expect("valid priority"),
        fix: fix.map(|(lat, lon)| {
            let coords = Coordinates::new(lat, lon).expect("valid coordinates");
            LocationFix::new(coords, 10.0, FixMethod::Gnss, t(at_ms - 500)).expect("valid fix")
        }),
        silent: true,
    }
}

/// Writes `PER_DISTRICT` incidents per demo district (locations drawn in the demo's alert box),
/// each acknowledged, dispatched, en route and on scene after a log-normal response time around
/// seven minutes, 60% longer in [`SLOW`]; plus three on-scene incidents without a location.
async fn simulate(store: &dyn Store, seed: u64) {
    let layout = DistrictLayout::demo();
    let mut rng = StdRng::seed_from_u64(seed);
    let (lat0, lon0) = DEMO_CENTRE;
    let (dlat, dlon) = DEMO_HALF_EXTENT;
    let mut plan: Vec<(NewAlert, f64)> = Vec::new();
    for d in &layout.districts {
        let mut n = 0;
        while n < PER_DISTRICT {
            let lat = lat0 + rng.random_range(-dlat..dlat);
            let lon = lon0 + rng.random_range(-dlon..dlon);
            if layout.locate(lat, lon) != Some(d.name.as_str()) {
                continue;
            }
            let z: f64 = (0..6).map(|_| rng.random_range(-1.0f64..1.0)).sum::<f64>() / 6f64.sqrt();
            let mut seconds = 420.0 * (0.3 * z).exp();
            if d.name == SLOW {
                seconds *= 1.6;
            }
            let i = plan.len();
            plan.push((alert(i, i as i64 * 600_000, Some((lat, lon))), seconds));
            n += 1;
        }
    }
    for k in 0..3 {
        let i = plan.len();
        plan.push((alert(i, i as i64 * 600_000, None), 300.0 + f64::from(k)));
    }
    let accepted = store
        .record_alerts(plan.iter().map(|p| p.0.clone()).collect())
        .await
        .expect("batch commits");
    let unit = UnitId::new("P-101");
    for ((a, seconds), r) in plan.iter().zip(accepted) {
        let id = r.expect("alert accepted").incident_id;
        let at = a.received_at.as_unix_ms() - 1_767_225_600_000;
        let steps = [
            (EventKind::Acknowledged, at + 5_000),
            (EventKind::Dispatched { unit: unit.clone() }, at + 10_000),
            (EventKind::EnRoute { unit: unit.clone() }, at + 12_000),
            (
                EventKind::OnScene { unit: unit.clone() },
                at + (seconds * 1000.0) as i64,
            ),
        ];
        for (seq, (kind, ms)) in steps.into_iter().enumerate() {
            let change = Change::new(Actor::Staff("dispatcher".into()), t(ms), "simulation");
            store
                .append_event(id, seq as u64 + 1, kind, &change)
                .await
                .expect("event appended");
        }
    }
}

/// Seeds the store at `url` (migrated, empty), runs `analyze equity --db url` and checks the flags.
fn equity_flags_exactly_the_slow_district(url: &str, out: &std::path::Path) {
    {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let store = jikimi_store::connect(url).await.expect("open store");
            store.migrate().await.expect("migrate");
            simulate(store.as_ref(), 7).await;
            // Small pages: the scan reads every incident once, whatever the page size.
            let paged = jikimi_forecast::store_source::read_responses_paged(
                store.as_ref(),
                &DistrictLayout::demo(),
                t(0),
                ReportPeriod::default(),
                50,
            )
            .await
            .expect("paged read");
            assert_eq!(paged.listed, 6 * PER_DISTRICT + 3);
            assert_eq!(paged.pages, 5);
            assert_eq!(paged.responses.len(), 6 * PER_DISTRICT);
            // A report for a period reads the same pages and keeps the alerts received in it: alert i came
            // at i × 10 min, so from 20:00 on the first day are alerts 120 onwards.
            let period = ReportPeriod::parse(Some("2026-01-01T20:00:00Z"), None).expect("period");
            let later = jikimi_forecast::store_source::read_responses_paged(
                store.as_ref(),
                &DistrictLayout::demo(),
                t(0),
                period,
                50,
            )
            .await
            .expect("period read");
            assert_eq!(later.outside_period, 120);
            assert_eq!(later.responses.len(), 6 * PER_DISTRICT - 120);
            assert_eq!(later.no_location, 3);
        });
    }
    let args = EquityArgs {
        incidents: None,
        db: Some(url.to_string()),
        districts: "demo".into(),
        district_property: "name".into(),
        out: Some(out.to_path_buf()),
        replicates: 1000,
        seed: 1,
        alpha: 0.05,
        from: None,
        to: None,
        json: false,
    };
    let ran = run(AnalyzeCommand::Equity(Box::new(args)));
    assert!(ran.is_ok(), "{ran:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null);
    let districts = v["districts"].as_array().cloned().unwrap_or_default();
    assert_eq!(districts.len(), 6);
    assert!(districts.iter().all(|d| d["n"] == PER_DISTRICT));
    let flagged: Vec<&str> = districts
        .iter()
        .filter(|d| d["median_flagged"] == true || d["p90_flagged"] == true)
        .filter_map(|d| d["district"].as_str())
        .collect();
    assert_eq!(flagged, vec![SLOW]);
    assert_eq!(v["source"]["store"]["no_location"], 3);
    assert_eq!(v["source"]["store"]["listed"], 6 * PER_DISTRICT + 3);
}

#[test]
fn equity_from_a_sqlite_store_flags_exactly_the_slow_district() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("jikimi.sqlite").display());
    equity_flags_exactly_the_slow_district(&url, &dir.path().join("equity.json"));
}

#[test]
fn equity_from_a_postgres_store_flags_exactly_the_slow_district() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let schema = runtime.block_on(jikimi_store::testing::PgSchema::create("forecast_equity"));
    drop(runtime);
    // An operator points `--db` at a schema the same way: libpq's `options` parameter.
    let dir = tempfile::tempdir().expect("temp dir");
    equity_flags_exactly_the_slow_district(&schema.store_url(), &dir.path().join("equity.json"));
}
