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

/// One alert for the committer.
#[derive(Debug, Clone)]
pub struct IntakeItem {
    /// The alert.
    pub alert: NewAlert,
    /// Its device is past its budget: the alert joins the device's open incident as a counted report (see
    /// [`Store::record_alerts_budgeted`]). It is committed all the same: a real SOS is never refused.
    pub over_budget: bool,
}

impl From<NewAlert> for IntakeItem {
    fn from(alert: NewAlert) -> Self {
        IntakeItem {
            alert,
            over_budget: false,
        }
    }
}

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
///
/// It also remembers, briefly and in bounded number, ids the database did not know ([`DeviceCache::is_absent`]), so
/// a flood repeating a made-up device id costs one look-up, not one per request. Registering or enrolling a device
/// here forgets its id at once; one registered through another server is seen within [`NEGATIVE_TTL`].
///
/// And it holds every device id known to exist ([`DeviceCache::is_known`]: loaded at start by
/// [`AppState::load_known_devices`], added to on every successful look-up and registration). A known id is looked
/// up even while the flood limits refuse look-ups of unknown ids: a flood of made-up ids never delays a real SOS
/// whose cache entry has expired. 16 bytes an id: a million devices take about 40 MB.
#[derive(Debug, Default)]
pub struct DeviceCache {
    entries: RwLock<HashMap<DeviceId, CachedDevice>>,
    absent: RwLock<HashMap<DeviceId, Instant>>,
    known: RwLock<std::collections::HashSet<DeviceId>>,
}

const DEVICE_CACHE_TTL: Duration = Duration::from_secs(60);
/// How long an unknown device id is answered from memory.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Most unknown ids remembered; past it, expired ones are dropped, and if none has expired nothing new is added
/// (the look-up limits of [`crate::flood`] then bound the database work).
pub const NEGATIVE_CAPACITY: usize = 50_000;

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
        self.mark_known([id]);
        device
    }

    /// Remembers that these devices exist.
    pub fn mark_known(&self, ids: impl IntoIterator<Item = DeviceId>) {
        if let Ok(mut known) = self.known.write() {
            known.extend(ids);
        }
    }

    /// Forgets that a device exists (the database no longer has it: erased).
    pub fn unmark_known(&self, id: &DeviceId) {
        if let Ok(mut known) = self.known.write() {
            known.remove(id);
        }
    }

    /// Whether `id` is known to exist (cached or not).
    pub fn is_known(&self, id: &DeviceId) -> bool {
        self.known.read().map(|k| k.contains(id)).unwrap_or(false)
    }

    /// Forgets a device (revoked, erased, replaced, newly registered).
    pub fn forget(&self, id: &DeviceId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(id);
        }
        if let Ok(mut absent) = self.absent.write() {
            absent.remove(id);
        }
    }

    /// Whether the database recently said it does not know `id`.
    pub fn is_absent(&self, id: &DeviceId) -> bool {
        self.absent
            .read()
            .ok()
            .and_then(|absent| absent.get(id).map(|at| at.elapsed() < NEGATIVE_TTL))
            .unwrap_or(false)
    }

    /// Remembers that the database does not know `id` (bounded: see [`NEGATIVE_CAPACITY`]).
    pub fn put_absent(&self, id: DeviceId) {
        let Ok(mut absent) = self.absent.write() else {
            return;
        };
        if absent.len() >= NEGATIVE_CAPACITY {
            absent.retain(|_, at| at.elapsed() < NEGATIVE_TTL);
            if absent.len() >= NEGATIVE_CAPACITY {
                return;
            }
        }
        absent.insert(id, Instant::now());
    }

    /// How many unknown ids are remembered (for tests and metrics).
    pub fn absent_len(&self) -> usize {
        self.absent.read().map(|a| a.len()).unwrap_or(0)
    }
}

/// Per-key token buckets (the app's location stream per device; the dispatcher's questions per incident): `burst`
/// requests at once, then one every `refill_ms`.
///
/// Kept in memory: a limit is a courtesy to the database, not a security boundary (every request is signed and
/// single-use anyway), so losing the buckets on restart is harmless. Time comes from the caller (the state's
/// clock), so tests are deterministic.
#[derive(Debug)]
pub struct RateLimiter<K = DeviceId> {
    burst: f64,
    refill_ms: f64,
    buckets: std::sync::Mutex<HashMap<K, (f64, i64)>>,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// A limiter allowing `burst` at once and one more every `refill_ms`.
    pub fn new(burst: u32, refill_ms: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            refill_ms: f64::from(refill_ms.max(1)),
            buckets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `device` (any key) at `now`; `false` when the bucket is empty.
    pub fn allow(&self, device: K, now: Timestamp) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now_ms = now.as_unix_ms();
        // Forget full buckets now and then so the map does not grow with every device ever seen.
        if buckets.len() > 100_000 {
            let (burst, refill) = (self.burst, self.refill_ms);
            buckets.retain(|_, (tokens, at)| *tokens + (now_ms - *at) as f64 / refill < burst);
        }
        let (tokens, at) = buckets.entry(device).or_insert((self.burst, now_ms));
        let refilled = (*tokens + (now_ms - *at).max(0) as f64 / self.refill_ms).min(self.burst);
        *at = now_ms.max(*at);
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            true
        } else {
            *tokens = refilled;
            false
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
    pub intake: GroupCommit<IntakeItem, IntakeResult>,
    /// The group committer for identify lookups ([`crate::identify_lookup`]): each lookup's matches and audit
    /// entry are durable before its answer, and concurrent lookups share one transaction.
    pub lookups: GroupCommit<LookupItem, Result<(), jikimi_store::Error>>,
    /// Device keys.
    pub devices: Arc<DeviceCache>,
    /// Travel-time estimates for recommendations.
    pub eta: Arc<dyn EtaProvider>,
    /// The road network, when one is loaded (`--roads`); see [`crate::road_eta`].
    pub roads: Option<Arc<jikimi_roads::RoadNetwork>>,
    /// Civic addresses, when address data is loaded (`--addresses-pbf`); see [`crate::geocode`].
    pub addresses: Option<Arc<jikimi_geocode::AddressIndex>>,
    /// Administrative areas for disaster counts, when loaded (`--areas`); see [`crate::disaster::areas`].
    pub admin_areas: Option<Arc<crate::disaster::areas::AdminAreas>>,
    /// The public warnings feed as last rendered ([`crate::warnings::FeedCache`]).
    pub warning_feed: crate::warnings::FeedCache,
    /// Applies the road closures in force to [`AppState::roads`] ([`crate::closures`]).
    pub closures: crate::closures::ClosureApplier,
    /// The app's location stream, per device.
    pub location_limiter: Arc<RateLimiter>,
    /// The dispatcher's silent questions, per incident ([`crate::twoway`]).
    pub question_limiter: Arc<RateLimiter<jikimi_respond::IncidentId>>,
    /// Own incidents per device: past it, a device's alerts join its open incident as counted reports.
    pub alert_budget: Arc<RateLimiter>,
    /// Per-source and global request limits ([`crate::flood`]).
    pub flood: Arc<crate::flood::FloodGuard>,
    /// Every refusal path audits through it ([`crate::flood::coalesce`]).
    pub refusals: Arc<crate::flood::AuditCoalescer>,
    /// Concurrent argon2 work, with a slot kept for cancel and duress PINs ([`crate::password::Argon2Slots`]).
    pub argon2: Arc<crate::password::Argon2Slots>,
    /// Now.
    pub clock: Clock,
    /// Limits and windows.
    pub config: Arc<Config>,
    /// The shared cases (federation case store), when one is configured; feeds linkage and the watchlist.
    pub cases: Option<Arc<dyn crate::border::CaseSource>>,
    /// The border watchlist in force (empty until loaded from `cases`).
    pub border: Arc<crate::border::BorderWatchlist>,
    /// Cooperation (agencies, agreements, federation) on the same database, when enabled ([`AppState::with_exchange`]).
    pub exchange: Option<Arc<jikimi_federation::Federation>>,
    /// The console's live feed. It follows the store's commits ([`crate::live`]), so every way in (HTTP, MQTT, AML,
    /// the 112 app, staff actions) puts its changes on the dispatcher's screen at once with no code of its own.
    pub live: crate::live::Hub,
    /// The MQTT adapter's publishing handle, once [`crate::mqtt::spawn`] has started it: committed silent questions
    /// are published to the terminal through it ([`crate::twoway::ask`]).
    pub mqtt_downlink: Arc<std::sync::OnceLock<crate::mqtt::Downlink>>,
    /// Whether the MQTT intake's subscriptions are confirmed by the broker now (`/readyz` reports it).
    pub mqtt_subscribed: Arc<std::sync::atomic::AtomicBool>,
    /// This node's part in a cluster (`--nats`, [`crate::cluster`]); `None` for a single node.
    pub cluster: Option<crate::cluster::Cluster>,
    /// The hash banks in memory, following the store's commits ([`crate::identify_index`]).
    pub identify: crate::identify_index::Banks,
    /// Server-side triage jobs ([`crate::identify_triage`]), in memory.
    pub triage: crate::identify_triage::Jobs,
    /// Sessions confirmed in the last second ([`crate::sessions`]).
    pub sessions: Arc<crate::sessions::SessionCache>,
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
        let keyring = keys.keyring().map_err(|e| KeyError(e.to_string()))?;
        let blind = BlindIndex::new(keys.blind_index_key);
        let committer_store = store.clone();
        let surge = config.surge;
        let flood = &config.flood;
        // A cluster's nodes share one budget per device, kept by the store (issue 18); one node keeps it in memory.
        let shared_budget = config
            .cluster
            .is_some()
            .then_some(jikimi_store::AlertBudget::Shared {
                burst: flood.alert_budget_burst,
                refill_ms: i64::from(flood.alert_budget_refill_s).saturating_mul(1000),
            });
        let intake = GroupCommit::spawn(
            config.intake_max_batch,
            65_536,
            move |batch: Vec<IntakeItem>| {
                let store = committer_store.clone();
                let shared_budget = shared_budget.clone();
                async move { commit_batch(store.as_ref(), batch, surge, shared_budget).await }
            },
        );
        let lookup_store = store.clone();
        let lookups =
            GroupCommit::spawn(LOOKUP_MAX_BATCH, 65_536, move |batch: Vec<LookupItem>| {
                let store = lookup_store.clone();
                async move { commit_lookups(store.as_ref(), batch).await }
            });
        let blind = Arc::new(blind);
        let guard = Arc::new(crate::flood::FloodGuard::new(flood));
        let refusals = Arc::new(crate::flood::AuditCoalescer::new(
            flood.audit_budget,
            blind.clone(),
        ));
        let housekeeping = Arc::downgrade(&guard);
        refusals.spawn_flusher(
            store.clone(),
            clock.clone(),
            Duration::from_secs(flood.audit_interval_s),
            move || {
                if let Some(guard) = housekeeping.upgrade() {
                    guard.forget_idle();
                }
            },
        );
        // In a cluster the feed follows the stream of every node's changes, not this store's commits.
        let (live, cluster) = match config.cluster.clone() {
            Some(settings) => {
                let hub = crate::live::Hub::for_cluster(store.clone());
                let shares = Arc::downgrade(&guard);
                let cluster = crate::cluster::Cluster::spawn(
                    store.clone(),
                    hub.clone(),
                    settings,
                    Arc::new(move |nodes| {
                        if let Some(guard) = shares.upgrade() {
                            guard.set_shares(nodes);
                        }
                    }),
                );
                (hub, Some(cluster))
            }
            None => (crate::live::Hub::new(store.clone()), None),
        };
        let identify = crate::identify_index::Banks::spawn(store.clone());
        Ok(Self {
            live,
            cluster,
            identify,
            triage: crate::identify_triage::Jobs::default(),
            sessions: Arc::default(),
            mqtt_downlink: Arc::default(),
            mqtt_subscribed: Arc::default(),
            store,
            keyring: Arc::new(keyring),
            blind,
            intake,
            lookups,
            devices: Arc::new(DeviceCache::default()),
            eta: Arc::new(StraightLineEta::default()),
            roads: None,
            addresses: None,
            admin_areas: None,
            warning_feed: crate::warnings::FeedCache::default(),
            closures: crate::closures::ClosureApplier::default(),
            location_limiter: Arc::new(RateLimiter::new(
                crate::app::LOCATION_BURST,
                crate::app::LOCATION_REFILL_MS,
            )),
            question_limiter: Arc::new(RateLimiter::new(
                crate::twoway::QUESTION_BURST,
                crate::twoway::QUESTION_REFILL_MS,
            )),
            alert_budget: Arc::new(RateLimiter::new(
                flood.alert_budget_burst,
                flood.alert_budget_refill_s.saturating_mul(1000),
            )),
            argon2: Arc::new(crate::password::Argon2Slots::new(flood.argon2_slots)),
            flood: guard,
            refusals,
            clock,
            config: Arc::new(config),
            cases: None,
            border: Arc::new(crate::border::BorderWatchlist::default()),
            exchange: None,
        })
    }

    /// Loads every enrolled device id into [`DeviceCache::is_known`] (at start, before serving); returns how many.
    pub async fn load_known_devices(&self) -> Result<usize, jikimi_store::Error> {
        let ids = self.store.all_device_ids().await?;
        let n = ids.len();
        self.devices.mark_known(ids);
        Ok(n)
    }

    /// Enables cooperation on this state's own store (the one handle on the database, seen as the exchange's
    /// store); pulls take `page_limit` envelopes per page and reach partners through `transport` (TLS roots).
    pub fn with_exchange(
        mut self,
        page_limit: u32,
        transport: jikimi_federation::Transport,
    ) -> Self {
        let store: Arc<dyn jikimi_exchange::store::ExchangeStore> = self.store.clone();
        self.exchange = Some(Arc::new(jikimi_federation::Federation::new(
            store, page_limit, transport,
        )));
        self
    }

    /// Now, by this state's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

/// A lookup to record, and who made it when.
pub type LookupItem = (jikimi_store::identify::LookupRecord, jikimi_store::Change);

/// Lookups recorded per transaction at most.
const LOOKUP_MAX_BATCH: usize = 256;

/// Records a batch of lookups in one transaction. Should the batch fail, each lookup is tried alone, so one that
/// cannot be recorded fails its own request only and the others are answered as usual.
async fn commit_lookups(
    store: &dyn Store,
    batch: Vec<LookupItem>,
) -> Vec<Result<(), jikimi_store::Error>> {
    match store.record_lookups(&batch).await {
        Ok(()) => batch.iter().map(|_| Ok(())).collect(),
        Err(_) if batch.len() > 1 => {
            let mut results = Vec::with_capacity(batch.len());
            for (lookup, change) in &batch {
                results.push(store.record_lookup(lookup, change).await);
            }
            results
        }
        Err(err) => vec![Err(err)],
    }
}

async fn commit_batch(
    store: &dyn Store,
    batch: Vec<IntakeItem>,
    surge: jikimi_respond::SurgeConfig,
    shared_budget: Option<jikimi_store::AlertBudget>,
) -> Vec<IntakeResult> {
    let n = batch.len();
    let budget = shared_budget.unwrap_or_else(|| {
        jikimi_store::AlertBudget::Marked(batch.iter().map(|item| item.over_budget).collect())
    });
    let batch = batch.into_iter().map(|item| item.alert).collect();
    match store.record_alerts_with_budget(batch, surge, budget).await {
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
