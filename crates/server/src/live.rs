//! The console's live feed: every committed change to incidents and units, pushed to staff as Server-Sent Events.
//!
//! - The [`Hub`] follows the store's commits ([`jikimi_store::commit`]): the store tells it, after each commit,
//!   which incidents and units changed, whichever way the change came in (HTTP, MQTT, AML, the 112 app, a staff
//!   action, the demo). Nothing here knows routes or answer bodies, and no intake publishes by hand. The hub reads
//!   each changed incident or unit back from the store (one read per thing however often it changed while the hub
//!   was busy) and publishes its current state; reads follow commits, so a later event never carries an older
//!   state.
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
//! Events carry the same DTOs the REST API answers ([`crate::dto::IncidentDto`], [`crate::dto::UnitDto`]) in each
//! role's view ([`crate::views`]): every event is serialised once per view when it is published, and each
//! subscriber is sent the view of its role, so an analyst's stream never carries ids or exact locations.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use jikimi_respond::{IncidentId, UnitId};
use jikimi_store::{ChangeSet, CommitObserver, Committed, Store};
use tokio::sync::{broadcast, mpsc};

use crate::auth::Staff;
use crate::dto::{IncidentDto, UnitDto};
use crate::error::ApiError;
use crate::roles::Permission;
use crate::views::{self, View};

/// How many recent events a reconnecting client can catch up on without a full reload.
pub const RING: usize = 20_000;

/// One published change.
#[derive(Debug)]
pub struct LiveEvent {
    /// Position in this server's feed, from 1.
    pub seq: u64,
    /// `incident` or `unit`.
    pub kind: &'static str,
    /// The DTO as JSON text, full view.
    pub data: String,
    /// The same DTO in the analyst view.
    pub analyst: String,
}

impl LiveEvent {
    /// The JSON text `view` is sent.
    pub fn data_for(&self, view: View) -> &str {
        match view {
            View::Full => &self.data,
            View::Analyst => &self.analyst,
        }
    }
}

struct Ring {
    next: u64,
    events: VecDeque<Arc<LiveEvent>>,
}

struct Inner {
    epoch: String,
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    /// Civic addresses for incidents, once loaded ([`crate::geocode`]): the feed shows what the REST API shows.
    addresses: std::sync::RwLock<Option<Arc<jikimi_geocode::AddressIndex>>>,
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
    /// A hub that follows `store`'s commits (as an observer attached to it) and publishes what they changed.
    /// Must be called inside a Tokio runtime: the follower is a task, which ends when the store is dropped.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (tx, _) = broadcast::channel(8_192);
        let hub = Self {
            inner: Arc::new(Inner {
                epoch: uuid::Uuid::now_v7().simple().to_string(),
                ring: Mutex::new(Ring {
                    next: 1,
                    events: VecDeque::with_capacity(RING),
                }),
                tx,
                addresses: std::sync::RwLock::new(None),
            }),
        };
        // Unbounded so that a commit never waits for the feed and no change is dropped: the follower drains it as
        // fast as the store answers reads, coalescing what piled up.
        let (commits, rx) = mpsc::unbounded_channel();
        store.observe_commits(Arc::new(Follower { commits }));
        // The follower holds the store weakly: the store holds the follower's sender, and a strong reference here
        // would keep both alive forever.
        tokio::spawn(follow(hub.clone(), Arc::downgrade(&store), rx));
        hub
    }

    /// This server's epoch (new on every start).
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    /// Numbers and publishes one change, given as its full and its analyst view.
    pub fn publish(&self, kind: &'static str, data: String, analyst: String) {
        // Numbering, the ring and the send happen under one lock so the ring and the channel agree on order.
        let Ok(mut ring) = self.inner.ring.lock() else {
            return;
        };
        let event = Arc::new(LiveEvent {
            seq: ring.next,
            kind,
            data,
            analyst,
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

    /// Incidents on the feed carry civic addresses from `index` from now on.
    pub fn set_addresses(&self, index: Arc<jikimi_geocode::AddressIndex>) {
        if let Ok(mut addresses) = self.inner.addresses.write() {
            *addresses = Some(index);
        }
    }

    /// Publishes an incident (given in the full view) in every view.
    fn publish_incident_dto(&self, mut dto: IncidentDto) {
        if let Ok(addresses) = self.inner.addresses.read() {
            crate::geocode::annotate(&mut dto, addresses.as_deref());
        }
        let analyst = views::incident(dto.clone(), View::Analyst);
        let full = views::incident(dto, View::Full);
        self.publish_both("incident", &full, &analyst);
    }

    /// Publishes a unit (given in the full view) in every view.
    fn publish_unit_dto(&self, dto: UnitDto) {
        let analyst = views::unit(dto.clone(), View::Analyst);
        self.publish_both("unit", &dto, &analyst);
    }

    fn publish_both<T: serde::Serialize>(&self, kind: &'static str, full: &T, analyst: &T) {
        match (serde_json::to_string(full), serde_json::to_string(analyst)) {
            (Ok(full), Ok(analyst)) => self.publish(kind, full, analyst),
            _ => tracing::warn!(kind, "live feed: cannot serialise an event"),
        }
    }
}

/// The hub's observer on the store: hands each committed change set to the follower task (never blocks).
struct Follower {
    commits: mpsc::UnboundedSender<Vec<Committed>>,
}

impl CommitObserver for Follower {
    fn committed(&self, changes: &ChangeSet) {
        // Closed only when the follower ended, which it does only once the store is gone.
        let _ = self.commits.send(changes.changes().to_vec());
    }
}

/// What the feed publishes for a change, if anything: the incident or the unit (notifications are not on it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    Incident(IncidentId),
    Unit(UnitId),
}

fn item_of(change: &Committed) -> Option<Item> {
    match change {
        Committed::IncidentOpened(id)
        | Committed::IncidentUpdated(id)
        | Committed::IncidentClosed(id) => Some(Item::Incident(*id)),
        Committed::UnitUpdated(id) => Some(Item::Unit(id.clone())),
        _ => None,
    }
}

/// At most this many things are read per round, so a surge is published in steady slices.
const ROUND: usize = 4_096;

/// The follower: for each round of change sets (the first, and whatever queued up behind it), reads each changed
/// incident and unit once, in the order they first changed, and publishes it.
async fn follow(
    hub: Hub,
    store: std::sync::Weak<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Vec<Committed>>,
) {
    while let Some(first) = rx.recv().await {
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        let mut add = |changes: &[Committed], items: &mut Vec<Item>| {
            for item in changes.iter().filter_map(item_of) {
                if seen.insert(item.clone()) {
                    items.push(item);
                }
            }
        };
        add(&first, &mut items);
        while items.len() < ROUND {
            match rx.try_recv() {
                Ok(more) => add(&more, &mut items),
                Err(_) => break,
            }
        }
        let Some(store) = store.upgrade() else {
            return;
        };
        // A few reads at a time (as many as the SQLite backend has readers), published in the order of the items.
        let mut reads = futures_util::stream::iter(items)
            .map(|item| read(store.as_ref(), item))
            .buffered(4);
        while let Some(state) = reads.next().await {
            match state {
                Some(Current::Incident(dto)) => hub.publish_incident_dto(*dto),
                Some(Current::Unit(dto)) => hub.publish_unit_dto(dto),
                None => {}
            }
        }
    }
}

/// The current state of a changed thing, as the API answers it (full view).
enum Current {
    Incident(Box<IncidentDto>),
    Unit(UnitDto),
}

/// Reads an item as stored now; `None` (logged) when it cannot be read.
async fn read(store: &dyn Store, item: Item) -> Option<Current> {
    match item {
        Item::Incident(id) => match store.get_incident(id).await {
            Ok(incident) => Some(Current::Incident(Box::new(IncidentDto::from(&incident)))),
            Err(err) => {
                tracing::warn!(error = %err, "live feed: cannot read incident");
                None
            }
        },
        Item::Unit(id) => match store.get_unit(&id).await {
            Ok(unit) => Some(Current::Unit(UnitDto::from(&unit))),
            Err(err) => {
                tracing::warn!(error = %err, "live feed: cannot read unit");
                None
            }
        },
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
IncidentDto, as GET /api/incidents/{id} answers) and `unit` events (a UnitDto), each in the view of the caller's \
role (analysts: no subscriber or device ids, generalised locations). `resync: true` in `hello`, or a \
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
    let view = View::of(staff.role);
    let sub = hub.subscribe(cursor.as_deref());
    let hello = Event::default().event("hello").data(
        serde_json::json!({"epoch": sub.epoch, "resync": sub.resync, "username": staff.username})
            .to_string(),
    );
    let epoch = sub.epoch.clone();
    let first: Vec<Event> = std::iter::once(hello)
        .chain(sub.backlog.iter().map(|e| to_sse(&epoch, e, view)))
        .collect();
    let guard = SessionGuard::new(state, staff.session);
    let unfold_state = (first.into_iter(), sub.rx, epoch, guard);
    let events = futures_util::stream::unfold(
        unfold_state,
        move |(mut first, mut rx, epoch, mut guard)| async move {
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
                Ok(e) => to_sse(&epoch, &e, view),
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

fn to_sse(epoch: &str, e: &LiveEvent, view: View) -> Event {
    Event::default()
        .id(format!("{epoch}-{}", e.seq))
        .event(e.kind)
        .data(e.data_for(view))
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
    fn incidents_and_units_are_published_and_notifications_are_not() {
        let incident = IncidentId(uuid::Uuid::now_v7());
        assert_eq!(
            item_of(&Committed::IncidentClosed(incident)),
            Some(Item::Incident(incident))
        );
        assert_eq!(
            item_of(&Committed::UnitUpdated(UnitId::new("P-1"))),
            Some(Item::Unit(UnitId::new("P-1")))
        );
        assert_eq!(
            item_of(&Committed::NotificationQueued {
                id: jikimi_store::NotificationId(uuid::Uuid::now_v7()),
                incident_id: incident,
            }),
            None
        );
    }
}
