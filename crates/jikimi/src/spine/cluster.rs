//! `jikimi cluster status`: the cluster as the shared database and NATS see it: live nodes (their `node/<id>`
//! leases), who holds each work lease, the members of the terminals' MQTT share group (their `mqtt-share/<id>`
//! leases), the database server's role, the change outbox's depth (changes committed and not yet on the stream),
//! the stream's state and each node's consumer lag.

use anyhow::Context as _;
use jikimi_server::ConfigArgs;

/// `jikimi cluster ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Nodes, leases, MQTT share members, database role, outbox depth, stream state and consumer lag.
    Status {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `jikimi cluster` subcommand.
pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    super::init_logging();
    match command {
        ClusterCommand::Status { config, json } => {
            let config = config.resolve(false)?;
            super::runtime()?.block_on(async move {
                let store = super::open_store(&config).await?;
                let now = jikimi_respond::Timestamp::from(std::time::SystemTime::now());
                let leases = store.list_leases().await.context("cannot read the leases")?;
                let depth = store
                    .change_outbox_depth()
                    .await
                    .context("cannot read the change outbox")?;
                let live = |l: &jikimi_store::Lease| l.expires_at > now;
                let node = jikimi_server::cluster::leases::NODE_PREFIX;
                let nodes: Vec<_> = leases
                    .iter()
                    .filter(|l| l.name.starts_with(node) && live(l))
                    .map(|l| serde_json::json!({"id": l.holder, "since_ms": l.acquired_at.as_unix_ms()}))
                    .collect();
                let share = jikimi_server::cluster::leases::MQTT_SHARE_PREFIX;
                let mqtt: Vec<_> = leases
                    .iter()
                    .filter(|l| l.name.starts_with(share) && live(l))
                    .map(|l| serde_json::json!({"id": l.holder, "since_ms": l.acquired_at.as_unix_ms()}))
                    .collect();
                let database = match store.database_role().await {
                    Ok(role) => serde_json::json!({"role": role.role, "server": role.server}),
                    Err(err) => serde_json::json!({"error": err.to_string()}),
                };
                let work: Vec<_> = leases
                    .iter()
                    .filter(|l| !l.name.starts_with(node) && !l.name.starts_with(share))
                    .map(|l| {
                        serde_json::json!({"name": l.name, "holder": l.holder, "live": live(l),
                            "expires_in_ms": l.expires_at.as_unix_ms() - now.as_unix_ms()})
                    })
                    .collect();
                let stream = match &config.cluster {
                    None => serde_json::Value::Null,
                    Some(cluster) => match jikimi_server::cluster::stream_status(
                        cluster,
                        std::time::Duration::from_secs(3),
                    )
                    .await
                    {
                        Ok(s) => serde_json::to_value(s)?,
                        Err(err) => serde_json::json!({"error": err.to_string()}),
                    },
                };
                let report = serde_json::json!({
                    "nodes": nodes,
                    "leases": work,
                    "mqtt_share_members": mqtt,
                    "database": database,
                    "outbox": {
                        "pending": depth.pending,
                        "oldest_age_ms": depth.oldest_at.map(|t| now.as_unix_ms() - t.as_unix_ms()),
                        "last_seq": depth.last_seq,
                    },
                    "stream": stream,
                });
                if json {
                    println!("{report}");
                } else {
                    println!("nodes: {}", nodes.len());
                    for n in &nodes {
                        println!("  {}", n["id"].as_str().unwrap_or_default());
                    }
                    for l in &work {
                        println!(
                            "lease {}: {} ({})",
                            l["name"].as_str().unwrap_or_default(),
                            l["holder"].as_str().unwrap_or_default(),
                            if l["live"].as_bool().unwrap_or(false) { "held" } else { "expired" }
                        );
                    }
                    println!(
                        "mqtt share members: {}",
                        mqtt.iter()
                            .filter_map(|m| m["id"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    println!("database: {database}");
                    println!(
                        "outbox: {} pending (stream lag), last seq {}",
                        depth.pending, depth.last_seq
                    );
                    println!("stream: {}", report["stream"]);
                }
                Ok(())
            })
        }
    }
}
