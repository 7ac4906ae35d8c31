//! Flood defence: junk must cost almost nothing, and a real SOS must never be refused.
//!
//! - [`Source`] is who sent a request: the peer address from axum's `ConnectInfo` (IPv6 folded to its /64, since
//!   one host owns a whole /64), or, when the peer is a trusted reverse proxy (`--trusted-proxy`), the client it
//!   names in `X-Forwarded-For` ([`resolve_source`]). In-process callers (tests driving the router with `oneshot`,
//!   the MQTT adapter) have none: they skip the per-source limits and only meet the global ones.
//! - [`FloodGuard`] holds `governor` rate limiters, per source and global, for each expensive path
//!   ([`Guarded`]). Logins, enrolments and federation requests are charged per attempt ([`FloodGuard::check`]).
//!   Device look-ups and AML credentials are charged per *failure* only ([`FloodGuard::charge_failure`]): a
//!   source (or everybody) past its failure budget is refused before the work until the bucket refills
//!   ([`FloodGuard::refuse_if_penalised`]). So a carrier NAT full of real phones raising their first SOS at once is
//!   never limited (their look-ups succeed), while a source making up device ids is, after a few, and costs no
//!   database read. A device already in the device cache is never limited at all.
//! - A limited request is answered `429 rate_limited` with `Retry-After`, before any database work.
//! - [`guard`] is the middleware that applies the limits that depend on the path only (login, enrolment,
//!   federation); the others are taken where their cost arises (`alerts::device_key`, `aml`).
//! - [`log_refusal`] logs refusals at a bounded rate, counting the ones it leaves out into the next line it writes:
//!   a log line per junk request would be per-request work an attacker multiplies for free.
//! - [`coalesce::AuditCoalescer`] writes refusals to the audit log one by one up to a per-source budget, then as
//!   one summary entry per source and reason per interval, so the hash chain still accounts for every refusal.

pub mod coalesce;
mod settings;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

pub use coalesce::{AuditCoalescer, Disposition, Refusal};
pub use settings::{FloodArgs, FloodConfig, FloodFile};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who sent a request, as far as the limits are concerned: an IPv4 address or an IPv6 /64; `None` in process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Source(pub Option<IpAddr>);

impl Source {
    /// The source of a peer address.
    pub fn of(addr: IpAddr) -> Source {
        let key = match addr {
            IpAddr::V4(_) => addr,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
        };
        Source(Some(key))
    }

    /// The source of a request: what [`resolve_source`] found, else its `ConnectInfo` when served with one.
    pub fn from_parts(extensions: &axum::http::Extensions) -> Source {
        if let Some(Forwarded(source)) = extensions.get::<Forwarded>() {
            return *source;
        }
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| Source::of(info.0.ip()))
            .unwrap_or_default()
    }

    /// The client behind `peer`: `peer` itself unless it is one of `trusted`; then the right-most address of
    /// `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it saw, so entries left of
    /// the last untrusted one may be forged by the client). A malformed header leaves the proxy as the source.
    pub fn behind(peer: IpAddr, trusted: &[IpAddr], forwarded_for: Option<&str>) -> Source {
        if !trusted.contains(&peer) {
            return Source::of(peer);
        }
        let Some(header) = forwarded_for else {
            return Source::of(peer);
        };
        for entry in header.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => continue,
                Ok(ip) => return Source::of(ip),
                Err(_) => break,
            }
        }
        Source::of(peer)
    }
}

/// The client a trusted proxy named, put on the request by [`resolve_source`].
#[derive(Debug, Clone, Copy)]
struct Forwarded(Source);

/// Middleware (outermost, on every route): when the peer is a trusted proxy, records the client it forwards for,
/// so every limit and audit pseudonym sees the client, not the proxy. Nothing to do without trusted proxies.
pub async fn resolve_source(
    State(trusted): State<std::sync::Arc<[IpAddr]>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !trusted.is_empty()
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        let forwarded_for = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let source = Source::behind(peer.ip(), &trusted, forwarded_for);
        request.extensions_mut().insert(Forwarded(source));
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Source::from_parts(&parts.extensions))
    }
}

/// The expensive paths that have their own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// `POST /api/auth/login` (argon2).
    Login,
    /// `POST /api/devices/enrol` (argon2 for the PINs); shares the login limits: both are argon2 work.
    Enrol,
    /// A database look-up of a device id that is in neither the device cache nor the negative cache; charged when
    /// the id turns out unknown.
    DeviceLookup,
    /// An AML gateway credential; charged when it fails.
    AmlFailure,
    /// A federation request (signed envelope, pull, receipt, notification).
    Federation,
}

impl Guarded {
    /// The audit action its 429s are summarised under.
    pub fn action(self) -> &'static str {
        match self {
            Guarded::Login => "staff.login_limited",
            Guarded::Enrol => "enrolment.limited",
            Guarded::DeviceLookup => "alert.limited",
            Guarded::AmlFailure => "aml.limited",
            Guarded::Federation => "federation.limited",
        }
    }
}

struct Limit {
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    global: Option<DefaultDirectRateLimiter>,
    /// For limits charged per failure: until when a source (`Some`) or everybody (`None`) is refused unchecked.
    penalties: std::sync::Mutex<std::collections::HashMap<Option<IpAddr>, std::time::Instant>>,
}

/// Most penalised sources remembered; past it new ones are not (the global limit still holds).
const MAX_PENALTIES: usize = 100_000;

impl Limit {
    fn new(per_source: Quota, global: Option<Quota>) -> Limit {
        Limit {
            per_source: governor::RateLimiter::keyed(per_source),
            global: global.map(governor::RateLimiter::direct),
            penalties: Default::default(),
        }
    }

    /// `Err(wait)` while `source` or everybody is penalised.
    fn penalised(&self, source: Source) -> Result<(), Duration> {
        let Ok(penalties) = self.penalties.lock() else {
            return Ok(());
        };
        if penalties.is_empty() {
            return Ok(());
        }
        let now = std::time::Instant::now();
        let until = [
            source.0.and_then(|ip| penalties.get(&Some(ip))),
            penalties.get(&None),
        ]
        .into_iter()
        .flatten()
        .filter(|until| **until > now)
        .max();
        match until {
            Some(until) => Err(*until - now),
            None => Ok(()),
        }
    }

    /// Charges one failure, as `n` cells (see [`FloodGuard::set_shares`]); an empty bucket penalises its owner (the
    /// source, or everybody) until it refills.
    fn charge(&self, source: Source, n: NonZeroU32) {
        let now = DefaultClock::default().now();
        let mut penalise = Vec::new();
        if let Some(ip) = source.0
            && let Err(not_until) = take_n(n, |n| self.per_source.check_key_n(&ip, n))
        {
            penalise.push((Some(ip), not_until.wait_time_from(now)));
        }
        if let Some(global) = &self.global
            && let Err(not_until) = take_n(n, |n| global.check_n(n))
        {
            penalise.push((None, not_until.wait_time_from(now)));
        }
        if penalise.is_empty() {
            return;
        }
        if let Ok(mut penalties) = self.penalties.lock() {
            let at = std::time::Instant::now();
            if penalties.len() >= MAX_PENALTIES {
                penalties.retain(|_, until| *until > at);
            }
            for (who, wait) in penalise {
                if penalties.len() < MAX_PENALTIES || penalties.contains_key(&who) {
                    penalties.insert(who, at + wait);
                }
            }
        }
    }

    /// `Err(wait)` when the source's or the global bucket is empty. The source is charged first, so a flooding
    /// source spends its own tokens and not everybody's.
    fn check(&self, source: Source, n: NonZeroU32) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        if let Some(ip) = source.0 {
            take_n(n, |n| self.per_source.check_key_n(&ip, n))
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        if let Some(global) = &self.global {
            take_n(n, |n| global.check_n(n)).map_err(|not_until| not_until.wait_time_from(now))?;
        }
        Ok(())
    }
}

/// Why `n` more tokens were not taken.
enum Short {
    /// Not now: the bucket holds fewer; it refills in the time given.
    Wait(Duration),
    /// Never: more than the bucket holds when full.
    Beyond,
}

impl Limit {
    /// Takes `n` tokens from the source's and the global bucket, all or none.
    fn check_n(&self, source: Source, n: NonZeroU32) -> Result<(), Short> {
        let now = DefaultClock::default().now();
        if let Some(ip) = source.0 {
            match self.per_source.check_key_n(&ip, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(Short::Wait(not_until.wait_time_from(now))),
                Err(_) => return Err(Short::Beyond),
            }
        }
        if let Some(global) = &self.global {
            match global.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(Short::Wait(not_until.wait_time_from(now))),
                Err(_) => return Err(Short::Beyond),
            }
        }
        Ok(())
    }
}

/// The federation budget of one request's source, put in the request's extensions by the middleware that charged
/// its first token ([`guard`], and `jikimi federation serve`'s own): a handler that learns from the body what the
/// request really costs charges the rest, before any signature is checked. A batch of operation events counts as
/// one federation request per event, so batching does not widen what one source may send.
#[derive(Clone)]
pub struct FederationBudget {
    guard: std::sync::Arc<FloodGuard>,
    source: Source,
}

impl FederationBudget {
    /// The budget of `source` in `guard`.
    pub fn new(guard: std::sync::Arc<FloodGuard>, source: Source) -> FederationBudget {
        FederationBudget { guard, source }
    }

    /// Charges a request that counts as `count` federation requests (the first is charged already): 429 with
    /// `Retry-After` while the source's budget is short, 413 when `count` is more than the budget ever holds (the
    /// sender sends less at once). In a cluster each counts as many cells as there are live nodes, as every
    /// request does ([`FloodGuard::set_shares`]), so the nodes together take what one would.
    pub fn charge(&self, count: usize) -> Result<(), ApiError> {
        let shares = self.guard.shares().get() as usize;
        let more =
            u32::try_from(count.saturating_sub(1).saturating_mul(shares)).unwrap_or(u32::MAX);
        let Some(more) = NonZeroU32::new(more) else {
            return Ok(());
        };
        if !self.guard.enabled {
            return Ok(());
        }
        match self.guard.federation.check_n(self.source, more) {
            Ok(()) => Ok(()),
            Err(Short::Wait(wait)) => Err(FloodGuard::limited(Guarded::Federation, wait)),
            Err(Short::Beyond) => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "more items than this source may send per minute: send fewer at once",
            )),
        }
    }
}

type NotUntil = governor::NotUntil<<DefaultClock as governor::clock::Clock>::Instant>;

/// Takes `n` cells, or the whole bucket when `n` is more than it can ever hold (more nodes than its burst): then
/// each node still lets one through per refill of the whole bucket.
fn take_n(
    n: NonZeroU32,
    take: impl Fn(NonZeroU32) -> Result<Result<(), NotUntil>, governor::InsufficientCapacity>,
) -> Result<(), NotUntil> {
    match take(n) {
        Ok(outcome) => outcome,
        Err(governor::InsufficientCapacity(capacity)) => {
            take(NonZeroU32::new(capacity).unwrap_or(NonZeroU32::MIN)).unwrap_or(Ok(()))
        }
    }
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

fn per_second(n: u32, burst_factor: u32) -> Quota {
    let rate = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(n.saturating_mul(burst_factor)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

/// The request limits of one server (see the module header). Cheap to check: a hash-map entry and an atomic.
pub struct FloodGuard {
    enabled: bool,
    /// How many nodes share the limits (1 alone; in a cluster, the live nodes): each request is charged as this many
    /// cells, so the nodes together let through what one node would (issue 18). Nothing is kept across nodes, so
    /// nothing is lost with a node killed mid-count; a source whose requests all land on one node gets its share.
    shares: std::sync::atomic::AtomicU32,
    argon2: Limit,
    device_lookup: Limit,
    aml_failure: Limit,
    federation: Limit,
}

impl std::fmt::Debug for FloodGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloodGuard")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl FloodGuard {
    /// Limits as configured.
    pub fn new(config: &FloodConfig) -> FloodGuard {
        FloodGuard {
            enabled: config.limits,
            shares: std::sync::atomic::AtomicU32::new(1),
            argon2: Limit::new(
                per_minute(config.login_per_min),
                Some(per_second(config.login_global_per_s, 2)),
            ),
            device_lookup: Limit::new(
                per_second(config.device_lookups_per_s, 5),
                Some(per_second(config.device_lookups_global_per_s, 2)),
            ),
            aml_failure: Limit::new(per_minute(config.aml_failures_per_min), None),
            federation: Limit::new(per_minute(config.federation_per_min), None),
        }
    }

    /// Sets how many nodes share the limits (at least 1); the cluster's lease keeper calls it with the live nodes.
    pub fn set_shares(&self, nodes: u32) {
        self.shares
            .store(nodes.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// How many nodes share the limits.
    pub fn shares(&self) -> NonZeroU32 {
        NonZeroU32::new(self.shares.load(std::sync::atomic::Ordering::Relaxed))
            .unwrap_or(NonZeroU32::MIN)
    }

    fn limit(&self, what: Guarded) -> &Limit {
        match what {
            Guarded::Login | Guarded::Enrol => &self.argon2,
            Guarded::DeviceLookup => &self.device_lookup,
            Guarded::AmlFailure => &self.aml_failure,
            Guarded::Federation => &self.federation,
        }
    }

    fn limited(what: Guarded, wait: Duration) -> ApiError {
        Self::limited_refusal(what, wait).into()
    }

    /// The refusal of a request `what` limited for `wait` (counted in the metrics).
    pub fn limited_refusal(what: Guarded, wait: Duration) -> crate::intake_service::Refusal {
        metrics::counter!("jikimi_flood_limited_total", "path" => what.action()).increment(1);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        crate::intake_service::Refusal::RateLimited {
            message: "too many requests from this source; retry later".into(),
            retry_after_s: Some(seconds.max(1)),
        }
    }

    /// Takes one token for `what` from `source` (limits charged per attempt); `Err` is the 429 to answer, with its
    /// `Retry-After`.
    pub fn check(&self, what: Guarded, source: Source) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        self.limit(what)
            .check(source, self.shares())
            .map_err(|wait| Self::limited(what, wait))
    }

    /// For limits charged per failure: the 429 to answer, before any work, while `source` or everybody has spent
    /// its failure budget.
    pub fn refuse_if_penalised(&self, what: Guarded, source: Source) -> Result<(), ApiError> {
        self.penalised(what, source)
            .map_err(|wait| Self::limited(what, wait))
    }

    /// For limits charged per failure: `Err(wait)` while `source` or everybody has spent its failure budget.
    pub fn penalised(&self, what: Guarded, source: Source) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        self.limit(what).penalised(source)
    }

    /// Charges a failure of `what` (an unknown device id, a bad AML credential) to `source` and to everybody.
    pub fn charge_failure(&self, what: Guarded, source: Source) {
        if self.enabled {
            self.limit(what).charge(source, self.shares());
        }
    }

    /// Forgets sources whose buckets are full again, so the maps do not grow with every address ever seen.
    pub fn forget_idle(&self) {
        for limit in [
            &self.argon2,
            &self.device_lookup,
            &self.aml_failure,
            &self.federation,
        ] {
            limit.per_source.retain_recent();
            limit.per_source.shrink_to_fit();
            if let Ok(mut penalties) = limit.penalties.lock() {
                let now = std::time::Instant::now();
                penalties.retain(|_, until| *until > now);
            }
        }
    }
}

/// Refusal log lines per second, all refusals together; the rest are counted into the next line.
const REFUSAL_LOG_PER_S: u32 = 20;

/// Logs one refused request (`what`: "alert refused", "aml refused"...) at info, unless this second's budget of
/// [`REFUSAL_LOG_PER_S`] lines is spent; then it is only counted, and the next line written says how many were left
/// out (`suppressed`). The audit log, not this, is the record of every refusal.
pub fn log_refusal(what: &'static str, code: ErrorCode, request_id: Option<&str>) {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static LINES: LazyLock<DefaultDirectRateLimiter> = LazyLock::new(|| {
        governor::RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(REFUSAL_LOG_PER_S).unwrap_or(NonZeroU32::MIN),
        ))
    });
    static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
    if LINES.check().is_err() {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
    tracing::info!(
        code = code.as_str(),
        request_id = request_id.unwrap_or("-"),
        suppressed,
        "{what}"
    );
}

/// Which path-only limit a request meets, if any.
fn guarded_path(method: &Method, path: &str) -> Option<Guarded> {
    match (method, path) {
        (&Method::POST, "/api/auth/login") => Some(Guarded::Login),
        (&Method::POST, "/api/devices/enrol") => Some(Guarded::Enrol),
        (_, p) if p.starts_with("/federation/") || p.starts_with("/exchange/") => {
            Some(Guarded::Federation)
        }
        _ => None,
    }
}

/// Whether any limit of this module may answer a request to `path` (an OpenAPI path template or a request path)
/// with 429: the path-only ones of [`guard`], and the signed device requests (unknown-device look-ups) and AML.
pub fn may_limit(method: &Method, path: &str) -> bool {
    guarded_path(method, path).is_some()
        || (method == Method::POST
            && (path == "/api/alerts"
                || path == "/api/intake/aml"
                || (path.starts_with("/api/alerts/")
                    && (path.ends_with("/location") || path.ends_with("/cancel")))))
}

/// Middleware: the login, enrolment and federation limits, before the body is read. A limited request is counted
/// by the audit coalescer (no database work) and answered 429.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(what) = guarded_path(request.method(), request.uri().path()) {
        let source = Source::from_parts(request.extensions());
        if let Err(err) = state.flood.check(what, source) {
            state.refusals.count_only(&Refusal {
                action: what.action(),
                source,
                code: ErrorCode::RateLimited,
                at_ms: state.now().as_unix_ms(),
            });
            return err.into_response();
        }
        if what == Guarded::Federation {
            request
                .extensions_mut()
                .insert(FederationBudget::new(state.flood.clone(), source));
        }
    }
    next.run(request).await
}

/// Audits one refusal through the coalescer: `entry` (given the source's pseudonym) is written while `source` has
/// budget left this interval; past it the refusal is only counted for the summary entry, with no database work.
/// Every refusal path of the server goes through here.
pub async fn audit_refusal(
    state: &AppState,
    action: &'static str,
    source: Source,
    code: ErrorCode,
    entry: impl FnOnce(String) -> jikimi_audit::NewAuditEntry,
) -> Result<(), ApiError> {
    let refusal = Refusal {
        action,
        source,
        code,
        at_ms: state.now().as_unix_ms(),
    };
    match state.refusals.admit(&refusal) {
        Disposition::Counted => Ok(()),
        Disposition::Audit => state
            .store
            .append_audit(vec![entry(state.refusals.pseudonym(source))])
            .await
            .map(|_| ())
            .map_err(ApiError::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::V4([0; 4].into()));
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        // An untrusted peer's header is ignored: it could claim any address.
        assert_eq!(
            Source::behind(ip("203.0.113.9"), &trusted, Some("198.51.100.1")),
            Source::of(ip("203.0.113.9"))
        );
        // Behind a trusted proxy: the right-most untrusted entry; entries left of it are the client's own claims.
        assert_eq!(
            Source::behind(proxy, &trusted, Some("1.2.3.4, 198.51.100.7, 10.0.0.3")),
            Source::of(ip("198.51.100.7"))
        );
        // Nothing forwarded, or garbage: the proxy itself.
        assert_eq!(Source::behind(proxy, &trusted, None), Source::of(proxy));
        assert_eq!(
            Source::behind(proxy, &trusted, Some("not-an-ip")),
            Source::of(proxy)
        );
    }

    #[test]
    fn ipv6_sources_fold_to_their_64_and_mapped_v4_to_v4() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        let b: IpAddr = "2001:db8:1:2:ffff::1"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        assert_eq!(Source::of(a), Source::of(b));
        let mapped: IpAddr = "::ffff:10.1.2.3"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        assert_eq!(
            Source::of(mapped),
            Source(Some(IpAddr::V4([10, 1, 2, 3].into())))
        );
    }

    #[test]
    fn a_source_past_its_burst_is_limited_and_others_are_not() {
        let guard = FloodGuard::new(&FloodConfig {
            login_per_min: 3,
            ..FloodConfig::default()
        });
        let a = Source(Some(IpAddr::V4([192, 0, 2, 1].into())));
        let b = Source(Some(IpAddr::V4([192, 0, 2, 2].into())));
        for _ in 0..3 {
            assert!(guard.check(Guarded::Login, a).is_ok());
        }
        let limited = guard.check(Guarded::Login, a);
        assert!(
            matches!(&limited, Err(e) if e.code == ErrorCode::RateLimited && e.retry_after_s.is_some())
        );
        assert!(guard.check(Guarded::Login, b).is_ok());
        // Charged per failure: nothing is refused until the failures pass the budget, and then only that source.
        let lookups = FloodGuard::new(&FloodConfig {
            device_lookups_per_s: 1,
            ..FloodConfig::default()
        });
        for _ in 0..5 {
            assert!(
                lookups
                    .refuse_if_penalised(Guarded::DeviceLookup, a)
                    .is_ok()
            );
            lookups.charge_failure(Guarded::DeviceLookup, a);
        }
        lookups.charge_failure(Guarded::DeviceLookup, a);
        assert!(
            lookups
                .refuse_if_penalised(Guarded::DeviceLookup, a)
                .is_err()
        );
        assert!(
            lookups
                .refuse_if_penalised(Guarded::DeviceLookup, b)
                .is_ok()
        );
        let off = FloodGuard::new(&FloodConfig {
            limits: false,
            login_per_min: 1,
            ..FloodConfig::default()
        });
        for _ in 0..10 {
            assert!(off.check(Guarded::Login, a).is_ok());
        }
    }

    #[test]
    fn nodes_of_a_cluster_share_each_limit() {
        let a = Source(Some(IpAddr::V4([198, 51, 100, 1].into())));
        let guard = FloodGuard::new(&FloodConfig {
            login_per_min: 6,
            ..FloodConfig::default()
        });
        // Three live nodes: each lets a source through a third of the burst, so all three together the whole of it.
        guard.set_shares(3);
        assert!(guard.check(Guarded::Login, a).is_ok());
        assert!(guard.check(Guarded::Login, a).is_ok());
        assert!(guard.check(Guarded::Login, a).is_err());
        // More nodes than the burst: one each per refill of the whole bucket, never a panic or an open door. (A
        // fresh guard: the global bucket must be full to give its whole burst at once.)
        let guard = FloodGuard::new(&FloodConfig {
            login_per_min: 6,
            ..FloodConfig::default()
        });
        let b = Source(Some(IpAddr::V4([198, 51, 100, 2].into())));
        guard.set_shares(50);
        assert!(guard.check(Guarded::Login, b).is_ok());
        assert!(guard.check(Guarded::Login, b).is_err());
        guard.set_shares(0);
        assert_eq!(guard.shares().get(), 1);
    }

    #[test]
    fn a_federation_batch_costs_each_node_its_share() {
        let a = Source(Some(IpAddr::V4([198, 51, 100, 3].into())));
        let budget = |nodes: u32| {
            let guard = std::sync::Arc::new(FloodGuard::new(&FloodConfig {
                federation_per_min: 60,
                ..FloodConfig::default()
            }));
            guard.set_shares(nodes);
            FederationBudget::new(guard, a)
        };
        // One node: a batch of 20 events takes 19 more tokens of 60, three such batches fit.
        let one = budget(1);
        for _ in 0..3 {
            assert!(one.charge(20).is_ok());
        }
        // Three nodes: the same batch costs three times as much on each, so one fits and the next waits.
        let three = budget(3);
        assert!(three.charge(20).is_ok());
        assert!(three.charge(20).is_err());
        // A batch larger than a node's share of the bucket can ever hold is refused as too large (413).
        let err = budget(3).charge(30).err().map(|e| e.code);
        assert_eq!(err, Some(ErrorCode::PayloadTooLarge));
    }
}
