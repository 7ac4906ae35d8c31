//! The cluster survives its dependencies restarting mid-burst (issue 18): two nodes take a burst of alerts over HTTP
//! while NATS is killed and restarted, or while their PostgreSQL is stopped (immediate shutdown, as a crash) and
//! started again. Clients retry on the other node until answered 202. Then every alert answered 202 is stored, once,
//! and is on a node's live feed.
//!
//! The PostgreSQL tests run their own private servers ([`PrivatePg`]: `initdb` into a temporary directory, a free
//! port), never the machine's 5432 one. The failover test makes a primary and a synchronous standby
//! (`pg_basebackup`), stops the primary mid-burst and promotes the standby; the nodes, given both hosts in one URL,
//! move to the new primary by themselves, and every alert answered 202 is on it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cluster::{Device, Nats, login, node_env, pg_site, register, stop, stream_name};
use crate::cluster_e2e::{Bases, follow_feed, send_http};
use crate::process::Site;

/// A PostgreSQL server of the test's own: a data directory in a temporary directory, a free port, trust
/// authentication on loopback. Run as the `postgres` user when the test runs as root (initdb refuses root).
pub(crate) struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub(crate) port: u16,
    running: bool,
    /// Server settings beyond the port and socket (`-c name=value ...`).
    settings: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl PrivatePg {
    /// The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin).
    fn bin_dir() -> PathBuf {
        let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (/usr/lib/postgresql) are required for this test")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse().ok()?;
                Some((major, e.path().join("bin")))
            })
            .filter(|(_, bin)| bin.join("initdb").exists())
            .collect();
        majors.sort();
        majors
            .pop()
            .map(|(_, bin)| bin)
            .expect("an initdb under /usr/lib/postgresql/*/bin")
    }

    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        // initdb and the server refuse to run as root: root hands them to `postgres`.
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A new, stopped server.
    pub(crate) fn init() -> PrivatePg {
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the data directory to postgres");
        }
        let pg = PrivatePg {
            dir,
            bin: Self::bin_dir(),
            port: free_port(),
            running: false,
            settings: String::new(),
        };
        let out = pg
            .as_owner("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(pg.data())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub(crate) fn start(&mut self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 {}",
            self.port,
            self.dir.path().display(),
            self.settings
        );
        let out = self
            .as_owner("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-D")
            .arg(self.data())
            .arg("start")
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = true;
    }

    /// Before [`PrivatePg::start`]: listens on `addr` too (beside loopback) and trusts clients from `network`
    /// (CIDR), e.g. a node in a network namespace of the test's own.
    pub(crate) fn listen_also(&mut self, addr: &str, network: &str) {
        self.settings
            .push_str(&format!(" -c listen_addresses=127.0.0.1,{addr}"));
        let hba = self.data().join("pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        text.push_str(&format!("host all all {network} trust\n"));
        std::fs::write(&hba, text).expect("write pg_hba.conf");
    }

    /// Stops the server at once, as a crash would (`-m immediate`: no checkpoint; recovery replays the WAL).
    pub(crate) fn crash(&mut self) {
        let stopped = self.stop_now();
        assert!(stopped.is_ok(), "pg_ctl stop: {stopped:?}");
    }

    fn stop_now(&mut self) -> Result<(), String> {
        let out = self
            .as_owner("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output()
            .map_err(|e| e.to_string())?;
        self.running = false;
        match out.status.success() {
            true => Ok(()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// A primary whose commits wait for the standby `standby` (synchronous streaming replication).
    pub(crate) fn init_primary(standby: &str) -> PrivatePg {
        let mut pg = PrivatePg::init();
        pg.settings = format!(
            "-c wal_level=replica -c max_wal_senders=5 -c synchronous_commit=on -c synchronous_standby_names={standby}"
        );
        pg
    }

    /// A standby of the running `primary`, named `name` (a base backup streaming from it), stopped.
    pub(crate) fn standby_of(primary: &PrivatePg, name: &str) -> PrivatePg {
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the data directory to postgres");
        }
        let standby = PrivatePg {
            dir,
            bin: primary.bin.clone(),
            port: free_port(),
            running: false,
            settings: String::new(),
        };
        let conninfo = format!(
            "host=127.0.0.1 port={} user=postgres application_name={name}",
            primary.port
        );
        let out = standby
            .as_owner("pg_basebackup")
            // A fast checkpoint: the default spread one can make the backup wait minutes.
            .args(["-d", &conninfo, "-R", "-X", "stream", "-c", "fast", "-D"])
            .arg(standby.data())
            .output()
            .expect("run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        standby
    }

    /// Promotes this standby to a primary and waits until it takes writes.
    pub(crate) fn promote(&self) {
        let out = self
            .as_owner("pg_ctl")
            .args(["-w", "-D"])
            .arg(self.data())
            .arg("promote")
            .output()
            .expect("run pg_ctl promote");
        assert!(
            out.status.success(),
            "pg_ctl promote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `sql` through psql on `database`; returns its unaligned output.
    pub(crate) fn query(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-At", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates database `name`.
    pub(crate) fn create_database(&self, name: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-c", &format!("CREATE DATABASE {name}")])
            // A primary waiting for a synchronous standby that does not exist yet would wait for ever.
            .env("PGOPTIONS", "-c synchronous_commit=local")
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "create database: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        if self.running {
            // Never a panic in drop: the test may be failing already.
            let _ = self.stop_now();
        }
    }
}

pub(crate) fn is_root() -> bool {
    // The effective uid of this process, read from procfs rather than through libc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Sends `n` alerts from `clients` concurrent clients over the nodes in `bases` (retrying on the next node until
/// answered 202), calling `fault` once a third have been handed out; returns the alert ids answered 202 and the
/// number of failed attempts.
async fn burst(
    bases: &Bases,
    devices: Arc<Vec<Device>>,
    n: usize,
    clients: usize,
    fault: impl AsyncFnOnce(),
) -> (HashSet<Uuid>, usize) {
    let client = reqwest::Client::new();
    let accepted: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, bases, devices) = (client.clone(), bases.clone(), devices.clone());
        let (next, accepted, failures) = (next.clone(), accepted.clone(), failures.clone());
        senders.spawn(async move {
            let mut i = next.fetch_add(1, Ordering::SeqCst);
            while i < n {
                let alert_id = Uuid::new_v4();
                let device = &devices[i % devices.len()];
                let failed = send_http(&client, &bases, device, alert_id, i).await;
                failures.fetch_add(failed, Ordering::SeqCst);
                accepted.lock().expect("lock").insert(alert_id);
                i = next.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    while next.load(Ordering::SeqCst) < n / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fault().await;
    while senders.join_next().await.is_some() {}
    let accepted = accepted.lock().expect("lock").clone();
    (accepted, failures.load(Ordering::SeqCst))
}

/// Waits until every accepted alert was on the feed; then the feed showed nothing else.
pub(crate) async fn all_on_the_feed(
    accepted: &HashSet<Uuid>,
    seen: &Mutex<HashSet<Uuid>>,
    lost: &AtomicBool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n_seen = accepted.intersection(&seen.lock().expect("lock")).count();
        if n_seen == accepted.len() {
            break;
        }
        assert!(!lost.load(Ordering::SeqCst), "the feed had to resync");
        assert!(
            Instant::now() < deadline,
            "{n_seen} of {} accepted alerts on the live feed",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        *seen.lock().expect("lock") == *accepted,
        "the feed shows alerts nobody was answered for"
    );
}

/// Every accepted alert stored once, nothing else (one incident each: clustering is off).
pub(crate) async fn all_stored(store: &dyn jikimi_store::Store, accepted: &HashSet<Uuid>) {
    let counts = store.intake_counts().await.expect("counts");
    assert_eq!(counts.alerts as usize, accepted.len(), "alert rows");
    assert_eq!(counts.incidents as usize, accepted.len(), "incidents");
    let page = store
        .list_incidents(&jikimi_store::IncidentFilter {
            statuses: Vec::new(),
            subscriber_id: None,
            device_id: None,
            limit: 10_000,
            order: jikimi_store::IncidentOrder::ById { after: None },
        })
        .await
        .expect("list");
    let stored: HashSet<Uuid> = page.iter().map(|i| i.alert_id.0).collect();
    assert!(
        stored == *accepted,
        "stored alerts differ from the accepted ones"
    );
}

struct Two {
    children: Vec<std::process::Child>,
    bases: Bases,
    devices: Arc<Vec<Device>>,
    seen: Arc<Mutex<HashSet<Uuid>>>,
    lost: Arc<AtomicBool>,
    feed: tokio::task::JoinHandle<()>,
}

/// Two nodes on `site`, devices registered, node B's feed followed.
async fn two_nodes(site: &Site, nats: &str, stream: &str) -> Two {
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for node in ["node-a", "node-b"] {
        let (child, base) = site.serve_with(&node_env(nats, stream, node));
        children.push(child);
        urls.push(Some(base));
    }
    let client = reqwest::Client::new();
    let base_b = urls[1].clone().expect("node B");
    let token = login(&client, &base_b).await;
    let mut devices = Vec::new();
    for _ in 0..20 {
        devices.push(register(&client, &base_b, &token).await);
    }
    // A third slot that is never up, so `send_http`'s rotation over three serves two nodes.
    urls.push(None);
    let seen: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let lost = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let feed = tokio::spawn(follow_feed(
        client.clone(),
        base_b,
        token,
        seen.clone(),
        lost.clone(),
        ready_tx,
    ));
    ready_rx.await.expect("feed hello");
    Two {
        children,
        bases: Arc::new(RwLock::new(urls)),
        devices: Arc::new(devices),
        seen,
        lost,
        feed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_mid_burst_loses_no_accepted_alert() {
    let mut nats = Nats::started();
    let stream = stream_name();
    let (site, pg) = pg_site().await;
    let url = nats.url();
    let two = two_nodes(&site, &url, &stream).await;
    let (accepted, failed) = burst(&two.bases, two.devices.clone(), 3_000, 16, async || {
        // Killed, as a crash would; back on the same port and store directory after 3 s.
        if let Some(mut child) = nats.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        nats.start();
    })
    .await;
    eprintln!(
        "nats restart: {} accepted, {failed} attempts failed",
        accepted.len()
    );
    assert_eq!(accepted.len(), 3_000);
    all_stored(&pg.store().await, &accepted).await;
    all_on_the_feed(&accepted, &two.seen, &two.lost).await;
    two.feed.abort();
    for child in two.children {
        stop(child);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_burst_loses_no_accepted_alert() {
    let mut pg = PrivatePg::init();
    pg.start();
    pg.create_database("jikimi");
    let mut site = Site::new();
    site.database_url = pg.url("jikimi");
    site.add_admin();
    let nats = Nats::started();
    let stream = stream_name();
    let url = nats.url();
    let two = two_nodes(&site, &url, &stream).await;
    let (accepted, failed) = burst(&two.bases, two.devices.clone(), 3_000, 16, async || {
        // Down for 3 s without a clean shutdown; the nodes answer 503 meanwhile and reconnect by themselves.
        pg.crash();
        tokio::time::sleep(Duration::from_secs(3)).await;
        pg.start();
    })
    .await;
    settle(
        "postgres restart",
        two,
        &accepted,
        failed,
        &pg.url("jikimi"),
    )
    .await;
}

/// After a burst through a database fault: every alert was accepted, the fault was noticed (some attempt was
/// retried), and every accepted alert is stored once (on the database at `url`) and on the live feed.
async fn settle(what: &str, two: Two, accepted: &HashSet<Uuid>, failed: usize, url: &str) {
    eprintln!(
        "{what}: {} accepted, {failed} attempts failed",
        accepted.len()
    );
    assert_eq!(accepted.len(), 3_000);
    assert!(failed > 0, "{what} was not noticed: nothing was retried");
    let store = jikimi_store::PgStore::connect(url)
        .await
        .expect("connect to the primary");
    all_stored(&store, accepted).await;
    all_on_the_feed(accepted, &two.seen, &two.lost).await;
    two.feed.abort();
    for child in two.children {
        stop(child);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failover_mid_burst_loses_no_accepted_alert() {
    let mut primary = PrivatePg::init_primary("standby1");
    primary.start();
    primary.create_database("jikimi");
    let mut standby = PrivatePg::standby_of(&primary, "standby1");
    standby.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while primary.query("postgres", "SELECT sync_state FROM pg_stat_replication") != "sync" {
        assert!(
            Instant::now() < deadline,
            "the standby never became synchronous"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut site = Site::new();
    site.database_url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/jikimi?target_session_attrs=read-write",
        primary.port, standby.port
    );
    site.add_admin();
    let nats = Nats::started();
    let stream = stream_name();
    let url = nats.url();
    let two = two_nodes(&site, &url, &stream).await;
    let (accepted, failed) = burst(&two.bases, two.devices.clone(), 3_000, 16, async || {
        // The primary is lost; the operator (or a failover manager) promotes the standby.
        primary.crash();
        tokio::time::sleep(Duration::from_secs(1)).await;
        standby.promote();
    })
    .await;
    // Every alert answered 202, before or after the failover, is on the new primary.
    settle("failover", two, &accepted, failed, &standby.url("jikimi")).await;
}
