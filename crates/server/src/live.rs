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
//! - In a cluster (`jikimi serve --nats`, [`crate::cluster`]) the hub does not follow its own store's commits: it is
//!   fed every node's change sets from the JetStream stream ([`Hub::feed`]), so a console on any node sees every
//!   change. Event ids are then global: `<epoch>-<first>.<last>.<i>`, the epoch naming the stream and `first..last`
//!   the stream sequences of the round the event was read in. A cursor from another node resumes with every event
//!   of a round that includes `first` or later (a few already seen are sent again: events are states, so a repeat
//!   is harmless), which is lossless because each round reads the state after its last message.
//! - `GET /api/live` ([`stream`]) sends a `hello` event, then the backlog after the client's `Last-Event-ID`, then
//!   live events. When the backlog cannot be served (the server restarted, so the epoch differs, or the client is
//!   further behind than the ring, or a slow client lagged) the `hello` (or a later `resync` event) says
//!   `resync: true` and the client reloads its snapshot through the ordinary list endpoints. Together this is
//!   lossless: the client subscribes before it loads the snapshot, and every gap is announced.
//! - An open feed re-reads its session with its account (from the store, not [`crate::sessions`]'s cache) on
//!   the first event of a batch and every [`SESSION_RECHECK`] when idle, and ends when the session was logged
//!   out, expired, or ended by a change of the account (disabled, new role, password reset): the client
//!   reconnects and is refused.
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

/// Where an event stands in the cluster's stream: the stream sequences of the round it was read in, and its place
/// in that round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPos {
    /// First stream sequence of the round.
    pub first: u64,
    /// Last stream sequence of the round.
    pub last: u64,
    /// The event's place among the round's items.
    pub idx: u64,
}

impl StreamPos {
    fn parse(text: &str) -> Option<StreamPos> {
        let mut parts = text.splitn(3, '.');
        let first = parts.next()?.parse().ok()?;
        let last = parts.next()?.parse().ok()?;
        let idx = parts.next()?.parse().ok()?;
        Some(StreamPos { first, last, idx })
    }
}

/// One published change.
#[derive(Debug)]
pub struct LiveEvent {
    /// Position in this server's feed, from 1.
    pub seq: u64,
    /// In a cluster, its place in the stream (then its id is `<epoch>-<first>.<last>.<idx>`).
    pub pos: Option<StreamPos>,
    /// `incident` or `unit`.
    pub kind: &'static str,
    /// The DTO as JSON text, full view.
    pub data: String,
    /// The same DTO in the analyst view.
    pub analyst: String,
}

impl LiveEvent {
    /// The id after `<epoch>-`.
    pub fn id_suffix(&self) -> String {
        match self.pos {
            Some(p) => format!("{}.{}.{}", p.first, p.last, p.idx),
            None => self.seq.to_string(),
        }
    }

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
    /// The epoch: new on every start, or (in a cluster) the stream's.
    epoch: String,
    /// In a cluster: from which stream sequence this hub has every message, and the highest `last` of a round
    /// dropped from the ring. A foreign cursor is served only when both are below its round.
    stream: Option<StreamFloor>,
}

#[derive(Clone, Copy)]
struct StreamFloor {
    from: u64,
    evicted_last: u64,
}

struct Inner {
    ring: Mutex<Ring>,
    /// What the follower task is fed: the store's commits, or (in a cluster) the stream's messages.
    feed: mpsc::UnboundedSender<Batch>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    /// Civic addresses for incidents, once loaded ([`crate::geocode`]): the feed shows what the REST API shows.
    addresses: std::sync::RwLock<Option<Arc<jikimi_geocode::AddressIndex>>>,
    /// True once the server is stopping ([`Hub::close`]).
    closing: tokio::sync::watch::Sender<bool>,
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
        let hub = Self::detached(store.clone(), None);
        store.observe_commits(Arc::new(Follower {
            commits: hub.inner.feed.clone(),
        }));
        hub
    }

    /// A hub fed by the cluster's stream ([`Hub::feed`]) instead of its store's commits; it serves no cursor until
    /// [`Hub::start_stream`] names the stream. Must be called inside a Tokio runtime.
    pub fn for_cluster(store: Arc<dyn Store>) -> Self {
        Self::detached(
            store,
            Some(StreamFloor {
                from: u64::MAX,
                evicted_last: 0,
            }),
        )
    }

    fn detached(store: Arc<dyn Store>, stream: Option<StreamFloor>) -> Self {
        let (tx, _) = broadcast::channel(8_192);
        // Unbounded so that a commit never waits for the feed and no change is dropped: the follower drains it as
        // fast as the store answers reads, coalescing what piled up.
        let (feed, rx) = mpsc::unbounded_channel();
        let hub = Self {
            inner: Arc::new(Inner {
                ring: Mutex::new(Ring {
                    next: 1,
                    events: VecDeque::with_capacity(RING),
                    epoch: uuid::Uuid::now_v7().simple().to_string(),
                    stream,
                }),
                feed,
                tx,
                addresses: std::sync::RwLock::new(None),
                closing: tokio::sync::watch::Sender::new(false),
            }),
        };
        // The follower holds the store weakly: the store holds the follower's sender, and a strong reference here
        // would keep both alive forever.
        tokio::spawn(follow(hub.clone(), Arc::downgrade(&store), rx));
        hub
    }

    /// The server is stopping: every open feed ends (its client reconnects, to another node in a cluster, and
    /// resumes from its last event id), so a graceful shutdown is not held open by consoles that never hang up.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// In a cluster: the stream is `epoch` and this hub is fed every message from sequence `from` on. Called when
    /// the consumer starts; a different epoch (the stream was recreated) makes every earlier cursor resync.
    pub fn start_stream(&self, epoch: &str, from: u64) {
        if let Ok(mut ring) = self.inner.ring.lock()
            && ring.epoch != epoch
        {
            ring.epoch = epoch.to_string();
            ring.events.clear();
            ring.stream = Some(StreamFloor {
                from,
                evicted_last: 0,
            });
        }
    }

    /// In a cluster: the message at stream sequence `seq` named these changes.
    pub fn feed(&self, seq: u64, changes: Vec<Committed>) {
        // Closed only when the follower ended, which it does only once the store is gone.
        let _ = self.inner.feed.send(Batch {
            seq: Some(seq),
            changes,
        });
    }

    /// This server's epoch (new on every start; in a cluster, the stream's).
    pub fn epoch(&self) -> String {
        match self.inner.ring.lock() {
            Ok(ring) => ring.epoch.clone(),
            Err(poisoned) => poisoned.into_inner().epoch.clone(),
        }
    }

    /// Numbers and publishes one change, given as its full and its analyst view.
    pub fn publish(&self, kind: &'static str, data: String, analyst: String) {
        self.publish_at(None, kind, data, analyst);
    }

    fn publish_at(
        &self,
        pos: Option<StreamPos>,
        kind: &'static str,
        data: String,
        analyst: String,
    ) {
        // Numbering, the ring and the send happen under one lock so the ring and the channel agree on order.
        let Ok(mut ring) = self.inner.ring.lock() else {
            return;
        };
        let event = Arc::new(LiveEvent {
            seq: ring.next,
            pos,
            kind,
            data,
            analyst,
        });
        ring.next += 1;
        if ring.events.len() == RING
            && let Some(dropped) = ring.events.pop_front()
            && let (Some(floor), Some(p)) = (ring.stream.as_mut(), dropped.pos)
        {
            floor.evicted_last = floor.evicted_last.max(p.last);
        }
        ring.events.push_back(event.clone());
        // No receivers is normal (no console open).
        let _ = self.inner.tx.send(event);
    }

    /// Subscribes after `cursor` (an event id as sent), or from now when there is none.
    pub fn subscribe(&self, cursor: Option<&str>) -> Subscription {
        let ring = match self.inner.ring.lock() {
            Ok(ring) => ring,
            Err(poisoned) => poisoned.into_inner(),
        };
        let rx = self.inner.tx.subscribe();
        let after = cursor
            .and_then(|c| c.split_once('-'))
            .filter(|(epoch, _)| *epoch == ring.epoch)
            .map(|(_, rest)| rest);
        let (resync, backlog) = match ring.stream {
            None => local_backlog(&ring, after.and_then(|a| a.parse::<u64>().ok())),
            Some(floor) => stream_backlog(&ring, floor, after.and_then(StreamPos::parse)),
        };
        Subscription {
            epoch: ring.epoch.clone(),
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
    fn publish_incident_dto(&self, pos: Option<StreamPos>, mut dto: IncidentDto) {
        if let Ok(addresses) = self.inner.addresses.read() {
            crate::geocode::annotate(&mut dto, addresses.as_deref());
        }
        let analyst = views::incident(dto.clone(), View::Analyst);
        let full = views::incident(dto, View::Full);
        self.publish_both(pos, "incident", &full, &analyst);
    }

    /// Publishes a unit (given in the full view) in every view.
    fn publish_unit_dto(&self, pos: Option<StreamPos>, dto: UnitDto) {
        let analyst = views::unit(dto.clone(), View::Analyst);
        self.publish_both(pos, "unit", &dto, &analyst);
    }

    fn publish_both<T: serde::Serialize>(
        &self,
        pos: Option<StreamPos>,
        kind: &'static str,
        full: &T,
        analyst: &T,
    ) {
        match (serde_json::to_string(full), serde_json::to_string(analyst)) {
            (Ok(full), Ok(analyst)) => self.publish_at(pos, kind, full, analyst),
            _ => tracing::warn!(kind, "live feed: cannot serialise an event"),
        }
    }
}

/// The backlog of a single server's feed after `after`, or a resync.
fn local_backlog(ring: &Ring, after: Option<u64>) -> (bool, Vec<Arc<LiveEvent>>) {
    let oldest = ring.events.front().map_or(ring.next, |e| e.seq);
    match after {
        Some(after) if after + 1 >= oldest && after < ring.next => (
            false,
            ring.events
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect(),
        ),
        _ => (true, Vec::new()),
    }
}

/// The backlog of a cluster feed after `after`: exactly after it when this hub published it, otherwise every event of
/// a round that includes its round's first message or a later one; a resync when the ring no longer has them all.
fn stream_backlog(
    ring: &Ring,
    floor: StreamFloor,
    after: Option<StreamPos>,
) -> (bool, Vec<Arc<LiveEvent>>) {
    let Some(after) = after else {
        return (true, Vec::new());
    };
    if let Some(at) = ring.events.iter().position(|e| e.pos == Some(after)) {
        return (false, ring.events.iter().skip(at + 1).cloned().collect());
    }
    if after.first < floor.from || after.first <= floor.evicted_last {
        return (true, Vec::new());
    }
    (
        false,
        ring.events
            .iter()
            .filter(|e| e.pos.is_some_and(|p| p.last >= after.first))
            .cloned()
            .collect(),
    )
}

/// What the follower is told: a committed change set, and (in a cluster) the stream sequence that carried it.
struct Batch {
    seq: Option<u64>,
    changes: Vec<Committed>,
}

/// The hub's observer on the store: hands each committed change set to the follower task (never blocks).
struct Follower {
    commits: mpsc::UnboundedSender<Batch>,
}

impl CommitObserver for Follower {
    fn committed(&self, changes: &ChangeSet) {
        // Closed only when the follower ended, which it does only once the store is gone.
        let _ = self.commits.send(Batch {
            seq: None,
            changes: changes.changes().to_vec(),
        });
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
/// incident and unit once, in the order they first changed, and publishes it (in a cluster, with the round's stream
/// sequences and the item's place in it).
async fn follow(
    hub: Hub,
    store: std::sync::Weak<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Batch>,
) {
    while let Some(first) = rx.recv().await {
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        let mut span: Option<(u64, u64)> = None;
        let mut add = |batch: Batch, items: &mut Vec<Item>| {
            if let Some(seq) = batch.seq {
                span = Some(span.map_or((seq, seq), |(a, b)| (a.min(seq), b.max(seq))));
            }
            for item in batch.changes.iter().filter_map(item_of) {
                if seen.insert(item.clone()) {
                    items.push(item);
                }
            }
        };
        add(first, &mut items);
        while items.len() < ROUND {
            match rx.try_recv() {
                Ok(more) => add(more, &mut items),
                Err(_) => break,
            }
        }
        let Some(store) = store.upgrade() else {
            return;
        };
        // A few reads at a time (as many as the SQLite backend has readers), published in the order of the items;
        // an item's place in the round is fixed before the reads, so a failed read leaves a gap, not a shift.
        let mut reads = futures_util::stream::iter(items.into_iter().enumerate())
            .map(|(idx, item)| {
                let store = store.clone();
                async move { (idx, read(store.as_ref(), item).await) }
            })
            .buffered(4);
        while let Some((idx, state)) = reads.next().await {
            let pos = span.map(|(first, last)| StreamPos {
                first,
                last,
                idx: idx as u64,
            });
            match state {
                Some(Current::Incident(dto)) => hub.publish_incident_dto(pos, *dto),
                Some(Current::Unit(dto)) => hub.publish_unit_dto(pos, dto),
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

/// Longest a read of the feed waits for an unreachable database (a restart, a primary failover) before it leaves a
/// gap; the feed behind it waits too, in order.
const READ_RETRY_FOR: Duration = Duration::from_secs(60);

/// Reads an item as stored now, retrying while the database is unavailable ([`READ_RETRY_FOR`]): the change was
/// committed, so the row is there once the database is back. `None` (logged) when it cannot be read.
async fn read(store: &dyn Store, item: Item) -> Option<Current> {
    let deadline = tokio::time::Instant::now() + READ_RETRY_FOR;
    let mut pause = Duration::from_millis(100);
    loop {
        match read_once(store, item.clone()).await {
            Err(jikimi_store::Error::Unavailable { .. })
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Ok(current) => return Some(current),
            Err(err) => {
                tracing::warn!(error = %err, "live feed: cannot read a changed incident or unit");
                return None;
            }
        }
    }
}

async fn read_once(store: &dyn Store, item: Item) -> Result<Current, jikimi_store::Error> {
    Ok(match item {
        Item::Incident(id) => {
            Current::Incident(Box::new(IncidentDto::from(&store.get_incident(id).await?)))
        }
        Item::Unit(id) => Current::Unit(UnitDto::from(&store.get_unit(&id).await?)),
    })
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
    let closing = hub.inner.closing.subscribe();
    let unfold_state = (first.into_iter(), sub.rx, epoch, guard, closing);
    let events = futures_util::stream::unfold(
        unfold_state,
        move |(mut first, mut rx, epoch, mut guard, mut closing)| async move {
            if *closing.borrow_and_update() {
                return None;
            }
            if let Some(event) = first.next() {
                return Some((
                    Ok::<_, Infallible>(event),
                    (first, rx, epoch, guard, closing),
                ));
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
                    // The server is stopping (or its hub is gone).
                    _ = closing.changed() => return None,
                }
            };
            let event = match received {
                Ok(e) => to_sse(&epoch, &e, view),
                Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                    .event("resync")
                    .data(serde_json::json!({"missed": n}).to_string()),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), (first, rx, epoch, guard, closing)))
        },
    );
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// How often an idle feed re-checks its session (logout, expiry, disabling, role change).
pub const SESSION_RECHECK: Duration = Duration::from_secs(15);

/// An open feed's session: re-read with its account from the store.
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
        match Staff::current(&self.state, self.session).await {
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
        .id(format!("{epoch}-{}", e.id_suffix()))
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

    fn ring_of(rounds: &[(u64, u64, u64)], floor: StreamFloor) -> (Ring, StreamFloor) {
        let (tx, _) = broadcast::channel::<Arc<LiveEvent>>(1);
        drop(tx);
        let events = rounds
            .iter()
            .enumerate()
            .map(|(i, &(first, last, idx))| {
                Arc::new(LiveEvent {
                    seq: i as u64 + 1,
                    pos: Some(StreamPos { first, last, idx }),
                    kind: "incident",
                    data: String::new(),
                    analyst: String::new(),
                })
            })
            .collect();
        let ring = Ring {
            next: rounds.len() as u64 + 1,
            events,
            epoch: "e".into(),
            stream: Some(floor),
        };
        (ring, floor)
    }

    fn ids(backlog: &(bool, Vec<Arc<LiveEvent>>)) -> (bool, Vec<String>) {
        (backlog.0, backlog.1.iter().map(|e| e.id_suffix()).collect())
    }

    #[test]
    fn a_cluster_cursor_resumes_exactly_here_and_from_its_round_elsewhere() {
        let floor = StreamFloor {
            from: 10,
            evicted_last: 0,
        };
        let (ring, floor) = ring_of(&[(10, 12, 0), (10, 12, 1), (13, 13, 0), (14, 16, 0)], floor);
        // This hub's own event: exactly after it.
        let here = StreamPos::parse("10.12.1");
        assert_eq!(
            ids(&stream_backlog(&ring, floor, here)),
            (false, vec!["13.13.0".into(), "14.16.0".into()])
        );
        // Another node's rounds: every event of a round holding message 11 or later (repeats are harmless).
        let elsewhere = StreamPos::parse("11.13.0");
        assert_eq!(ids(&stream_backlog(&ring, floor, elsewhere)).1.len(), 4);
        let elsewhere = StreamPos::parse("13.15.2");
        assert_eq!(
            ids(&stream_backlog(&ring, floor, elsewhere)),
            (false, vec!["13.13.0".into(), "14.16.0".into()])
        );
        // Older than what this hub has read, or than what its ring still holds: resync.
        assert!(stream_backlog(&ring, floor, StreamPos::parse("9.9.0")).0);
        let evicted = StreamFloor {
            from: 10,
            evicted_last: 12,
        };
        assert!(stream_backlog(&ring, evicted, StreamPos::parse("12.13.0")).0);
        assert!(stream_backlog(&ring, floor, None).0);
        assert_eq!(StreamPos::parse("7"), None);
    }

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
