//! Server configuration from flags, `JIKIMI_*` environment variables and a TOML file, in that order of precedence.
//!
//! Flags and environment are merged by clap (a flag wins over its variable); whatever neither sets is taken from
//! the `--config` file, then from the defaults. Key material can also come from a separate key file so the
//! main configuration holds no secret. Keys are 32 bytes given as 64 hex characters or standard base64.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

mod notify;

pub use notify::{NotifyArgs, NotifyFile};

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jikimi.sqlite";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8112";
/// The default time zone the console shows times in (a 112 centre in Korea).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Seoul";

/// Configuration failures, reported before the server starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A TOML file is malformed.
    #[error("invalid toml in {path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A setting has an invalid value.
    #[error("invalid {setting}: {message}")]
    Invalid {
        /// The setting's name as the flag spells it.
        setting: &'static str,
        /// What is wrong (never the secret itself).
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holding keys may be read or written by group or others.
    #[error(
        "key file {path} is accessible by group or others (mode {mode:o}); refusing to use it: run chmod 600 {path}"
    )]
    InsecureKeyFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A required setting is missing.
    #[error("missing {0}: set the flag, its JIKIMI_ environment variable, or the config/key file")]
    Missing(&'static str),
}

/// The command-line and environment layer (shared by `serve`, `migrate`, `audit verify`, `staff add`).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file (settings not given by flag or environment are read from it).
    #[arg(long, env = "JIKIMI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://path/to/file.sqlite` (default `sqlite://jikimi.sqlite`) or `postgres://...`.
    #[arg(long, env = "JIKIMI_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on (default 127.0.0.1:8112; port 0 picks a free port).
    #[arg(long, env = "JIKIMI_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data-encryption key for personal fields (32 bytes, hex or base64).
    #[arg(long, env = "JIKIMI_DATA_KEY", hide_env_values = true)]
    pub data_key: Option<String>,
    /// Identifier of the data-encryption key, stored beside each ciphertext for rotation (default "k1").
    #[arg(long, env = "JIKIMI_DATA_KEY_ID")]
    pub data_key_id: Option<String>,
    /// Key for the blind indexes (HMAC) used to look up personal fields (32 bytes, hex or base64).
    #[arg(long, env = "JIKIMI_BLIND_INDEX_KEY", hide_env_values = true)]
    pub blind_index_key: Option<String>,
    /// TOML file holding the `[keys]` table (see README), instead of key flags.
    #[arg(long, env = "JIKIMI_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Largest accepted request body in bytes (default 65536).
    #[arg(long, env = "JIKIMI_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Accepted clock difference for signed alerts, in seconds either way (default 300).
    #[arg(long, env = "JIKIMI_ALERT_WINDOW_S")]
    pub alert_window_s: Option<i64>,
    /// Lifetime of a staff session in seconds (default 28800, eight hours).
    #[arg(long, env = "JIKIMI_SESSION_TTL_S")]
    pub session_ttl_s: Option<i64>,
    /// Surge clustering: alerts within this many metres of an open incident's first alert join it (default 200; 0
    /// turns clustering off).
    #[arg(long, env = "JIKIMI_SURGE_RADIUS_M")]
    pub surge_radius_m: Option<f64>,
    /// Surge clustering: an open incident takes reports until this many seconds pass without one (default 600).
    #[arg(long, env = "JIKIMI_SURGE_WINDOW_S")]
    pub surge_window_s: Option<i64>,
    /// MQTT broker for U-Relief terminals, e.g. `mqtt://127.0.0.1:1883` (none: no MQTT intake).
    #[arg(long, env = "JIKIMI_MQTT")]
    pub mqtt: Option<String>,
    /// MQTT client id (stable, so the broker keeps the persistent session across restarts; default `jikimi-server`).
    #[arg(long, env = "JIKIMI_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// MQTT topic prefix (default `jikimi/v1`): terminals publish to `{prefix}/devices/{id}/sos`.
    #[arg(long, env = "JIKIMI_MQTT_TOPIC_PREFIX")]
    pub mqtt_topic_prefix: Option<String>,
    /// The server's MQTT broker user name (with `--mqtt-password`).
    #[arg(long, env = "JIKIMI_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// The server's MQTT broker password (prefer the variable or the config file to the flag).
    #[arg(long, env = "JIKIMI_MQTT_PASSWORD", hide_env_values = true)]
    pub mqtt_password: Option<String>,
    /// PEM CA file that signed the broker's certificate, for `mqtts://` (default: the public web roots).
    #[arg(long, env = "JIKIMI_MQTT_CA")]
    pub mqtt_ca: Option<PathBuf>,
    /// Second listener for `/metrics` and the Swagger UI `/api/docs/` (none by default: not served at all). Keep it
    /// on loopback or an operations network.
    #[arg(long, env = "JIKIMI_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    /// Road network for road-travel-time dispatch: a `.roads` file made by `jikimi roads import`.
    #[arg(long, env = "JIKIMI_ROADS")]
    pub roads: Option<PathBuf>,
    /// OpenStreetMap extract to import at start instead of a `.roads` file (slower start; convenience).
    #[arg(long, env = "JIKIMI_ROADS_PBF")]
    pub roads_pbf: Option<PathBuf>,
    /// OpenStreetMap extract whose `addr:*` tags and named streets give civic addresses (reverse geocoding of
    /// incidents, `GET /api/geocode`); imported at start.
    #[arg(long, env = "JIKIMI_ADDRESSES_PBF")]
    pub addresses_pbf: Option<PathBuf>,
    /// GeoJSON FeatureCollection of administrative areas (e.g. Seoul's dongs): a disaster's counts are given per
    /// area. Without one, per H3 cell (resolution 7).
    #[arg(long, env = "JIKIMI_AREAS")]
    pub areas: Option<PathBuf>,
    /// Directory under which seized evidence is kept for server-side triage (`POST /api/identify/triage` takes a
    /// path relative to it and never leaves it). Without one, server-side triage is not enabled.
    #[arg(long, env = "JIKIMI_EVIDENCE_ROOT")]
    pub evidence_root: Option<PathBuf>,
    /// How old a subscriber's latest fix may be for a disaster's welfare check to place them by it (else by their
    /// registered home), in seconds (default 3600).
    #[arg(long, env = "JIKIMI_WELFARE_FIX_AGE_S")]
    pub welfare_fix_age_s: Option<i64>,
    /// How long after a disaster's welfare check a person may stay silent before their guardians are told they have
    /// not answered, in seconds (default 1800; 0: never).
    #[arg(long, env = "JIKIMI_WELFARE_SILENCE_S")]
    pub welfare_silence_s: Option<i64>,
    /// Shared HMAC keys of the operators' AML gateways, `ID:KEY,ID:KEY` (KEY 32 bytes, hex or base64). Without
    /// any, `POST /api/intake/aml` refuses everything.
    #[arg(long, env = "JIKIMI_AML_GATEWAY_KEYS", hide_env_values = true)]
    pub aml_gateway_keys: Option<String>,
    /// The centre's IANA time zone, in which the console shows times (default Asia/Seoul).
    #[arg(long, env = "JIKIMI_TIME_ZONE")]
    pub time_zone: Option<String>,
    /// This centre's agency id in CAP and EIDO documents, a domain name (default jikimi.invalid).
    #[arg(long, env = "JIKIMI_AGENCY")]
    pub agency: Option<String>,
    /// NATS server with JetStream for the cluster event bus, e.g. `nats://127.0.0.1:4222`: committed changes go
    /// to a stream through the change outbox and every node's live feed follows it (none: the in-process bus).
    #[arg(long, env = "JIKIMI_NATS")]
    pub nats: Option<String>,
    /// The JetStream stream of committed changes (default `JIKIMI`; subject `<name in lower case>.changes`).
    #[arg(long, env = "JIKIMI_NATS_STREAM")]
    pub nats_stream: Option<String>,
    /// This node's id in the cluster, as leases and `jikimi cluster status` show it (default: new at each start).
    #[arg(long, env = "JIKIMI_NODE_ID")]
    pub node_id: Option<String>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    #[command(flatten)]
    pub flood: crate::flood::FloodArgs,
}

/// The TOML file's shape. Every field is optional; unknown fields are an error (catches typos).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// As `--database-url`.
    pub database_url: Option<String>,
    /// As `--listen`.
    pub listen: Option<SocketAddr>,
    /// As `--body-limit-bytes`.
    pub body_limit_bytes: Option<usize>,
    /// As `--alert-window-s`.
    pub alert_window_s: Option<i64>,
    /// As `--session-ttl-s`.
    pub session_ttl_s: Option<i64>,
    /// As `--surge-radius-m`.
    pub surge_radius_m: Option<f64>,
    /// As `--surge-window-s`.
    pub surge_window_s: Option<i64>,
    /// As `--mqtt`.
    pub mqtt: Option<String>,
    /// As `--nats`.
    pub nats: Option<String>,
    /// As `--nats-stream`.
    pub nats_stream: Option<String>,
    /// As `--node-id`.
    pub node_id: Option<String>,
    /// As `--mqtt-client-id`.
    pub mqtt_client_id: Option<String>,
    /// As `--mqtt-topic-prefix`.
    pub mqtt_topic_prefix: Option<String>,
    /// As `--mqtt-username`.
    pub mqtt_username: Option<String>,
    /// As `--mqtt-password`.
    pub mqtt_password: Option<String>,
    /// As `--mqtt-ca`, relative to the config file's directory.
    pub mqtt_ca: Option<PathBuf>,
    /// As `--ops-listen`.
    pub ops_listen: Option<SocketAddr>,
    /// As `--roads`, relative to the config file's directory.
    pub roads: Option<PathBuf>,
    /// As `--roads-pbf`, relative to the config file's directory.
    pub roads_pbf: Option<PathBuf>,
    /// As `--addresses-pbf`, relative to the config file's directory.
    pub addresses_pbf: Option<PathBuf>,
    /// As `--areas`, relative to the config file's directory.
    pub areas: Option<PathBuf>,
    /// As `--evidence-root`, relative to the config file's directory.
    pub evidence_root: Option<PathBuf>,
    /// As `--welfare-fix-age-s`.
    pub welfare_fix_age_s: Option<i64>,
    /// As `--welfare-silence-s`.
    pub welfare_silence_s: Option<i64>,
    /// As `--time-zone`.
    pub time_zone: Option<String>,
    pub agency: Option<String>,
    /// As `--key-file`, relative to the config file's directory.
    pub key_file: Option<PathBuf>,
    /// Key material inline (prefer a key file with tight permissions).
    pub keys: Option<KeysFile>,
    /// Guardian notification.
    pub notify: Option<NotifyFile>,
    /// Flood defence.
    pub flood: Option<crate::flood::FloodFile>,
}

/// The `[keys]` table, in the config file or a key file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// Id of the key new ciphertexts are sealed with.
    pub current_data_key_id: Option<String>,
    /// Every data key by id: the current one plus older ones still needed to open old records.
    #[serde(default)]
    pub data_keys: BTreeMap<String, String>,
    /// The blind-index key.
    pub blind_index_key: Option<String>,
    /// AML gateway HMAC keys by gateway id.
    #[serde(default)]
    pub aml_gateways: BTreeMap<String, String>,
}

impl std::fmt::Debug for KeysFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysFile")
            .field("current_data_key_id", &self.current_data_key_id)
            .field("data_keys", &self.data_keys.keys().collect::<Vec<_>>())
            .field("blind_index_key", &"<redacted>")
            .field(
                "aml_gateways",
                &self.aml_gateways.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The AML gateways' shared HMAC keys by gateway id. `Debug` shows the ids only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AmlGateways(pub BTreeMap<String, [u8; 32]>);

impl std::fmt::Debug for AmlGateways {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Parses `ID:KEY,ID:KEY`.
pub fn parse_gateway_keys(text: &str) -> Result<BTreeMap<String, [u8; 32]>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, key) = item.split_once(':').ok_or_else(|| ConfigError::Invalid {
            setting: "aml-gateway-keys",
            message: "expected ID:KEY pairs separated by commas".into(),
        })?;
        check_gateway_id(id)?;
        out.insert(id.to_string(), decode_key("aml-gateway-keys", key)?);
    }
    Ok(out)
}

fn check_gateway_id(id: &str) -> Result<(), ConfigError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::Invalid {
            setting: "aml-gateway-keys",
            message: "gateway ids are 1 to 64 characters [A-Za-z0-9_-]".into(),
        });
    }
    Ok(())
}

/// Operator key material, decoded. `Debug` shows key ids only.
#[derive(Clone)]
pub struct KeyMaterial {
    /// Id of the current data key.
    pub current_data_key_id: String,
    /// Data keys by id (includes the current one).
    pub data_keys: Vec<(String, [u8; 32])>,
    /// The blind-index key.
    pub blind_index_key: [u8; 32],
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("current_data_key_id", &self.current_data_key_id)
            .field(
                "data_key_ids",
                &self.data_keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("blind_index_key", &"<redacted>")
            .finish()
    }
}

impl KeyMaterial {
    /// Fresh random keys (the demo and tests; an operator supplies their own).
    pub fn generate() -> Self {
        Self {
            current_data_key_id: "k1".into(),
            data_keys: vec![("k1".into(), crate::password::os_random())],
            blind_index_key: crate::password::os_random(),
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store lives.
    pub database_url: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where to serve `/metrics` and the Swagger UI; `None`: nowhere.
    pub ops_listen: Option<SocketAddr>,
    /// Operator keys; `None` when the command needs none (e.g. `audit verify`, `migrate`).
    pub keys: Option<KeyMaterial>,
    /// Request body limit in bytes.
    pub body_limit_bytes: usize,
    /// Signed-alert clock window in seconds.
    pub alert_window_s: i64,
    /// Staff session lifetime in seconds.
    pub session_ttl_s: i64,
    /// Most alerts written in one group commit.
    pub intake_max_batch: usize,
    /// Surge clustering radius and window (disabled with a zero radius).
    pub surge: jikimi_respond::SurgeConfig,
    /// MQTT intake for U-Relief terminals, when configured.
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// `.roads` file to load at start (road ETAs); wins over `roads_pbf`.
    pub roads: Option<PathBuf>,
    /// OpenStreetMap extract to import at start.
    pub roads_pbf: Option<PathBuf>,
    /// OpenStreetMap extract for civic addresses ([`crate::geocode`]).
    pub addresses_pbf: Option<PathBuf>,
    /// Administrative areas for a disaster's counts ([`crate::disaster::areas`]); H3 cells without.
    pub areas: Option<PathBuf>,
    /// Newest age, in milliseconds, of a fix that places a subscriber for a welfare check.
    pub welfare_fix_age_ms: i64,
    /// How long, in milliseconds, a person asked may stay silent before their guardians are told (0: never).
    pub welfare_silence_ms: i64,
    /// Who may submit AML payloads (HMAC keys by gateway id); empty refuses every AML request.
    pub aml_gateways: AmlGateways,
    /// The centre's IANA time zone (the console shows times in it).
    pub time_zone: String,
    /// This centre's agency id in CAP and EIDO exports (a domain name; no spaces, commas, `<` or `&`).
    pub agency: String,
    /// The guardian-notification worker's settings; `None` when it is switched off.
    pub notify: Option<jikimi_notify::WorkerConfig>,
    /// Request limits, refusal auditing, argon2 slots and the per-device alert budget.
    pub flood: crate::flood::FloodConfig,
    /// The cluster event bus (`--nats`); `None`: one node with the in-process bus.
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Identify: the upload limit and the quarantine rule.
    pub identify: crate::identify::IdentifyConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8112)),
            ops_listen: None,
            keys: None,
            body_limit_bytes: 64 * 1024,
            alert_window_s: 300,
            session_ttl_s: 8 * 3600,
            intake_max_batch: 1024,
            surge: jikimi_respond::SurgeConfig::DEFAULT,
            mqtt: None,
            roads: None,
            roads_pbf: None,
            addresses_pbf: None,
            areas: None,
            welfare_fix_age_ms: 3_600_000,
            welfare_silence_ms: 1_800_000,
            aml_gateways: AmlGateways::default(),
            time_zone: DEFAULT_TIME_ZONE.into(),
            agency: DEFAULT_AGENCY.into(),
            notify: Some(jikimi_notify::WorkerConfig::default()),
            cluster: None,
            flood: crate::flood::FloodConfig::default(),
            identify: crate::identify::IdentifyConfig::default(),
        }
    }
}

/// Checks that `tz` looks like an IANA time-zone name (`Area/Location`, `UTC`, `Etc/GMT+9`). Whether the name is
/// in the browser's time-zone database is the console's concern: it falls back to the default when it is not.
/// The agency id used when none is configured: `.invalid` is reserved (RFC 2606), so it never names a real agency.
pub const DEFAULT_AGENCY: &str = "jikimi.invalid";

/// An agency id must be usable in a CAP identifier and sender: 1 to 253 characters of letters, digits, `.`, `-`.
pub fn check_agency(agency: &str) -> Result<(), ConfigError> {
    let ok = !agency.is_empty()
        && agency.len() <= 253
        && agency
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            setting: "agency",
            message: format!("{agency:?}: use a domain name (letters, digits, '.', '-')"),
        })
    }
}

pub fn check_time_zone(tz: &str) -> Result<(), ConfigError> {
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
        && !tz.starts_with('/')
        && !tz.ends_with('/')
        && !tz.contains("//");
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            setting: "time-zone",
            message: format!("{tz:?} is not an IANA time-zone name such as Asia/Seoul"),
        })
    }
}

/// Decodes a 32-byte key written as 64 hex characters or standard base64.
pub fn decode_key(setting: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| ConfigError::Invalid {
            setting,
            message: e.to_string(),
        })?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| ConfigError::Invalid {
                setting,
                message: "neither 64 hex characters nor base64".into(),
            })?
    };
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| ConfigError::Invalid {
        setting,
        message: format!("key must be 32 bytes, got {}", bytes.len()),
    })
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Toml {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// A key file holds only a `[keys]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileShape {
    keys: KeysFile,
}

/// Reads a key file, refused if group or others may access it ([`crate::keyfile::check_private`]).
pub fn read_key_file(path: &Path) -> Result<KeysFile, ConfigError> {
    crate::keyfile::check_private(path)?;
    Ok(read_toml::<KeyFileShape>(path)?.keys)
}

impl ConfigArgs {
    /// Merges flags/environment over the config file over defaults. `need_keys` makes missing keys an error.
    pub fn resolve(&self, need_keys: bool) -> Result<Config, ConfigError> {
        let file: FileConfig = match &self.config {
            Some(path) => read_toml(path)?,
            None => FileConfig::default(),
        };
        if let (Some(path), Some(_)) = (&self.config, &file.keys) {
            // A config file with inline keys is a key file too.
            crate::keyfile::check_private(path)?;
        }
        let defaults = Config::default();
        let base_dir = self
            .config
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);

        // Keys: flags/env first, then the key file (flag, or named in the config), then inline [keys].
        let key_file_path = self.key_file.clone().or_else(|| {
            file.key_file.as_ref().map(|p| match &base_dir {
                Some(dir) if p.is_relative() => dir.join(p),
                _ => p.clone(),
            })
        });
        let mut keys_table = match &key_file_path {
            Some(path) => read_key_file(path)?,
            None => file.keys.unwrap_or_default(),
        };
        if let Some(key) = &self.data_key {
            let id = self.data_key_id.clone().unwrap_or_else(|| "k1".into());
            keys_table.data_keys.insert(id.clone(), key.clone());
            keys_table.current_data_key_id = Some(id);
        } else if let Some(id) = &self.data_key_id {
            keys_table.current_data_key_id = Some(id.clone());
        }
        if let Some(key) = &self.blind_index_key {
            keys_table.blind_index_key = Some(key.clone());
        }
        let mut aml_gateways = BTreeMap::new();
        for (id, key) in std::mem::take(&mut keys_table.aml_gateways) {
            check_gateway_id(&id)?;
            aml_gateways.insert(id, decode_key("aml-gateway-keys", &key)?);
        }
        if let Some(text) = &self.aml_gateway_keys {
            aml_gateways.extend(parse_gateway_keys(text)?);
        }
        let keys = resolve_keys(keys_table, need_keys)?;
        let notify = self.notify.resolve(file.notify.unwrap_or_default())?;
        let flood = self.flood.resolve(file.flood.unwrap_or_default())?;

        let body_limit_bytes = self
            .body_limit_bytes
            .or(file.body_limit_bytes)
            .unwrap_or(defaults.body_limit_bytes);
        if body_limit_bytes < 256 {
            return Err(ConfigError::Invalid {
                setting: "body-limit-bytes",
                message: "must be at least 256".into(),
            });
        }
        let alert_window_s = self
            .alert_window_s
            .or(file.alert_window_s)
            .unwrap_or(defaults.alert_window_s);
        if !(1..=86_400).contains(&alert_window_s) {
            return Err(ConfigError::Invalid {
                setting: "alert-window-s",
                message: "must be 1..=86400".into(),
            });
        }
        let session_ttl_s = self
            .session_ttl_s
            .or(file.session_ttl_s)
            .unwrap_or(defaults.session_ttl_s);
        if session_ttl_s < 60 {
            return Err(ConfigError::Invalid {
                setting: "session-ttl-s",
                message: "must be at least 60".into(),
            });
        }
        let time_zone = self
            .time_zone
            .clone()
            .or(file.time_zone)
            .unwrap_or(defaults.time_zone);
        check_time_zone(&time_zone)?;
        let agency = self
            .agency
            .clone()
            .or(file.agency)
            .unwrap_or(defaults.agency);
        check_agency(&agency)?;
        let surge_radius_m = self
            .surge_radius_m
            .or(file.surge_radius_m)
            .unwrap_or(defaults.surge.radius_m);
        if !(surge_radius_m.is_finite() && (0.0..=10_000.0).contains(&surge_radius_m)) {
            return Err(ConfigError::Invalid {
                setting: "surge-radius-m",
                message: "must be 0..=10000 metres".into(),
            });
        }
        let surge_window_s = self
            .surge_window_s
            .or(file.surge_window_s)
            .unwrap_or(defaults.surge.window_ms / 1000);
        if !(0..=86_400).contains(&surge_window_s) {
            return Err(ConfigError::Invalid {
                setting: "surge-window-s",
                message: "must be 0..=86400".into(),
            });
        }
        let welfare_fix_age_s = self
            .welfare_fix_age_s
            .or(file.welfare_fix_age_s)
            .unwrap_or(defaults.welfare_fix_age_ms / 1000);
        if !(0..=30 * 86_400).contains(&welfare_fix_age_s) {
            return Err(ConfigError::Invalid {
                setting: "welfare-fix-age-s",
                message: "must be 0..=2592000".into(),
            });
        }
        let welfare_silence_s = self
            .welfare_silence_s
            .or(file.welfare_silence_s)
            .unwrap_or(defaults.welfare_silence_ms / 1000);
        if !(0..=7 * 86_400).contains(&welfare_silence_s) {
            return Err(ConfigError::Invalid {
                setting: "welfare-silence-s",
                message: "must be 0..=604800".into(),
            });
        }
        let mqtt = crate::mqtt::config::MqttSettings {
            url: self.mqtt.clone().or(file.mqtt),
            client_id: self.mqtt_client_id.clone().or(file.mqtt_client_id),
            prefix: self.mqtt_topic_prefix.clone().or(file.mqtt_topic_prefix),
            username: self.mqtt_username.clone().or(file.mqtt_username),
            password: self.mqtt_password.clone().or(file.mqtt_password),
            ca: self
                .mqtt_ca
                .clone()
                .or_else(|| relative(&base_dir, file.mqtt_ca)),
        }
        .resolve()
        .map_err(|(setting, message)| ConfigError::Invalid { setting, message })?;
        let cluster = crate::cluster::ClusterConfig::resolve(
            self.nats.clone().or(file.nats),
            self.nats_stream.clone().or(file.nats_stream),
            self.node_id.clone().or(file.node_id),
        )
        .map_err(|(setting, message)| ConfigError::Invalid { setting, message })?;
        Ok(Config {
            database_url: self
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or(defaults.database_url),
            listen: self.listen.or(file.listen).unwrap_or(defaults.listen),
            ops_listen: self.ops_listen.or(file.ops_listen),
            keys,
            body_limit_bytes,
            alert_window_s,
            session_ttl_s,
            intake_max_batch: defaults.intake_max_batch,
            surge: jikimi_respond::SurgeConfig {
                radius_m: surge_radius_m,
                window_ms: surge_window_s * 1000,
            },
            mqtt,
            roads: self
                .roads
                .clone()
                .or_else(|| relative(&base_dir, file.roads)),
            roads_pbf: self
                .roads_pbf
                .clone()
                .or_else(|| relative(&base_dir, file.roads_pbf)),
            addresses_pbf: self
                .addresses_pbf
                .clone()
                .or_else(|| relative(&base_dir, file.addresses_pbf)),
            areas: self
                .areas
                .clone()
                .or_else(|| relative(&base_dir, file.areas)),
            welfare_fix_age_ms: welfare_fix_age_s * 1000,
            welfare_silence_ms: welfare_silence_s * 1000,
            aml_gateways: AmlGateways(aml_gateways),
            time_zone,
            agency,
            notify,
            flood,
            cluster,
            identify: crate::identify::IdentifyConfig {
                evidence_root: self
                    .evidence_root
                    .clone()
                    .or_else(|| relative(&base_dir, file.evidence_root)),
                ..defaults.identify
            },
        })
    }
}

/// A path from the config file, taken relative to the file's directory.
fn relative(base_dir: &Option<PathBuf>, path: Option<PathBuf>) -> Option<PathBuf> {
    path.map(|p| match base_dir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p,
    })
}

fn resolve_keys(table: KeysFile, need_keys: bool) -> Result<Option<KeyMaterial>, ConfigError> {
    if table.data_keys.is_empty() && table.blind_index_key.is_none() {
        return if need_keys {
            Err(ConfigError::Missing("data-key"))
        } else {
            Ok(None)
        };
    }
    let mut data_keys = Vec::new();
    for (id, text) in &table.data_keys {
        if id.is_empty() || id.len() > 32 {
            return Err(ConfigError::Invalid {
                setting: "data-key-id",
                message: "must be 1 to 32 characters".into(),
            });
        }
        data_keys.push((id.clone(), decode_key("data-key", text)?));
    }
    let current = match table.current_data_key_id {
        Some(id) => id,
        None if data_keys.len() == 1 => data_keys[0].0.clone(),
        None => return Err(ConfigError::Missing("data-key-id")),
    };
    if !data_keys.iter().any(|(id, _)| *id == current) {
        return Err(ConfigError::Invalid {
            setting: "data-key-id",
            message: format!("no data key with id {current:?}"),
        });
    }
    let blind = table
        .blind_index_key
        .ok_or(ConfigError::Missing("blind-index-key"))?;
    let blind_index_key = decode_key("blind-index-key", &blind)?;
    Ok(Some(KeyMaterial {
        current_data_key_id: current,
        data_keys,
        blind_index_key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("jikimi-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let keys = KeyMaterial::generate();
        assert!(crate::keyfile::write_key_file(&dir.join("keys.toml"), &keys).is_ok());
        std::fs::write(
            dir.join("jikimi.toml"),
            "database_url = \"sqlite://from-file.sqlite\"\nlisten = \"127.0.0.1:9000\"\nkey_file = \"keys.toml\"\n",
        )
        .unwrap_or_default();
        let args = ConfigArgs {
            config: Some(dir.join("jikimi.toml")),
            listen: Some(
                "127.0.0.1:9001"
                    .parse()
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            ),
            ..ConfigArgs::default()
        };
        let config = args.resolve(true);
        assert!(config.is_ok(), "{config:?}");
        if let Ok(config) = config {
            assert_eq!(config.database_url, "sqlite://from-file.sqlite");
            assert_eq!(config.listen.port(), 9001);
            let loaded = config.keys.map(|k| k.data_keys);
            assert_eq!(loaded, Some(keys.data_keys.clone()));
            assert_eq!(config.alert_window_s, 300);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_are_required_when_asked_and_checked() {
        assert!(matches!(
            ConfigArgs::default().resolve(true),
            Err(ConfigError::Missing("data-key"))
        ));
        assert!(matches!(
            ConfigArgs::default().resolve(false),
            Ok(Config { keys: None, .. })
        ));
        let bad = ConfigArgs {
            data_key: Some("abcd".into()),
            blind_index_key: Some(hex::encode([7u8; 32])),
            ..ConfigArgs::default()
        };
        assert!(matches!(
            bad.resolve(true),
            Err(ConfigError::Invalid {
                setting: "data-key",
                ..
            })
        ));
        let good = ConfigArgs {
            data_key: Some(hex::encode([1u8; 32])),
            data_key_id: Some("2026-11".into()),
            blind_index_key: Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32])),
            ..ConfigArgs::default()
        };
        let keys = good.resolve(true).ok().and_then(|c| c.keys);
        assert_eq!(
            keys.map(|k| k.current_data_key_id),
            Some("2026-11".to_string())
        );
    }

    #[test]
    fn aml_gateway_keys_parse_and_stay_secret() {
        let args = ConfigArgs {
            aml_gateway_keys: Some(format!(
                "skt:{},kt:{}",
                hex::encode([1u8; 32]),
                hex::encode([2u8; 32])
            )),
            ..ConfigArgs::default()
        };
        let config = args.resolve(false).ok();
        let gateways = config.map(|c| c.aml_gateways).unwrap_or_default();
        assert_eq!(gateways.0.get("kt"), Some(&[2u8; 32]));
        assert_eq!(format!("{gateways:?}"), r#"["kt", "skt"]"#);
        assert!(parse_gateway_keys("no-colon").is_err());
        assert!(parse_gateway_keys("bad id:00").is_err());
    }

    #[test]
    fn time_zone_defaults_to_seoul_and_is_checked() {
        let config = ConfigArgs::default().resolve(false);
        assert_eq!(
            config.map(|c| c.time_zone).ok().as_deref(),
            Some("Asia/Seoul")
        );
        for good in [
            "Europe/Helsinki",
            "UTC",
            "Etc/GMT+9",
            "America/Argentina/Buenos_Aires",
        ] {
            assert!(check_time_zone(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Europe//Helsinki",
            "/etc/passwd",
            "Asia/Seoul; drop",
            "a".repeat(65).as_str(),
        ] {
            assert!(check_time_zone(bad).is_err(), "{bad}");
        }
        let helsinki = ConfigArgs {
            time_zone: Some("Europe/Helsinki".into()),
            ..ConfigArgs::default()
        };
        assert_eq!(
            helsinki.resolve(false).map(|c| c.time_zone).ok().as_deref(),
            Some("Europe/Helsinki")
        );
        let bad = ConfigArgs {
            time_zone: Some("Mars Base".into()),
            ..ConfigArgs::default()
        };
        assert!(matches!(
            bad.resolve(false),
            Err(ConfigError::Invalid {
                setting: "time-zone",
                ..
            })
        ));
    }

    #[test]
    fn notify_settings_resolve_and_are_checked() {
        let on = NotifyArgs::default().resolve(NotifyFile::default());
        assert!(matches!(on, Ok(Some(_))), "on by default");
        let off = NotifyArgs {
            enabled: Some(false),
            ..NotifyArgs::default()
        };
        assert!(matches!(off.resolve(NotifyFile::default()), Ok(None)));
        let file = NotifyFile {
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(2525),
            max_attempts: Some(3),
            ..NotifyFile::default()
        };
        let args = NotifyArgs {
            webhook_secret: Some("0123456789abcdef".into()),
            max_attempts: Some(5),
            ..NotifyArgs::default()
        };
        let config = args.resolve(file).ok().flatten();
        let config = config.as_ref();
        assert_eq!(config.map(|c| c.backoff.max_attempts), Some(5), "flag wins");
        assert_eq!(
            config.and_then(|c| c.smtp.as_ref()).map(|s| s.port),
            Some(2525)
        );
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        for bad in [
            NotifyArgs {
                lease_s: Some(5),
                ..NotifyArgs::default()
            },
            NotifyArgs {
                webhook_secret: Some("short".into()),
                ..NotifyArgs::default()
            },
            NotifyArgs {
                smtp_host: Some("h".into()),
                smtp_tls: Some("ssl3".into()),
                ..NotifyArgs::default()
            },
        ] {
            assert!(matches!(
                bad.resolve(NotifyFile::default()),
                Err(ConfigError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn debug_never_shows_keys() {
        let keys = KeyMaterial::generate();
        let text = format!("{keys:?}");
        assert!(!text.contains(&hex::encode(keys.blind_index_key)));
        assert!(!text.contains(&hex::encode(keys.data_keys[0].1)));
    }
}
