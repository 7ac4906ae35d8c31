//! A network partition (issue 18): node C runs in a network namespace of the test's own and is cut off from NATS
//! and PostgreSQL for 30 s while nodes A and B keep accepting. C must refuse (answer 503, or not at all) rather
//! than accept what it cannot commit; a client refused by C retries on another node with the same alert id; when
//! the link is back C accepts again and its live feed catches up on what A and B took meanwhile. In the end every
//! alert answered 202 is stored exactly once, and nothing else is.
//!
//! The network, made with `ip` (iproute2) and removed when the test ends:
//!
//! ```text
//!   host                                          namespace jk<run>
//!   svc 10.X.Y.1/32 (on a veth pair of its own)
//!   PostgreSQL, NATS listen on svc
//!   jks<run>h 10.X.Y.5/30  <------ services ------>  jks<run>n 10.X.Y.6/30   route to svc
//!   jkh<run>h 10.X.Y.9/30  <------ clients ------->  jkh<run>n 10.X.Y.10/30  node C listens here
//! ```
//!
//! The cut takes the namespace's end of the services link down: C's packets to PostgreSQL and NATS go nowhere
//! (its open connections hang, new ones fail), while the test still reaches C over the clients link. Needs root
//! (network namespaces), as `.ci/run` has.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cluster::{Device, Nats, login, node_env, register, stop, stream_name};
use crate::cluster_e2e::{Bases, follow_feed, send_http};
use crate::cluster_faults::{PrivatePg, all_on_the_feed, all_stored, is_root};
use crate::process::Site;

/// How long C is cut off (the issue's figure).
const CUT: Duration = Duration::from_secs(30);

/// The test's network namespace and links; removed when dropped.
struct Partition {
    ns: String,
    /// The namespace's end of the services link.
    services_link: String,
    /// The host's pair holding the services address.
    svc_link: String,
    svc: String,
    /// `10.X.Y`, the first three octets of every address of the test.
    net: String,
    services_host: String,
    node_addr: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Partition {
    fn new() -> Partition {
        assert!(
            is_root(),
            "the partition test makes network namespaces: it must run as root (as .ci/run does)"
        );
        let run = &Uuid::new_v4().simple().to_string()[..8];
        let bytes = Uuid::new_v4().into_bytes();
        let net = format!("10.{}.{}", 200 + bytes[0] % 50, bytes[1]);
        let p = Partition {
            ns: format!("jk{run}"),
            services_link: format!("jks{run}n"),
            svc_link: format!("jkd{run}a"),
            svc: format!("{net}.1"),
            net: net.clone(),
            services_host: format!("{net}.5"),
            node_addr: format!("{net}.10"),
        };
        let (ns, s_host, s_ns) = (&p.ns, format!("jks{run}h"), &p.services_link);
        let (h_host, h_ns) = (format!("jkh{run}h"), format!("jkh{run}n"));
        ip(&["netns", "add", ns]);
        // The services address, on a veth pair that stays in the host and up (no dummy driver needed).
        ip(&[
            "link",
            "add",
            &p.svc_link,
            "type",
            "veth",
            "peer",
            "name",
            &format!("jkd{run}b"),
        ]);
        ip(&["link", "set", &format!("jkd{run}b"), "up"]);
        ip(&["addr", "add", &format!("{}/32", p.svc), "dev", &p.svc_link]);
        ip(&["link", "set", &p.svc_link, "up"]);
        for (host, inside, host_addr, ns_addr) in [
            (&s_host, s_ns, format!("{net}.5/30"), format!("{net}.6/30")),
            (
                &h_host,
                &h_ns,
                format!("{net}.9/30"),
                format!("{net}.10/30"),
            ),
        ] {
            ip(&["link", "add", host, "type", "veth", "peer", "name", inside]);
            ip(&["link", "set", inside, "netns", ns]);
            ip(&["addr", "add", &host_addr, "dev", host]);
            ip(&["link", "set", host, "up"]);
            ip(&["-n", ns, "addr", "add", &ns_addr, "dev", inside]);
            ip(&["-n", ns, "link", "set", inside, "up"]);
        }
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        p.route();
        p
    }

    fn route(&self) {
        ip(&[
            "-n",
            &self.ns,
            "route",
            "replace",
            &format!("{}/32", self.svc),
            "via",
            &self.services_host,
        ]);
    }

    fn cut(&self) {
        ip(&["-n", &self.ns, "link", "set", &self.services_link, "down"]);
    }

    fn heal(&self) {
        ip(&["-n", &self.ns, "link", "set", &self.services_link, "up"]);
        self.route();
    }

    /// The network of the test's addresses, for PostgreSQL's client rule.
    fn network(&self) -> String {
        format!("{}.0/24", self.net)
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        // Deleting the namespace deletes its ends of both links, and so the links; never a panic in drop.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.svc_link])
            .status();
    }
}

/// Sends one alert to one node, no retry: `Some(true)` answered 202, `Some(false)` refused with a server error,
/// `None` no answer in time.
async fn send_once(
    client: &reqwest::Client,
    base: &str,
    device: &Device,
    alert_id: Uuid,
) -> Option<bool> {
    let body = serde_json::json!({"alert_id": alert_id, "priority": 1,
        "location": {"lat": 37.56, "lon": 126.97, "accuracy_m": 10.0, "method": "gnss"}})
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let headers = jikimi_server::signing::sign_alert(&device.key, &device.id, now, body.as_bytes());
    let mut request = client
        .post(format!("{base}/api/alerts"))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(20))
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    assert!(
        status == 202 || status >= 500,
        "alert {alert_id}: unexpected {status}"
    );
    Some(status == 202)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_for_30_s_refuses_and_rejoins_without_loss_or_duplicates() {
    let net = Partition::new();
    let mut pg = PrivatePg::init();
    pg.listen_also(&net.svc, &net.network());
    pg.start();
    pg.create_database("jikimi");
    let mut site = Site::new();
    site.database_url = pg.url("jikimi");
    site.add_admin();
    let mut nats = Nats::reserve_on(&net.svc);
    nats.start();
    let stream = stream_name();
    let url = nats.url();
    let (a, base_a) = site.serve_with(&node_env(&url, &stream, "node-a"));
    let (b, base_b) = site.serve_with(&node_env(&url, &stream, "node-b"));
    let c_database = format!("postgres://postgres@{}:{}/jikimi", net.svc, pg.port);
    let mut c_env = node_env(&url, &stream, "node-c").to_vec();
    c_env.push(("JIKIMI_DATABASE_URL", c_database.as_str()));
    let (c, base_c) = site.serve_wrapped(
        &["ip", "netns", "exec", &net.ns],
        &format!("{}:0", net.node_addr),
        &c_env,
    );
    let client = reqwest::Client::new();
    let token_a = login(&client, &base_a).await;
    let token_c = login(&client, &base_c).await;
    let mut devices = Vec::new();
    for _ in 0..20 {
        devices.push(register(&client, &base_a, &token_a).await);
    }
    let devices = Arc::new(devices);

    // Consoles on A (a node that stays) and on C (the one cut off), each following its feed and resuming after a
    // dropped connection from its last event id.
    let mut feeds = Vec::new();
    for (base, token) in [(&base_a, &token_a), (&base_c, &token_c)] {
        let seen: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let lost = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(follow_feed(
            client.clone(),
            base.clone(),
            token.clone(),
            seen.clone(),
            lost.clone(),
            ready_tx,
        ));
        ready_rx.await.expect("feed hello");
        feeds.push((seen, lost, task));
    }

    // Four clients send all along (at most 80 alerts/s) over the three nodes, each alert retried on the next node until answered 202.
    let bases: Bases = Arc::new(RwLock::new(vec![
        Some(base_a.clone()),
        Some(base_b.clone()),
        Some(base_c.clone()),
    ]));
    let accepted: Arc<Mutex<Vec<(Uuid, Instant)>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, bases, devices) = (client.clone(), bases.clone(), devices.clone());
        let (accepted, running, next) = (accepted.clone(), running.clone(), next.clone());
        senders.spawn(async move {
            while running.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let alert_id = Uuid::new_v4();
                send_http(&client, &bases, &devices[i % devices.len()], alert_id, i).await;
                accepted
                    .lock()
                    .expect("lock")
                    .push((alert_id, Instant::now()));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    net.cut();
    let cut_at = Instant::now();
    // While cut off, C answers no alert 202: each is refused (503 once its commit wait is over) or unanswered.
    // The clients those were refused to retry on A with the same alert id.
    let mut refused_by_c = Vec::new();
    let mut probes = tokio::task::JoinSet::new();
    for k in 0..5 {
        let (client, base_c, devices) = (client.clone(), base_c.clone(), devices.clone());
        probes.spawn(async move {
            tokio::time::sleep(Duration::from_secs(2 * k)).await;
            let alert_id = Uuid::new_v4();
            let answer = send_once(&client, &base_c, &devices[0], alert_id).await;
            (alert_id, answer)
        });
    }
    while let Some(probe) = probes.join_next().await {
        let (alert_id, answer) = probe.expect("probe");
        assert_ne!(
            answer,
            Some(true),
            "node C accepted alert {alert_id} while cut off from its database"
        );
        refused_by_c.push(alert_id);
    }
    let probes_done = cut_at.elapsed();
    if let Some(left) = CUT.checked_sub(probes_done) {
        tokio::time::sleep(left).await;
    }
    let taken_while_cut = accepted
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, at)| *at > cut_at + Duration::from_secs(1))
        .count();
    net.heal();
    eprintln!(
        "partition: {taken_while_cut} alerts accepted by A and B during the {CUT:?} cut (probes took {probes_done:?})"
    );
    assert!(
        taken_while_cut > 100,
        "the other nodes kept accepting: only {taken_while_cut} during the cut"
    );

    for alert_id in &refused_by_c {
        assert!(
            send_once(&client, &base_a, &devices[0], *alert_id).await == Some(true),
            "the retry of {alert_id} on node A was not accepted"
        );
    }

    // C rejoins: it accepts again by itself.
    let healed_at = Instant::now();
    let mut rejoined = Vec::new();
    loop {
        let alert_id = Uuid::new_v4();
        let answer = send_once(&client, &base_c, &devices[1], alert_id).await;
        if answer == Some(true) {
            rejoined.push(alert_id);
            break;
        }
        assert!(
            healed_at.elapsed() < Duration::from_secs(180),
            "node C did not accept again after the link came back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "partition: node C accepted again {:?} after the link came back",
        healed_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::SeqCst);
    while senders.join_next().await.is_some() {}

    let mut all: HashSet<Uuid> = accepted
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, _)| *id)
        .collect();
    all.extend(refused_by_c.iter().copied());
    all.extend(rejoined.iter().copied());
    eprintln!("partition: {} alerts accepted in all", all.len());
    // Stored once each and nothing else; on the feeds of A and of C (C's without a resync: it caught up).
    all_stored(&pg_store(&pg).await, &all).await;
    for (seen, lost, task) in feeds {
        all_on_the_feed(&all, &seen, &lost).await;
        task.abort();
    }
    stop(a);
    stop(b);
    stop(c);
    drop(nats);
}

async fn pg_store(pg: &PrivatePg) -> jikimi_store::PgStore {
    jikimi_store::PgStore::connect(&pg.url("jikimi"))
        .await
        .expect("connect")
}
