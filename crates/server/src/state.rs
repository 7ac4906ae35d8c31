//! The server's shared state: the store, the keys, the intake committer, the device-key cache, the clock.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use jikimi_privacy::{BlindIndex, Keyring};
use jikimi_respond::{DeviceId, EtaProvider, StraightLineEta, SubscriberId, Timestamp};
use jikimi_store::{AlertAccepted, NewAlert, Store};

use crate::config::{Config, KeyMaterial};
use crate::group_commit::GroupCommit;

/// Why an alert could not be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeFailure {
    /// The device already used the nonce.
    NonceReplayed,
    /// The database refused or was unreachable (detail for the log).
    Unavailable(String),
}

/// The committer's answer for one alert.
pub type IntakeResult = Result<AlertAccepted, IntakeFailure>;

/// A source of "now"; tests pin it, the server reads the system clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from(std::time::SystemTime::now()))
}

/// What the alert path needs to know about a device, cached so the hot path does not read the database.
#[derive(Debug, Clone)]
pub struct CachedDevice {
    /// The key that signs its alerts.
    pub key: VerifyingKey,
    /// Its subscriber.
    pub subscriber_id: Option<SubscriberId>,
    /// Revoked devices are refused like unknown ones.
    pub revoked: bool,
    loaded: Instant,
}

/// Device keys by id; entries expire after a minute so another server's revocation is seen soon, and this server's
/// own revocations and erasures remove them at once.
#[derive(Debug, Default)]
pub struct DeviceCache {
    entries: RwLock<HashMap<DeviceId, CachedDevice>>,
}

const DEVICE_CACHE_TTL: Duration = Duration::from_secs(60);

impl DeviceCache {
    /// A fresh entry for `id`, if any.
    pub fn get(&self, id: &DeviceId) -> Option<CachedDevice> {
        let entries = self.entries.read().ok()?;
        entries
            .get(id)
            .filter(|d| d.loaded.elapsed() < DEVICE_CACHE_TTL)
            .cloned()
    }

    /// Remembers a device.
    pub fn put(
        &self,
        id: DeviceId,
        key: VerifyingKey,
        subscriber_id: Option<SubscriberId>,
        revoked: bool,
    ) -> CachedDevice {
        let device = CachedDevice {
            key,
            subscriber_id,
            revoked,
            loaded: Instant::now(),
        };
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(id, device.clone());
        }
        device
    }

    /// Forgets a device (revoked, erased, replaced).
    pub fn forget(&self, id: &DeviceId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(id);
        }
    }
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store (SQLite or PostgreSQL).
    pub store: Arc<dyn Store>,
    /// Data-encryption keys for personal fields.
    pub keyring: Arc<Keyring>,
    /// Blind-index key.
    pub blind: Arc<BlindIndex>,
    /// The group committer for alerts.
    pub intake: GroupCommit<NewAlert, IntakeResult>,
    /// Device keys.
    pub devices: Arc<DeviceCache>,
    /// Travel-time estimates for recommendations.
    pub eta: Arc<dyn EtaProvider>,
    /// The road network, when one is loaded (`--roads`); see [`crate::road_eta`].
    pub roads: Option<Arc<jikimi_roads::RoadNetwork>>,
    /// Now.
    pub clock: Clock,
    /// Limits and windows.
    pub config: Arc<Config>,
    /// Cooperation (agencies, agreements, federation) on the same database, when enabled ([`AppState::with_exchange`]).
    pub exchange: Option<Arc<crate::exchange::ExchangeService>>,
}

/// Keys could not be turned into a keyring.
#[derive(Debug, thiserror::Error)]
#[error("invalid key material: {0}")]
pub struct KeyError(pub String);

impl AppState {
    /// Builds the state and starts the intake committer. Must be called inside a Tokio runtime.
    pub fn new(
        store: Arc<dyn Store>,
        keys: &KeyMaterial,
        config: Config,
        clock: Clock,
    ) -> Result<Self, KeyError> {
        let keyring = Keyring::new(&keys.current_data_key_id, keys.data_keys.iter().cloned())
            .map_err(|e| KeyError(e.to_string()))?;
        let blind = BlindIndex::new(keys.blind_index_key);
        let committer_store = store.clone();
        let intake = GroupCommit::spawn(
            config.intake_max_batch,
            65_536,
            move |batch: Vec<NewAlert>| {
                let store = committer_store.clone();
                async move { commit_batch(store.as_ref(), batch).await }
            },
        );
        Ok(Self {
            store,
            keyring: Arc::new(keyring),
            blind: Arc::new(blind),
            intake,
            devices: Arc::new(DeviceCache::default()),
            eta: Arc::new(StraightLineEta::default()),
            roads: None,
            clock,
            config: Arc::new(config),
            exchange: None,
        })
    }

    /// Enables cooperation on `store`, which must be the same database as [`AppState::store`]; pulls take
    /// `page_limit` envelopes per page.
    pub fn with_exchange(mut self, store: jikimi_store::AnyStore, page_limit: u32) -> Self {
        self.exchange = Some(Arc::new(crate::exchange::ExchangeService::new(
            store, page_limit,
        )));
        self
    }

    /// Now, by this state's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

async fn commit_batch(store: &dyn Store, batch: Vec<NewAlert>) -> Vec<IntakeResult> {
    let n = batch.len();
    match store.record_alerts(batch).await {
        Ok(results) => results
            .into_iter()
            .map(|r| match r {
                Ok(accepted) => Ok(accepted),
                Err(jikimi_store::Error::Conflict(jikimi_store::Conflict::NonceReplayed)) => {
                    Err(IntakeFailure::NonceReplayed)
                }
                Err(other) => Err(IntakeFailure::Unavailable(other.to_string())),
            })
            .collect(),
        Err(err) => {
            tracing::error!(error = %err, n_alerts = n, "group commit failed; nothing of the batch was stored");
            vec![Err(IntakeFailure::Unavailable(err.to_string())); n]
        }
    }
}
