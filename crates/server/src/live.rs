//! The console's live feed: every change the API makes to incidents and units, pushed to staff as Server-Sent Events.
//!
//! - [`observe`] is a middleware around the API: after a successful change (an accepted alert, an incident
//!   transition, a unit report) it publishes the new state of the incident or unit to the [`Hub`]. Handlers stay
//!   unaware of the feed; the middleware reads the handler's answer (incident transitions answer the incident) or,
//!   when the answer does not carry the state, reads it back from the store. Changes that do not come through
//!   HTTP (U-Relief terminals over MQTT) are published by their own intake ([`Hub::publish_incident`]); the hub
//!   lives in [`crate::AppState`] so that every way in reaches the same feed.
//! - The [`Hub`] numbers events (`<epoch>-<seq>`, the epoch being new on every server start), keeps the last
//!   [`RING`] of them and fans them out through a broadcast channel.
//! - `GET /api/live` ([`stream`]) sends a `hello` event, then the backlog after the client's `Last-Event-ID`, then
//!   live events. When the backlog cannot be served (the server restarted, so the epoch differs, or the client is
//!   further behind than the ring, or a slow client lagged) the `hello` (or a later `resync` event) says
//!   `resync: true` and the client reloads its snapshot through the ordinary list endpoints. Together this is
//!   lossless: the client subscribes before it loads the snapshot, and every gap is announced.
//! - An open feed re-checks its session with its account (as every request does) on the first event of a batch
//!   and every [`SESSION_RECHECK`] when idle, and ends when the session was logged out, expired, or ended by a
//!   change of the account (disabled, new role, password reset): the client reconnects and is refused.
//!
//! Events carry the same DTOs the REST API answers ([`crate::dto::IncidentDto`], [`crate::dto::UnitDto`]): no
//! personal data, so the feed is the same for every role.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use jikimi_respond::{IncidentId, UnitId};
use jikimi_store::Store;
use tokio::sync::broadcast;

use crate::auth::Staff;
use crate::dto::{IncidentDto, UnitDto};
use crate::error::ApiError;
use crate::roles::Permission;

/// How many recent events a reconnecting client can catch up on without a full reload.
pub const RING: usize = 20_000;

/// One published change.
#[derive(Debug)]
pub struct LiveEvent {
    /// Position in this server's feed, from 1.
    pub seq: u64,
    /// `incident` or `unit`.
    pub kind: &'static str,
    /// The DTO as JSON text.
    pub data: String,
}

struct Ring {
    next: u64,
    events: VecDeque<Arc<LiveEvent>>,
}

struct Inner {
    epoch: String,
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    store: Arc<dyn Store>,
}

/// The feed: numbering, recent history and fan-out. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// What a subscriber starts from.
pub struct Subscription {
    /// The server's epoch.
    pub epoch: String,
    /// True when the backlog could not be served and the client must reload its snapshot.
    pub resync: bool,
    /// Events after the client's cursor, oldest first.
    pub backlog: Vec<Arc<LiveEvent>>,
    /// Events from now on.
    pub rx: broadcast::Receiver<Arc<LiveEvent>>,
}

impl Hub {
    /// A hub that reads current states from `store` when an answer does not carry them.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (tx, _) = broadcast::channel(8_192);
        Self {
            inner: Arc::new(Inner {
                epoch: uuid::Uuid::now_v7().simple().to_string(),
                ring: Mutex::new(Ring {
                    next: 1,
                    events: VecDeque::with_capacity(RING),
                }),
                tx,
                store,
            }),
        }
    }

    /// This server's epoch (new on every start).
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    /// Numbers and publishes one change.
    pub fn publish(&self, kind: &'static str, data: String) {
        // Numbering, the ring and the send happen under one lock so the ring and the channel agree on order.
        let Ok(mut ring) = self.inner.ring.lock() else {
            return;
        };
        let event = Arc::new(LiveEvent {
            seq: ring.next,
            kind,
            data,
        });
        ring.next += 1;
        if ring.events.len() == RING {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        // No receivers is normal (no console open).
        let _ = self.inner.tx.send(event);
    }

    /// Subscribes after `cursor` (`<epoch>-<seq>` as sent in event ids), or from now when there is none.
    pub fn subscribe(&self, cursor: Option<&str>) -> Subscription {
        let ring = match self.inner.ring.lock() {
            Ok(ring) => ring,
            Err(poisoned) => poisoned.into_inner(),
        };
        let rx = self.inner.tx.subscribe();
        let after = cursor
            .and_then(|c| c.split_once('-'))
            .filter(|(epoch, _)| *epoch == self.inner.epoch)
            .and_then(|(_, seq)| seq.parse::<u64>().ok());
        let oldest = ring.events.front().map_or(ring.next, |e| e.seq);
        let (resync, backlog) = match after {
            Some(after) if after + 1 >= oldest && after < ring.next => (
                false,
                ring.events
                    .iter()
                    .filter(|e| e.seq > after)
                    .cloned()
                    .collect(),
            ),
            _ => (true, Vec::new()),
        };
        Subscription {
            epoch: self.inner.epoch.clone(),
            resync,
            backlog,
            rx,
        }
    }

    /// Publishes an incident as stored now (for changes that did not come through the HTTP API's answers).
    pub async fn publish_incident(&self, id: uuid::Uuid) {
        match self.inner.store.get_incident(IncidentId(id)).await {
            Ok(incident) => self.publish_json("incident", &IncidentDto::from(&incident)),
            Err(err) => tracing::warn!(error = %err, "live feed: cannot read incident"),
        }
    }

    async fn publish_unit(&self, id: &str) {
        match self.inner.store.get_unit(&UnitId::new(id)).await {
            Ok(unit) => self.publish_json("unit", &UnitDto::from(&unit)),
            Err(err) => tracing::debug!(error = %err, "live feed: cannot read unit"),
        }
    }

    fn publish_json<T: serde::Serialize>(&self, kind: &'static str, value: &T) {
        if let Ok(text) = serde_json::to_string(value) {
            self.publish(kind, text);
        }
    }
}

/// What a successful API call changed.
enum Change {
    Alert,
    Incident,
    /// A device's request about its own incident (location, cancel): the device's answer is deliberately terse
    /// (it must not show a duress escalation), so staff get the incident as stored.
    DeviceIncident(uuid::Uuid),
    Unit(String),
    /// A batch of position reports: the answer carries the updated units.
    Positions,
}

fn classify(method: &Method, path: &str) -> Option<Change> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        // A 112 app alert and an AML SMS both answer with the incident they opened.
        ["", "api", "alerts"] | ["", "api", "intake", "aml"] => Some(Change::Alert),
        ["", "api", "alerts", id, "location" | "cancel"] => {
            uuid::Uuid::parse_str(id).ok().map(Change::DeviceIncident)
        }
        ["", "api", "incidents", _id, _action] => Some(Change::Incident),
        ["", "api", "positions"] => Some(Change::Positions),
        ["", "api", "units", id] | ["", "api", "units", id, _] => {
            Some(Change::Unit((*id).to_string()))
        }
        _ => None,
    }
}

/// The largest answer the middleware reads back (incident DTOs are a few kilobytes).
const MAX_ANSWER: usize = 1 << 20;

/// Middleware: publishes what successful changes did.
pub async fn observe(State(hub): State<Hub>, request: Request, next: Next) -> Response {
    let change = classify(request.method(), request.uri().path());
    let response = next.run(request).await;
    let Some(change) = change else {
        return response;
    };
    if !response.status().is_success() {
        return response;
    }
    match change {
        Change::Unit(id) => {
            let hub = hub.clone();
            tokio::spawn(async move { hub.publish_unit(&id).await });
            response
        }
        Change::DeviceIncident(id) => {
            let hub = hub.clone();
            tokio::spawn(async move { hub.publish_incident(id).await });
            response
        }
        Change::Alert | Change::Incident | Change::Positions => {
            let (parts, body) = response.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_ANSWER).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    tracing::warn!(error = %err, "live feed: cannot read an answer");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "answer lost").into_response();
                }
            };
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                publish_answer(&hub, &change, value);
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

fn publish_answer(hub: &Hub, change: &Change, value: serde_json::Value) {
    match change {
        Change::Alert => {
            if value["duplicate"].as_bool() == Some(false)
                && let Some(id) = value["incident_id"]
                    .as_str()
                    .and_then(|s| uuid::Uuid::parse_str(s).ok())
            {
                let hub = hub.clone();
                tokio::spawn(async move { hub.publish_incident(id).await });
            }
        }
        Change::Incident => {
            // Transitions that move a unit also change the unit's status: publish both.
            let unit = value["assigned_unit"].as_str().map(str::to_string);
            hub.publish("incident", value.to_string());
            if let Some(unit) = unit {
                let hub = hub.clone();
                tokio::spawn(async move { hub.publish_unit(&unit).await });
            }
        }
        Change::Positions => {
            if let Some(units) = value["units"].as_array() {
                for unit in units {
                    hub.publish("unit", unit.to_string());
                }
            }
        }
        Change::Unit(_) | Change::DeviceIncident(_) => {}
    }
}

/// `GET /api/live`: the feed as Server-Sent Events, resuming after `Last-Event-ID` (header) or `?after=`.
#[utoipa::path(get, path = "/api/live", tag = "console", security(("bearer" = [])),
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "resume after this event id (`<epoch>-<seq>`)"),
        ("after" = Option<String>, Query, description = "as Last-Event-ID, for clients that cannot set headers"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "Server-Sent Events. \
First a `hello` event `{epoch, resync, username}`; then, with ids `<epoch>-<seq>`, `incident` events (an \
IncidentDto, as GET /api/incidents/{id} answers) and `unit` events (a UnitDto). `resync: true` in `hello`, or a \
`resync` event, means events were missed (server restart, cursor too old, slow client): reload the snapshot from \
GET /api/incidents and GET /api/units. No personal data."),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
    ))]
pub async fn stream(
    axum::Extension(hub): axum::Extension<Hub>,
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    staff: Staff,
    axum::extract::Query(query): axum::extract::Query<LiveQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let cursor = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(query.after);
    let sub = hub.subscribe(cursor.as_deref());
    let hello = Event::default().event("hello").data(
        serde_json::json!({"epoch": sub.epoch, "resync": sub.resync, "username": staff.username})
            .to_string(),
    );
    let epoch = sub.epoch.clone();
    let first: Vec<Event> = std::iter::once(hello)
        .chain(sub.backlog.iter().map(|e| to_sse(&epoch, e)))
        .collect();
    let guard = SessionGuard::new(state, staff.session);
    let unfold_state = (first.into_iter(), sub.rx, epoch, guard);
    let events = futures_util::stream::unfold(
        unfold_state,
        |(mut first, mut rx, epoch, mut guard)| async move {
            if let Some(event) = first.next() {
                return Some((Ok::<_, Infallible>(event), (first, rx, epoch, guard)));
            }
            // The feed ends (the client sees the stream close, reconnects and is refused) as soon as its session
            // is no longer valid: checked on the first event of a batch and every SESSION_RECHECK when idle.
            let received = loop {
                tokio::select! {
                    received = rx.recv() => {
                        if guard.due() && !guard.still_valid().await {
                            return None;
                        }
                        break received;
                    }
                    _ = guard.tick.tick() => {
                        if !guard.still_valid().await {
                            return None;
                        }
                    }
                }
            };
            let event = match received {
                Ok(e) => to_sse(&epoch, &e),
                Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                    .event("resync")
                    .data(serde_json::json!({"missed": n}).to_string()),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), (first, rx, epoch, guard)))
        },
    );
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// How often an idle feed re-checks its session (logout, expiry, disabling, role change).
pub const SESSION_RECHECK: Duration = Duration::from_secs(15);

/// An open feed's session: re-read with its account, as every request's is.
struct SessionGuard {
    state: crate::state::AppState,
    session: [u8; 32],
    checked_at_ms: i64,
    tick: tokio::time::Interval,
}

impl SessionGuard {
    fn new(state: crate::state::AppState, session: [u8; 32]) -> Self {
        let checked_at_ms = state.now().as_unix_ms();
        let start = tokio::time::Instant::now() + SESSION_RECHECK;
        let mut tick = tokio::time::interval_at(start, SESSION_RECHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            state,
            session,
            checked_at_ms,
            tick,
        }
    }

    /// At most one check a second (by the server's clock) while events flow, so a burst costs one query.
    fn due(&self) -> bool {
        self.state.now().as_unix_ms() - self.checked_at_ms >= 1_000
    }

    async fn still_valid(&mut self) -> bool {
        self.checked_at_ms = self.state.now().as_unix_ms();
        match Staff::check(&self.state, self.session).await {
            Ok(staff) => staff.role.may(Permission::ReadOperations),
            Err(err) => {
                tracing::info!(
                    code = err.code.as_str(),
                    "live feed ended: its session is no longer valid"
                );
                false
            }
        }
    }
}

fn to_sse(epoch: &str, e: &LiveEvent) -> Event {
    Event::default()
        .id(format!("{epoch}-{}", e.seq))
        .event(e.kind)
        .data(&e.data)
}

/// Query of `GET /api/live`.
#[derive(Debug, serde::Deserialize)]
pub struct LiveQuery {
    /// Resume after this event id (as the `Last-Event-ID` header).
    pub after: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        assert!(matches!(
            classify(&Method::POST, "/api/alerts"),
            Some(Change::Alert)
        ));
        assert!(matches!(
            classify(&Method::POST, "/api/incidents/x/close"),
            Some(Change::Incident)
        ));
        assert!(
            matches!(classify(&Method::POST, "/api/units/P-1/position"), Some(Change::Unit(u)) if u == "P-1")
        );
        assert!(matches!(
            classify(&Method::POST, "/api/positions"),
            Some(Change::Positions)
        ));
        assert!(matches!(
            classify(&Method::POST, "/api/intake/aml"),
            Some(Change::Alert)
        ));
        assert!(classify(&Method::GET, "/api/units").is_none());
        assert!(matches!(
            classify(
                &Method::POST,
                "/api/alerts/0193a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d/cancel"
            ),
            Some(Change::DeviceIncident(_))
        ));
        assert!(classify(&Method::POST, "/api/subscribers").is_none());
    }
}
