//! `jikimi demo`: a server on a SQLite file in a data directory, seeded staff accounts printed to the console,
//! and a simulated city in central Helsinki (the shipped OpenStreetMap extract, road ETAs): patrol units driving circuits and reporting their positions, and
//! subscribers raising signed SOS alerts now and then, all through the real HTTP API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use super::client::{ApiClient, Device};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::roles::Role;

/// `jikimi demo` options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database and keys (created if missing).
    #[arg(long, env = "JIKIMI_DEMO_DIR", default_value = "jikimi-demo")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "JIKIMI_LISTEN", default_value = "127.0.0.1:8112")]
    listen: std::net::SocketAddr,
    /// Mean seconds between simulated SOS alerts.
    #[arg(long, default_value_t = 20)]
    alert_every_s: u64,
    /// Seconds between unit position reports.
    #[arg(long, default_value_t = 3)]
    position_every_s: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    run_for_s: Option<u64>,
    /// Declare an earthquake over the city after start: 150 residents answer the welfare check over the first
    /// minutes (safe, need help, trapped, injured, or silent), rescue teams report in and roads are closed.
    #[arg(long)]
    disaster: bool,
    /// Time zone the console shows times in: the demo city's own.
    #[arg(long, env = "JIKIMI_TIME_ZONE", default_value = "Europe/Helsinki")]
    time_zone: String,
}

mod disaster;
mod roads;

const CENTRE: (f64, f64) = roads::CENTRE;

/// Synthetic subscribers (invented names and numbers).
const SUBSCRIBERS: [(&str, &str, &str); 4] = [
    ("김하늘", "010-2000-0001", "hearing impaired; prefers text"),
    ("이서준", "010-2000-0002", "type 1 diabetes"),
    (
        "박민지",
        "010-2000-0003",
        "protective order against a former partner",
    ),
    ("최영수", "010-2000-0004", "dementia, may wander at night"),
];

fn load_or_create_keys(dir: &Path) -> anyhow::Result<KeyMaterial> {
    let path = dir.join("keys.toml");
    if path.exists() {
        let args = jikimi_server::ConfigArgs {
            key_file: Some(path.clone()),
            ..Default::default()
        };
        return args
            .resolve(true)?
            .keys
            .context("the demo key file holds no keys");
    }
    let keys = KeyMaterial::generate();
    // Created with mode 0600: the keys are never readable by others, not even for an instant.
    jikimi_server::keyfile::write_key_file(&path, &keys)?;
    Ok(keys)
}

/// Writes the embedded extract into the demo directory for the server's address index (`--addresses-pbf`): every
/// simulated alert lands on a road in it, so every demo incident shows a street address.
fn prepare_addresses(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("helsinki.osm.pbf");
    std::fs::write(&path, roads::HELSINKI_PBF)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Runs the demo until Ctrl-C (or `--run-for-s`).
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    jikimi_server::config::check_time_zone(&args.time_zone)?;
    let keys = load_or_create_keys(&args.data_dir)?;
    let db_path = args.data_dir.join("jikimi.sqlite");
    let config = Config {
        database_url: format!("sqlite://{}", db_path.display()),
        listen: args.listen,
        keys: Some(keys),
        roads: Some(roads::prepare(&args.data_dir)?),
        addresses_pbf: Some(prepare_addresses(&args.data_dir)?),
        time_zone: args.time_zone.clone(),
        // The earthquake's counts are per grid sector of the city; without it, nothing changes.
        areas: if args.disaster {
            Some(disaster::write_sectors(&args.data_dir)?)
        } else {
            None
        },
        ..Config::default()
    };
    // The same store as `jikimi serve`, with cooperation on: the demo shows every pillar's API.
    let store = super::open_exchange_store(&config).await?;
    let mut accounts = Vec::new();
    for (username, role) in [
        ("admin", Role::Admin),
        ("supervisor", Role::Supervisor),
        ("dispatcher", Role::Dispatcher),
        ("analyst", Role::Analyst),
        ("border", Role::BorderOfficer),
    ] {
        // Fresh passwords each run: only hashes are stored, so old ones cannot be shown again.
        let password = jikimi_server::password::generate_password();
        super::add_staff(store.as_ref(), username, &password, role).await?;
        accounts.push((username, role, password));
    }
    let exchange = (
        jikimi_federation::DEFAULT_PAGE,
        jikimi_federation::Transport::default(),
    );
    let (addr, _state, server) = super::start_server_with(
        store,
        Some(exchange),
        config,
        std::time::Duration::from_secs(60),
        None,
    )
    .await?;
    let base = format!("http://{addr}");

    let mut supervisor = ApiClient::new(&base)?;
    supervisor.login("supervisor", &accounts[1].2).await?;
    let mut dispatcher = ApiClient::new(&base)?;
    dispatcher.login("dispatcher", &accounts[2].2).await?;

    let n_units = 8;
    for i in 0..n_units {
        let (lat, lon) = unit_position(i, 0.0);
        supervisor
            .put_json(
                &format!("/api/units/P-{}", 101 + i),
                &json!({"status": "available", "position": {"lat": lat, "lon": lon}}),
            )
            .await?;
    }
    let mut devices: Vec<Device> = Vec::new();
    for (name, phone, notes) in SUBSCRIBERS {
        let subscriber = json!({
            "name": name, "phone": phone, "birth_date": "1970-01-01", "address": "서울특별시 중구 세종대로 110",
            "notes": notes,
            "guardians": [{"name": "보호자", "relation": "family", "channels": [{"kind": "sms", "address": "010-3000-0000"}]}]
        });
        devices.extend(supervisor.register_devices(&subscriber, 1).await?);
    }

    let quake = if args.disaster {
        Some(disaster::Quake::prepare(&supervisor).await?)
    } else {
        None
    };

    println!();
    println!("jikimi demo is running at {base}");
    println!("  API description: {base}/api/openapi.json   health: {base}/healthz");
    println!("  metrics and Swagger UI: not served by the demo (jikimi serve --ops-listen ADDR)");
    println!(
        "  roads: central Helsinki, map data (c) OpenStreetMap contributors (ODbL): {base}/api/map/roads"
    );
    println!(
        "  data directory: {} (SQLite database and keys.toml)",
        args.data_dir.display()
    );
    println!("  staff accounts (passwords are new on every start):");
    for (username, role, password) in &accounts {
        println!(
            "    {:<11} {:<10} password {password}",
            username,
            role.as_str()
        );
    }
    println!("  try: curl -s -X POST {base}/api/auth/login -H 'content-type: application/json' \\");
    println!(
        "         -d '{{\"username\":\"dispatcher\",\"password\":\"{}\"}}'",
        accounts[2].2
    );
    println!(
        "  simulating {n_units} patrol units and {} subscribers; Ctrl-C stops",
        devices.len()
    );
    let mut quake_task = None;
    if let Some(quake) = quake {
        let residents = quake.residents();
        let (id, task) = quake
            .declare(&supervisor, &dispatcher, ApiClient::new(&base)?)
            .await?;
        println!(
            "  earthquake declared: disaster {id}; {residents} residents answer its welfare check over the next minutes"
        );
        quake_task = Some(task);
    }
    println!();

    let units_task = tokio::spawn(drive_units(
        dispatcher.clone(),
        n_units,
        args.position_every_s.max(1),
    ));
    let alerts_task = tokio::spawn(raise_alerts(
        ApiClient::new(&base)?,
        devices,
        args.alert_every_s.max(1),
    ));
    // SIGTERM or Ctrl-C end the demo whether or not it runs for a set time: its server listens for them too (and
    // once it does, SIGTERM no longer kills the process by default), so a sleep alone would outlive a `kill`.
    let run_for = async {
        match args.run_for_s {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = run_for => {}
        () = crate::spine::shutdown_signal() => {}
    }
    units_task.abort();
    alerts_task.abort();
    if let Some(task) = quake_task {
        task.abort();
    }
    server.abort();
    Ok(())
}

/// Unit `i` drives a circle of 120 to 505 m around the centre, snapped onto the nearest road, one lap in about ten
/// minutes.
fn unit_position(i: usize, t_s: f64) -> (f64, f64) {
    let radius_m = 120.0 + 55.0 * i as f64;
    let angle = i as f64 * 0.785 + t_s * std::f64::consts::TAU / 600.0;
    let dlat = radius_m * angle.sin() / 111_320.0;
    let dlon = radius_m * angle.cos() / (111_320.0 * CENTRE.0.to_radians().cos());
    roads::on_road((CENTRE.0 + dlat, CENTRE.1 + dlon))
}

async fn drive_units(client: ApiClient, n_units: usize, every_s: u64) {
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(every_s));
    loop {
        tick.tick().await;
        let t = started.elapsed().as_secs_f64();
        for i in 0..n_units {
            let (lat, lon) = unit_position(i, t);
            if let Err(err) = client
                .post_json(
                    &format!("/api/units/P-{}/position", 101 + i),
                    &json!({"lat": lat, "lon": lon}),
                )
                .await
            {
                tracing::warn!(error = %err, "demo unit position report failed");
            }
        }
    }
}

async fn raise_alerts(client: ApiClient, devices: Vec<Device>, every_s: u64) {
    // A fixed pseudo-random sequence keeps the demo reproducible without a random-number dependency.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 10_000) as f64 / 10_000.0
    };
    loop {
        let wait = every_s as f64 * (0.5 + next());
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        let device = &devices[(next() * devices.len() as f64) as usize % devices.len()];
        let (lat, lon) = roads::on_road((
            CENTRE.0 + (next() - 0.5) * 0.012,
            CENTRE.1 + (next() - 0.5) * 0.016,
        ));
        let body = json!({
            "alert_id": uuid::Uuid::new_v4(),
            "priority": if next() < 0.3 { 0 } else { 1 },
            "silent": true,
            "location": {"lat": lat, "lon": lon,
                          "accuracy_m": 5.0 + next() * 60.0, "method": "gnss"}
        });
        match client.send_alert(device, &body).await {
            Ok((202, answer)) => {
                tracing::info!(incident_id = %answer["incident_id"], device_id = %device.id, "demo SOS accepted")
            }
            Ok((status, answer)) => {
                tracing::warn!(status, code = %answer["error"]["code"], "demo SOS refused")
            }
            Err(err) => tracing::warn!(error = %err, "demo SOS failed"),
        }
    }
}
