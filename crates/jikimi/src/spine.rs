//! The respond spine's subcommands: `serve`, `demo`, `migrate`, `audit verify`, `staff add`, `store reindex`,
//! `bench intake`, `bench surge`, `bench flood`, and `bench exchange` (cooperation sync between two nodes over the
//! server's federation router).
//!
//! Glue only: configuration is resolved by `jikimi_server::config`, the store is opened with `jikimi_store::connect`,
//! and the HTTP application is `jikimi_server::router`.

pub mod bench;
pub mod child;
pub mod client;
pub mod cluster;
pub mod cluster_bench;
pub mod cluster_takeover;
pub mod demo;
pub mod disaster_bench;
pub mod exchange_bench;
pub mod flood;
pub mod identify_bench;
pub mod operations_bench;
pub mod standards_bench;
pub mod surge;

use std::sync::Arc;

use anyhow::Context as _;
use jikimi_respond::Actor;
use jikimi_server::config::{Config, ConfigArgs};
use jikimi_server::roles::Role;
use jikimi_server::state::{AppState, system_clock};
use jikimi_store::{Change, Store};

use crate::exit::Exit;

/// `jikimi serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Pull from every cooperation partner this often (seconds; 0: only when a partner notifies or on `jikimi sync`).
    #[arg(long, env = "JIKIMI_EXCHANGE_SYNC_INTERVAL_S", default_value_t = 0)]
    exchange_sync_interval_s: u64,
    /// Envelopes per page when pulling from a partner.
    #[arg(long, env = "JIKIMI_EXCHANGE_PAGE", default_value_t = jikimi_federation::DEFAULT_PAGE)]
    exchange_page: u32,
    /// How often the border watchlist is re-read from the shared cases, in seconds (rebuilt only if it changed).
    #[arg(long, env = "JIKIMI_WATCHLIST_REFRESH_S", default_value_t = 60)]
    watchlist_refresh_s: u64,
    /// PEM file of private CAs to trust for `https://` partner endpoints (besides the public web roots).
    #[arg(long, env = "JIKIMI_PEER_CA")]
    peer_ca: Option<std::path::PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`): console, API and federation.
    #[arg(long, env = "JIKIMI_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, env = "JIKIMI_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Delete used device nonces (older than twice the alert clock window) and expired sessions this often, in
    /// seconds (0: never).
    #[arg(long, env = "JIKIMI_PURGE_INTERVAL_S", default_value_t = 600)]
    purge_interval_s: u64,
}

/// The federation's cases (in the same database) as the server's case source for the border watchlist and
/// linkage. The one place that knows where shared cases live.
struct ExchangeCases(Arc<dyn Store>);

#[async_trait::async_trait]
impl jikimi_server::border::CaseSource for ExchangeCases {
    async fn shared_cases(&self) -> Result<Vec<jikimi_linkage::shared::SharedCase>, String> {
        jikimi_federation::linkage_feed::shared_cases(self.0.as_ref())
            .await
            .map_err(|e| e.to_string())
    }
}

/// `jikimi migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print `{"migrated": true, "backend": ...}` instead of text.
    #[arg(long)]
    json: bool,
}

/// `jikimi audit ...`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify the audit log's hash chain; exits 3 and names the first bad seq if it was tampered with.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print `{"intact": true, "entries": N}` or `{"intact": false, "seq": N, "reason": ...}` instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `jikimi store ...`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StoreCommand {
    /// Re-derive the subscribers' blind indexes from their sealed values (after a normalisation change; `serve`
    /// and `demo` do it once at start). Audited; running it again changes nothing.
    Reindex {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print `{"job", "ran", "checked", "changed", "superseded", "kept"}` instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `jikimi staff ...`.
#[derive(Debug, clap::Args)]
pub struct StaffArgs {
    #[command(subcommand)]
    command: StaffCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StaffCommand {
    /// Create a staff account, or reset an existing one's password and role (ending all its sessions). The
    /// password is read from JIKIMI_STAFF_PASSWORD, or generated and printed.
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Role.
        #[arg(long, value_enum)]
        role: Role,
        #[command(flatten)]
        config: ConfigArgs,
        /// Print `{"username", "role", "password"}` (the password only when generated) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs a future on a fresh multi-threaded runtime, with logging set up.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> anyhow::Result<()> {
    init_logging();
    runtime()?.block_on(future)
}

/// `jikimi demo`.
pub fn demo(args: demo::DemoArgs) -> anyhow::Result<()> {
    block_on(demo::run(args))
}

/// Opens the store named by the configuration and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = jikimi_store::connect(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&config.database_url)
            )
        })?;
    store.migrate().await.context("migrations failed")?;
    Ok(store)
}

/// `jikimi agency|peer|agreement|case|sync|federation ...`: on the same database `jikimi serve` uses (migrated first),
/// with the same key material (the agency key and the shared records are sealed with the data keys).
pub fn exchange(cmd: jikimi_federation::cli::Command) -> anyhow::Result<()> {
    init_logging_quiet();
    let keys = cmd.keys();
    let config = ConfigArgs {
        config: keys.config.clone(),
        database_url: cmd.database_url().map(str::to_owned),
        data_key: keys.data_key.clone(),
        data_key_id: keys.data_key_id.clone(),
        blind_index_key: keys.blind_index_key.clone(),
        key_file: keys.key_file.clone(),
        ..ConfigArgs::default()
    }
    .resolve(true)?;
    runtime()?.block_on(async move {
        let store = open_exchange_store(&config).await?;
        if let jikimi_federation::cli::Command::Federation {
            cmd:
                jikimi_federation::cli::FederationCmd::Serve {
                    listen,
                    sync_interval_s,
                    page,
                },
            ..
        } = &cmd
        {
            let transport = cmd.transport()?;
            return federation_serve(store, transport, listen, *sync_interval_s, *page, &config)
                .await;
        }
        jikimi_federation::cli::run(cmd, store).await?;
        Ok(())
    })
}

/// Opens the store for cooperation: migrated, holding the data keys that seal the agency key and shared records,
/// and with anything an earlier version stored in clear sealed now. The one handle on the database: the spine's
/// `Store`, and the node's `ExchangeStore` (a supertrait).
pub async fn open_exchange_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let keys = config.keys.as_ref().context(
        "key material is required: the agency key and shared records are sealed with it",
    )?;
    let store = jikimi_store::connect_with_keyring(&config.database_url, keys.keyring()?)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&config.database_url)
            )
        })?;
    store.migrate().await.context("migrations failed")?;
    let sealed = store
        .seal_exchange_at_rest()
        .await
        .context("cannot seal the cooperation tables")?;
    if sealed > 0 {
        tracing::warn!(
            rows = sealed,
            "sealed cooperation rows an earlier version stored in clear"
        );
    }
    Ok(store)
}

/// `jikimi federation serve`: the server's one federation router alone on a partner-facing listener (signed
/// federation routes and `/healthz`; no staff API, no records for an unauthenticated caller).
async fn federation_serve(
    store: Arc<dyn Store>,
    transport: jikimi_federation::Transport,
    listen: &str,
    sync_interval_s: u64,
    page: u32,
    config: &Config,
) -> anyhow::Result<()> {
    let service = Arc::new(jikimi_federation::Federation::new(store, page, transport));
    let me = service
        .node()
        .await
        .context("cannot open the federation node")?
        .me
        .clone();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // The first stdout line is machine-read by tests and scripts: keep its shape.
    println!(
        "{}",
        serde_json::json!({ "listening": local.to_string(), "agency": me.id })
    );
    if sync_interval_s > 0 {
        service.spawn_periodic_sync(std::time::Duration::from_secs(sync_interval_s));
    }
    let shutdown = async {
        shutdown_signal().await;
    };
    jikimi_server::federation::serve_with(
        listener,
        service,
        config.body_limit_bytes,
        &config.flood,
        shutdown,
    )
    .await
    .context("federation server failed")
}

/// Logging to stderr at `warn` unless `RUST_LOG` says otherwise: cooperation commands print JSON on stdout.
fn init_logging_quiet() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The URL without a password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Starts the server on an already-open store; returns the bound address and the server task.
pub async fn start_server(
    store: Arc<dyn Store>,
    config: Config,
) -> anyhow::Result<(
    std::net::SocketAddr,
    AppState,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    start_server_with(
        store,
        None,
        config,
        std::time::Duration::from_secs(60),
        None,
    )
    .await
}

/// [`start_server`], with cooperation (`/api/exchange`, `/federation/v1`) on `store` itself when `exchange` gives its
/// page size and transport; the shared cases also feed the border watchlist (re-read every `watchlist_refresh`) and
/// linkage.
pub async fn start_server_with(
    store: Arc<dyn Store>,
    exchange: Option<(u32, jikimi_federation::Transport)>,
    config: Config,
    watchlist_refresh: std::time::Duration,
    tls: Option<jikimi_server::TlsFiles>,
) -> anyhow::Result<(
    std::net::SocketAddr,
    AppState,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let keys = config
        .keys
        .clone()
        .context("key material is required to serve")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if let Some(warning) = jikimi_server::web::plain_http_warning(addr, tls.is_some()) {
        tracing::warn!("{warning}");
        eprintln!("{warning}");
    }
    if let Some(ops) = config.ops_listen {
        let ops_listener = tokio::net::TcpListener::bind(ops)
            .await
            .with_context(|| format!("cannot listen on {ops} (--ops-listen)"))?;
        let ops_addr = ops_listener.local_addr()?;
        tracing::info!(%ops_addr, "metrics and api docs on the operations listener");
        tokio::spawn(jikimi_server::web::serve_ops(ops_listener, async {
            shutdown_signal().await;
        }));
    }
    let state = AppState::new(store, &keys, config, system_clock())?;
    // Digests an earlier normalisation rule derived are re-derived once, before anyone searches (issue 17).
    let reindexed = jikimi_server::reindex::reindex_once(
        state.store.as_ref(),
        &state.keyring,
        &state.blind,
        state.now(),
    )
    .await
    .context("cannot re-derive the subscribers' blind indexes")?;
    if reindexed.ran {
        tracing::info!(
            checked = reindexed.checked,
            changed = reindexed.changed,
            "blind indexes re-derived"
        );
    }
    let cases: Option<Arc<dyn jikimi_server::border::CaseSource>> = exchange
        .as_ref()
        .map(|_| Arc::new(ExchangeCases(state.store.clone())) as _);
    let state = match exchange {
        Some((page, transport)) => state.with_exchange(page, transport),
        None => state,
    };
    let state = match jikimi_server::road_eta::load_configured(&state.config)
        .context("cannot load the road network")?
    {
        Some(network) => state.with_roads(network),
        None => state,
    };
    let state = match jikimi_server::geocode::load_configured(&state.config)
        .context("cannot load the address data")?
    {
        Some(index) => state.with_addresses(index),
        None => state,
    };
    let state = match jikimi_server::disaster::areas::load_configured(&state.config)
        .context("cannot load the administrative areas")?
    {
        Some(areas) => state.with_admin_areas(areas),
        None => state,
    };
    // The guardian-notification worker delivers the outbox the store fills in the events' transactions.
    if let Some(notify) = state.config.notify.clone() {
        let worker = jikimi_notify::Worker::new(
            state.store.clone(),
            state.keyring.clone(),
            notify,
            state.clock.clone(),
        )
        .context("cannot start the notification worker")?;
        tokio::spawn(worker.run(async {
            shutdown_signal().await;
        }));
    }
    // Guardians of people still silent after a disaster's welfare check are told (through the same outbox).
    if state.config.welfare_silence_ms > 0 {
        jikimi_server::disaster::guardians::spawn(
            state.clone(),
            std::time::Duration::from_secs(60),
        );
    }
    let mut state = state;
    if let Some(source) = cases {
        let every = watchlist_refresh;
        state.cases = Some(source);
        // Load before serving, so the first check already sees the list; then keep it fresh.
        jikimi_server::border::refresh(&state)
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the border watchlist: {e}"))?;
        jikimi_server::border::spawn_refresher(state.clone(), every);
    }
    if let Some(mqtt) = state.config.mqtt.clone() {
        tracing::info!(host = %mqtt.host, port = mqtt.port, prefix = %mqtt.prefix, "mqtt intake starting");
        // Runs for the life of the process; it reconnects by itself.
        let _intake = jikimi_server::mqtt::spawn(state.clone(), mqtt);
    }
    let served = state.clone();
    let shutdown = async {
        shutdown_signal().await;
    };
    let task = match tls {
        Some(files) => {
            let tls = jikimi_server::tls_config(&files).await.with_context(|| {
                format!(
                    "cannot load the TLS certificate {} and key {}",
                    files.cert.display(),
                    files.key.display()
                )
            })?;
            tokio::spawn(jikimi_server::serve_tls(listener, served, tls, shutdown))
        }
        None => tokio::spawn(jikimi_server::serve(listener, served, shutdown)),
    };
    Ok((addr, state, task))
}

/// `jikimi serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.config.resolve(true)?;
    runtime()?.block_on(async move {
        let store = open_exchange_store(&config).await?;
        let backend = store.backend();
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(jikimi_server::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        let transport = match &args.peer_ca {
            Some(path) => {
                jikimi_federation::Transport::with_ca_file(path).context("cannot read --peer-ca")?
            }
            None => jikimi_federation::Transport::default(),
        };
        let (addr, state, task) = start_server_with(
            store,
            Some((args.exchange_page, transport)),
            config,
            std::time::Duration::from_secs(args.watchlist_refresh_s.max(1)),
            tls.clone(),
        )
        .await?;
        if let (Some(exchange), n) = (&state.exchange, args.exchange_sync_interval_s)
            && n > 0
        {
            let every = std::time::Duration::from_secs(n);
            match state.cluster.clone() {
                Some(cluster) => exchange.spawn_periodic_sync_when(every, move || {
                    cluster.holds(jikimi_server::cluster::LEASE_FEDERATION_SYNC)
                }),
                None => exchange.spawn_periodic_sync(every),
            }
        }
        if args.purge_interval_s > 0 {
            jikimi_server::purge::spawn(
                state.clone(),
                std::time::Duration::from_secs(args.purge_interval_s),
            );
        }
        // The first stdout line is machine-read by tests and scripts: keep its shape.
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("jikimi listening on {scheme}://{addr} ({backend})");
        tracing::info!(%addr, backend, "serving");
        task.await
            .context("server task failed")?
            .context("server failed")?;
        Ok(())
    })
}

/// `jikimi migrate`.
pub fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.config.resolve(false)?;
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        if args.json {
            let report = serde_json::json!({ "migrated": true, "backend": store.backend() });
            println!("{report}");
        } else {
            println!("migrations applied ({})", store.backend());
        }
        Ok(())
    })
}

/// `jikimi audit ...`: a broken chain is an outcome ([`Exit::AuditChainBroken`]), not an error, so that a script
/// can tell it from a database it could not read.
pub fn audit(args: AuditArgs) -> anyhow::Result<Exit> {
    init_logging();
    match args.command {
        AuditCommand::Verify { config, json } => {
            let config = config.resolve(false)?;
            runtime()?.block_on(async move {
                let store = open_store(&config).await?;
                match jikimi_store::verify_audit(store.as_ref()).await {
                    Ok(n) => {
                        if json {
                            println!("{}", serde_json::json!({ "intact": true, "entries": n }));
                        } else {
                            println!("audit log verified: {n} entries, hash chain intact");
                        }
                        Ok(Exit::Ok)
                    }
                    Err(jikimi_store::Error::Tampered(jikimi_audit::AuditError::Tampered {
                        seq,
                        reason,
                    })) => {
                        if json {
                            let report =
                                serde_json::json!({ "intact": false, "seq": seq, "reason": reason.to_string() });
                            println!("{report}");
                        }
                        eprintln!("audit log TAMPERED at seq {seq}: {reason}");
                        Ok(Exit::AuditChainBroken)
                    }
                    Err(err) => Err(anyhow::Error::new(err).context("cannot read the audit log")),
                }
            })
        }
    }
}

/// `jikimi store ...`.
pub fn store(args: StoreArgs) -> anyhow::Result<()> {
    init_logging();
    match args.command {
        StoreCommand::Reindex { config, json } => {
            let config = config.resolve(true)?;
            let keys = config
                .keys
                .clone()
                .context("key material is required: the subscribers' fields are sealed with it")?;
            let keyring = keys.keyring()?;
            let blind = jikimi_privacy::BlindIndex::new(keys.blind_index_key);
            runtime()?.block_on(async move {
                let store = open_store(&config).await?;
                let now = jikimi_respond::Timestamp::from(std::time::SystemTime::now());
                let report = jikimi_server::reindex::reindex(store.as_ref(), &keyring, &blind, now)
                    .await
                    .context("cannot re-derive the subscribers' blind indexes")?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!(
                        "blind indexes re-derived: {} subscribers checked, {} changed, {} superseded, {} kept",
                        report.checked, report.changed, report.superseded, report.kept
                    );
                }
                Ok(())
            })
        }
    }
}

/// `jikimi staff ...`.
pub fn staff(args: StaffArgs) -> anyhow::Result<()> {
    init_logging();
    match args.command {
        StaffCommand::Add {
            username,
            role,
            config,
            json,
        } => {
            let config = config.resolve(false)?;
            let (password, generated) = match std::env::var("JIKIMI_STAFF_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (jikimi_server::password::generate_password(), true),
            };
            runtime()?.block_on(async move {
                let store = open_store(&config).await?;
                add_staff(store.as_ref(), &username, &password, role).await?;
                if json {
                    let report = serde_json::json!({
                        "username": username,
                        "role": role.as_str(),
                        "password": generated.then_some(&password),
                    });
                    println!("{report}");
                } else if generated {
                    println!(
                        "created {} {username} with password {password}",
                        role.as_str()
                    );
                } else {
                    println!("created {} {username}", role.as_str());
                }
                Ok(())
            })
        }
    }
}

/// Creates a staff account directly in the store (before any server runs).
pub async fn add_staff(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: Role,
) -> anyhow::Result<()> {
    let now = jikimi_respond::Timestamp::from(std::time::SystemTime::now());
    // The API's one validation (user name shape, password length) and hashing: the command line refuses what
    // `POST /api/staff` refuses.
    let user = jikimi_server::auth::new_staff_user(username, password, role, now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the staff account: {}", e.message))?;
    let change = Change::new(
        Actor::System,
        now,
        "staff account created from the command line",
    );
    match store.create_staff(&user, &change).await {
        Ok(()) => Ok(()),
        // An existing account: this is a password reset (and maybe a role change), which ends all its sessions.
        Err(jikimi_store::Error::Conflict(_)) => store
            .update_staff(
                &user,
                &Change::new(
                    Actor::System,
                    now,
                    "password reset from the command line; sessions ended",
                ),
            )
            .await
            .context("cannot update the staff account"),
        Err(err) => Err(anyhow::Error::new(err).context("cannot create the staff account")),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, which an init system, an orchestrator or a rolling upgrade sends: the
/// server then stops taking connections, finishes the requests in flight and exits, instead of dying mid-request.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the server gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
