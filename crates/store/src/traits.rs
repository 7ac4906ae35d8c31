//! The store's traits, one per domain, and [`Store`], the umbrella every backend implements.
//!
//! Callers hold `Arc<dyn Store>`; a generic or concrete caller that calls a domain method needs that domain's trait
//! in scope, which `use jikimi_store::prelude::*;` gives.

use crate::{
    AlertAccepted, Change, CommitObserver, DeviceEvent, DeviceRecord, Enrolment, EnrolmentCheck,
    EnrolmentCode, EnrolmentRefusal, EntityLink, ErasureReport, GuardianId, GuardianRecord,
    IncidentFilter, IntakeCounts, LinkRunReport, LinkStatus, NewAlert, NewEntityLink, NewReferral,
    NonceClaim, Outbox, PinHashes, PinRecord, PositionReport, ReferralOpened, Result,
    SessionRecord, StaffUser, SubscriberExport, SubscriberRecord,
};
#[allow(unused_imports)] // Named by the docs.
use crate::{Conflict, Error};
use jikimi_audit::{AuditEntry, NewAuditEntry};
use jikimi_exchange::store::ExchangeStore;
use jikimi_privacy::BlindDigest;
use jikimi_respond::{
    EventKind, Incident, IncidentEvent, IncidentId, SubscriberId, SurgeConfig, Timestamp, Unit,
    UnitId, UnitStatus,
};
use std::sync::Arc;

/// The spine's storage. Implemented by [`SqliteStore`] and [`PgStore`]; held by the server as `Arc<dyn Store>`.
///
/// Cooperation's persistence ([`ExchangeStore`], the pure core's trait) is a supertrait: the same handle, seen as
/// `Arc<dyn ExchangeStore>`, is the federation node's store, so one database has one handle.
#[async_trait::async_trait]
pub trait Store:
    IncidentStore
    + SubscriberStore
    + DeviceStore
    + UnitStore
    + StaffStore
    + AuditStore
    + LinkageStore
    + WarningStore
    + ClosureStore
    + Outbox
    + crate::cluster::Cluster
    + crate::maintenance::Maintenance
    + ExchangeStore
    + FundsStore
    + crate::identify::IdentifyStore
    + DisasterStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations. Idempotent.
    async fn migrate(&self) -> Result<()>;
    /// Seals what an earlier version stored in clear in the cooperation tables (the agency signing key, record
    /// bodies), in one audited transaction; returns how many rows it sealed (0 once everything is sealed). The
    /// binary runs it after migrating, so a database from before sealing is sealed on its first open with keys.
    async fn seal_exchange_at_rest(&self) -> jikimi_exchange::Result<u64>;
    /// Raw `body` column of every cooperation record, in log order, as stored: for tests and checks that assert on
    /// the database itself (sealed).
    async fn exchange_raw_bodies(&self) -> jikimi_exchange::Result<Vec<String>>;
    /// Raw `secret` column of the agency identity, as stored: for tests and checks that assert on the database
    /// itself (sealed).
    async fn exchange_raw_identity(&self) -> jikimi_exchange::Result<Option<String>>;
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;
    /// Which backend: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Attaches an observer that is told, after each commit, what it changed ([`commit`]). Every clone of this
    /// store shares it; it stays attached for the store's life.
    fn observe_commits(&self, observer: Arc<dyn CommitObserver>);
}

/// Alerts and incidents: the intake batch, the event log and its projection, device-sent events.
#[async_trait::async_trait]
pub trait IncidentStore: Send + Sync {
    /// Records a batch of authenticated alerts in ONE transaction, returning one result per alert in order.
    ///
    /// Per alert: a nonce this device used before is `Err(Conflict::NonceReplayed)`; an alert id this device sent
    /// before returns its incident with `duplicate: true` (also within the batch); otherwise the incident, its first
    /// event and an `alert.received` audit entry are written. The outer error means nothing was committed.
    ///
    /// Same as [`IncidentStore::record_alerts_clustered`] with clustering disabled: every new alert opens an incident.
    async fn record_alerts(&self, batch: Vec<NewAlert>) -> Result<Vec<Result<AlertAccepted>>> {
        self.record_alerts_clustered(batch, SurgeConfig::DISABLED)
            .await
    }

    /// [`IncidentStore::record_alerts`] with surge clustering, in the same ONE transaction: each new alert with a location
    /// that lies within `surge.radius_m` of an open incident's anchor and within `surge.window_ms` of its last report
    /// joins it as a `report_added` event (report count, best fix, most urgent priority) instead of opening another
    /// incident ([`jikimi_respond::surge`]; decisions are made in batch order). Every accepted alert, opening or
    /// joining, gets its own row (see [`IncidentStore::intake_counts`]) and `alert.received` audit entry, and a retry of any
    /// of them is a duplicate of the incident it went to.
    async fn record_alerts_clustered(
        &self,
        batch: Vec<NewAlert>,
        surge: SurgeConfig,
    ) -> Result<Vec<Result<AlertAccepted>>> {
        let n = batch.len();
        self.record_alerts_budgeted(batch, surge, vec![false; n])
            .await
    }

    /// [`IncidentStore::record_alerts_clustered`] with a per-device budget: an alert marked in `over_budget` (its device
    /// has opened more incidents lately than it may) joins, as a `report_added` event, the open incident its device's
    /// latest alert went to (earlier in this batch or before) instead of opening another or being clustered; without
    /// one it opens an incident as usual. It is committed, counted and audited like any other: nothing is refused.
    /// `over_budget` is matched to `batch` by position (missing entries are `false`).
    async fn record_alerts_budgeted(
        &self,
        batch: Vec<NewAlert>,
        surge: SurgeConfig,
        over_budget: Vec<bool>,
    ) -> Result<Vec<Result<AlertAccepted>>> {
        self.record_alerts_with_budget(batch, surge, crate::AlertBudget::Marked(over_budget))
            .await
    }

    /// [`IncidentStore::record_alerts_budgeted`], with who is over budget marked by the caller or decided by the
    /// store in the batch's transaction from a counter it keeps, shared by every node of a cluster
    /// ([`crate::AlertBudget`]).
    async fn record_alerts_with_budget(
        &self,
        batch: Vec<NewAlert>,
        surge: SurgeConfig,
        budget: crate::AlertBudget,
    ) -> Result<Vec<Result<AlertAccepted>>>;

    /// The incident an accepted alert (device, alert id) opened or joined; [`Error::NotFound`] if none.
    async fn alert_incident(
        &self,
        device_id: jikimi_respond::DeviceId,
        alert_id: jikimi_respond::AlertId,
    ) -> Result<IncidentId>;

    /// How many alerts are stored (one per accepted alert, duplicates excluded) and how many incidents they formed.
    async fn intake_counts(&self) -> Result<IntakeCounts>;

    /// Appends an event to an incident whose last seq is `expected_seq` (optimistic concurrency), refolds the
    /// projection and audits `incident.<event>`, all in one transaction. Returns the new state.
    ///
    /// Errors: [`Error::NotFound`], [`Conflict::StaleSequence`], [`Error::IllegalTransition`].
    async fn append_event(
        &self,
        incident_id: IncidentId,
        expected_seq: u64,
        kind: EventKind,
        change: &Change,
    ) -> Result<Incident>;

    /// Opens an incident referred by another CAD, with no device or alert: its first event is `referred`, written
    /// with the projection, an `incident.referred` audit entry and the idempotency key in ONE transaction, and
    /// told to the commit observers as an opened incident. A referral whose `external_id` was imported before
    /// (also concurrently) writes nothing and returns that incident with `duplicate: true`.
    async fn open_referral(
        &self,
        referral: &NewReferral,
        change: &Change,
    ) -> Result<ReferralOpened>;

    /// All events of an incident, by seq.
    async fn load_events(&self, incident_id: IncidentId) -> Result<Vec<IncidentEvent>>;
    /// The current state of an incident.
    async fn get_incident(&self, incident_id: IncidentId) -> Result<Incident>;
    /// Incidents matching the filter, by priority (code 0 first), then age, then id.
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// Refolds every incident from its events and rewrites the projection. Returns the number of incidents.
    async fn rebuild_projections(&self) -> Result<u64>;
    /// Forgets nonces first seen before `before` (the server refuses timestamps that old anyway). Returns how many.
    async fn purge_nonces(&self, before: Timestamp) -> Result<u64>;

    /// Appends an event a device sends about the incident it opened (location, cancel, escalation): claims the
    /// nonce, checks the incident is that device's, applies the fold at the latest seq, resets the PIN counter
    /// when `pin_accepted`, and audits `incident.<event>`, in one transaction.
    ///
    /// Errors: [`Error::NotFound`] (no such incident, or another device's), [`Conflict::NonceReplayed`],
    /// [`Error::IllegalTransition`] (e.g. the incident is closed).
    async fn append_device_event(&self, event: &DeviceEvent) -> Result<Incident>;
}

/// Subscribers (sealed fields, blind indexes) and their guardians.
#[async_trait::async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Creates or replaces a subscriber with its sealed fields and blind indexes. Audited `subscriber.saved`.
    async fn put_subscriber(&self, record: &SubscriberRecord, change: &Change) -> Result<()>;
    /// Sets a subscriber's language (a canonical BCP 47 tag the caller checked). Audited `subscriber.language_set`
    /// with the tag. Errors: [`Error::NotFound`] for an unknown subscriber.
    async fn set_subscriber_language(
        &self,
        id: SubscriberId,
        language: &str,
        change: &Change,
    ) -> Result<()>;
    /// A subscriber's sealed record. Not audited: nothing is decrypted here; the server audits decryption.
    async fn get_subscriber(&self, id: SubscriberId) -> Result<SubscriberRecord>;
    /// Subscribers whose blind index in `domain` equals `digest`, by id.
    async fn find_subscribers(
        &self,
        domain: &str,
        digest: &BlindDigest,
    ) -> Result<Vec<SubscriberId>>;
    /// Everything about a subscriber for a subject-access request. Audited `subscriber.exported`.
    async fn export_subscriber(
        &self,
        id: SubscriberId,
        change: &Change,
    ) -> Result<SubscriberExport>;
    /// Erases a subscriber: sealed fields, indexes and guardians deleted, devices revoked and unlinked.
    /// Incidents stay (they hold no personal field). Audited `subscriber.erased`.
    async fn erase_subscriber(&self, id: SubscriberId, change: &Change) -> Result<ErasureReport>;

    /// Creates or replaces a guardian. Audited `guardian.saved`. The subscriber must exist.
    async fn put_guardian(&self, record: &GuardianRecord, change: &Change) -> Result<()>;
    /// A subscriber's guardians, by creation time then id.
    async fn list_guardians(&self, subscriber_id: SubscriberId) -> Result<Vec<GuardianRecord>>;
    /// Deletes a guardian. Audited `guardian.deleted`.
    async fn delete_guardian(&self, id: GuardianId, change: &Change) -> Result<()>;
}

/// Devices, one-time enrolment codes and PINs (the 112 app).
#[async_trait::async_trait]
pub trait DeviceStore: Send + Sync {
    /// Enrols a new device. Audited `device.saved`.
    ///
    /// Errors: [`Conflict::AlreadyExists`] when a device with this id exists, revoked or not (a device is never
    /// replaced: that would hand its id to a new key, or revive a revoked device); [`Error::NotFound`] for an
    /// unknown subscriber.
    async fn put_device(&self, record: &DeviceRecord, change: &Change) -> Result<()>;
    /// A device by id.
    async fn get_device(&self, id: jikimi_respond::DeviceId) -> Result<DeviceRecord>;
    /// A subscriber's devices, by enrolment time then id.
    async fn list_devices(&self, subscriber_id: SubscriberId) -> Result<Vec<DeviceRecord>>;
    /// Every device id ever enrolled, revoked ones too (the server's known-id set: a flood of made-up ids must
    /// never delay the look-up of a real one).
    async fn all_device_ids(&self) -> Result<Vec<jikimi_respond::DeviceId>>;
    /// Revokes a device (its alerts are refused from then on). Audited `device.revoked`.
    async fn revoke_device(&self, id: jikimi_respond::DeviceId, change: &Change) -> Result<()>;

    /// Stores a one-time enrolment code for a subscriber. Audited `enrolment.issued` (handle and expiry only).
    ///
    /// Errors: [`Error::NotFound`] for an unknown subscriber, [`Conflict::AlreadyExists`] if the handle is taken
    /// (the caller draws a new code).
    async fn issue_enrolment_code(&self, code: &EnrolmentCode, change: &Change) -> Result<()>;

    /// Checks a presented one-time code without using it, so the caller can refuse a wrong code before doing
    /// expensive work (hashing PINs). A refusal counts and is audited exactly as in
    /// [`DeviceStore::redeem_enrolment_code`]; a valid code writes nothing and says what it allows.
    async fn check_enrolment_code(
        &self,
        handle: &str,
        code_hash: &[u8; 32],
        max_attempts: u32,
        change: &Change,
    ) -> Result<std::result::Result<EnrolmentCheck, EnrolmentRefusal>>;

    /// Redeems a one-time code: on success the device is enrolled for the code's subscriber, the code is marked
    /// used, the PINs (if given) are set, audited `device.enrolled`, all in one transaction.
    ///
    /// A refusal is committed too: a wrong code counts an attempt against its handle (locking it at
    /// `max_attempts`), and every refusal is audited `enrolment.refused`. PINs are never replaced unless the code
    /// allows it ([`EnrolmentCode::replace_pins`]): an enrolment bringing PINs for a subscriber who has some is
    /// refused [`EnrolmentRefusal::PinsAlreadySet`] and the code stays usable. A device id that exists is
    /// [`Conflict::AlreadyExists`]. The outer error means nothing was committed.
    async fn redeem_enrolment_code(
        &self,
        enrolment: &Enrolment,
        change: &Change,
    ) -> Result<std::result::Result<DeviceRecord, EnrolmentRefusal>>;

    /// Sets (or replaces) a subscriber's PINs and clears the wrong-PIN counter. Audited `subscriber.pins_set`.
    async fn set_pins(
        &self,
        subscriber_id: SubscriberId,
        pins: &PinHashes,
        change: &Change,
    ) -> Result<()>;

    /// A subscriber's PINs; [`Error::NotFound`] when none are set.
    async fn get_pins(&self, subscriber_id: SubscriberId) -> Result<PinRecord>;

    /// Counts a wrong PIN. At `max_attempts` the PINs lock until `change.at + lockout_ms` and the counter restarts.
    /// Audited `subscriber.pin_failed`. Returns the new state.
    ///
    /// With `nonce`, the signed request's nonce is claimed in the same transaction: a replay is
    /// [`Conflict::NonceReplayed`] and counts nothing.
    async fn record_pin_failure(
        &self,
        subscriber_id: SubscriberId,
        max_attempts: u32,
        lockout_ms: i64,
        nonce: Option<&NonceClaim>,
        change: &Change,
    ) -> Result<PinRecord>;
}

/// Units: the fleet, positions, statuses, and the incident transitions that move a unit.
#[async_trait::async_trait]
pub trait UnitStore: Send + Sync {
    /// Creates or replaces a unit. Audited `unit.saved`.
    async fn put_unit(&self, unit: &Unit, change: &Change) -> Result<()>;
    /// Records a position report. Not audited: AVL telemetry arrives every few seconds per unit and is not a
    /// decision; the unit's status changes are audited.
    async fn report_position(&self, id: &UnitId, report: PositionReport) -> Result<()>;
    /// Records many position reports in one transaction (an AVL gateway's batch: one commit instead of one per
    /// report). Returns the units as updated, in the order given; ids of unknown units are skipped. Not audited, as
    /// [`UnitStore::report_position`].
    async fn report_positions(&self, reports: &[(UnitId, PositionReport)]) -> Result<Vec<Unit>>;
    /// Sets a unit's status. Audited `unit.status`.
    async fn set_unit_status(
        &self,
        id: &UnitId,
        status: UnitStatus,
        change: &Change,
    ) -> Result<Unit>;
    /// A unit.
    async fn get_unit(&self, id: &UnitId) -> Result<Unit>;
    /// All units, by call sign.
    async fn list_units(&self) -> Result<Vec<Unit>>;

    /// Sends `unit` to an incident in ONE writing transaction: re-reads the unit and refuses unless it is available,
    /// appends `dispatched` at `expected_seq` (the incident's latest seq when `None`), sets the unit `dispatched`, and
    /// audits both (`incident.dispatched`, `unit.status`); the commit reports the incident and the unit. A refusal
    /// changes nothing, so of two dispatchers racing for one unit exactly one wins.
    ///
    /// Errors: [`Error::NotFound`] (unit or incident), [`Conflict::UnitBusy`], [`Conflict::StaleSequence`],
    /// [`Error::IllegalTransition`].
    async fn dispatch(
        &self,
        incident_id: IncidentId,
        expected_seq: Option<u64>,
        unit: &UnitId,
        change: &Change,
    ) -> Result<Incident>;

    /// [`UnitStore::dispatch`] for an incident that needs `need`: inside the same transaction, a unit that does not
    /// satisfy the need is refused with [`Conflict::UnitUnsuitable`] unless `override_need` is set, in which case
    /// the dispatch goes ahead and is audited `incident.dispatch_override` (the need, the unit's type and
    /// capabilities). Otherwise as [`UnitStore::dispatch`].
    async fn dispatch_for_need(
        &self,
        incident_id: IncidentId,
        expected_seq: Option<u64>,
        unit: &UnitId,
        need: &jikimi_respond::UnitNeed,
        override_need: bool,
        change: &Change,
    ) -> Result<Incident>;

    /// Sets the unit an incident needs (a dispatcher's choice over the derived one), or clears it with `None`.
    /// Audited `incident.need_set` or `incident.need_cleared`. [`Error::NotFound`] for an unknown incident.
    async fn set_incident_need(
        &self,
        incident_id: IncidentId,
        need: Option<&jikimi_respond::UnitNeed>,
        change: &Change,
    ) -> Result<()>;

    /// What decides an incident's need: the dispatcher's choice and the welfare statuses of the people whose answers
    /// joined it. [`Error::NotFound`] for an unknown incident.
    async fn incident_need_facts(
        &self,
        incident_id: IncidentId,
    ) -> Result<crate::rescue::IncidentNeedFacts>;

    /// Appends `kind` at `expected_seq` (the latest seq when `None`) and sets the unit the incident has assigned
    /// after it to `unit_status`, in ONE writing transaction (on scene: `on_scene`; closed: `available`). Without an
    /// assigned unit only the event is written. Errors as [`IncidentStore::append_event`], and [`Error::NotFound`]
    /// for an assigned unit that does not exist.
    async fn append_event_moving_unit(
        &self,
        incident_id: IncidentId,
        expected_seq: Option<u64>,
        kind: EventKind,
        unit_status: UnitStatus,
        change: &Change,
    ) -> Result<Incident>;
}

/// Staff accounts and their sessions.
#[async_trait::async_trait]
pub trait StaffStore: Send + Sync {
    /// Creates a staff account; [`Conflict::AlreadyExists`] if the name is taken. Audited `staff.created`.
    async fn create_staff(&self, user: &StaffUser, change: &Change) -> Result<()>;
    /// Replaces a staff account's hash, role and disabled flag and ends every session of the account, in one
    /// transaction (a password reset, role change or disabling logs the user out everywhere). Audited
    /// `staff.updated` with the number of sessions ended.
    async fn update_staff(&self, user: &StaffUser, change: &Change) -> Result<()>;
    /// A staff account.
    async fn get_staff(&self, username: &str) -> Result<StaffUser>;
    /// All staff accounts, by name.
    async fn list_staff(&self) -> Result<Vec<StaffUser>>;
    /// Stores a new session. Audited `session.created`.
    async fn create_session(&self, session: &SessionRecord, change: &Change) -> Result<()>;
    /// A session valid at `now` whose account is not disabled, carrying the account's CURRENT role (not the role at
    /// login); [`Error::NotFound`] if unknown, expired or the account is disabled.
    async fn get_session(&self, token_hash: &[u8; 32], now: Timestamp) -> Result<SessionRecord>;
    /// Ends a session (logout). Audited `session.deleted`.
    async fn delete_session(&self, token_hash: &[u8; 32], change: &Change) -> Result<()>;
    /// Deletes sessions expired at `now`. Returns how many.
    async fn purge_sessions(&self, now: Timestamp) -> Result<u64>;
}

/// The hash-chained audit log.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries that record no store change (reads of decrypted data, refused requests, logins), chained in
    /// one transaction. Returns their seqs.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<u64>>;
    /// Up to `limit` entries with seq greater than `after_seq`, by seq.
    async fn list_audit(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>>;
}

/// Public warnings supervisors issue (the Atom feed of CAP alerts). Warnings are public: nothing is sealed.
#[async_trait::async_trait]
pub trait WarningStore: Send + Sync {
    /// Stores a warning and its `warning.issued` audit entry in one transaction. The body must be JSON
    /// ([`Error::Invalid`] otherwise); an id stored before is a conflict.
    async fn issue_warning(&self, warning: &crate::WarningRecord, change: &Change) -> Result<()>;

    /// The latest `limit` warnings, newest first (ties by id, descending).
    async fn list_warnings(&self, limit: u32) -> Result<Vec<crate::WarningRecord>>;
}

/// Road closures dispatchers set and lift. Roads are public: nothing is sealed. Each change is reported to commit
/// observers as [`crate::Committed::RoadClosure`], so every node re-applies the closures in force.
#[async_trait::async_trait]
pub trait ClosureStore: Send + Sync {
    /// Stores a closure in force and its `road.closed` audit entry in one transaction. The geometry must be JSON
    /// and the record not reopened ([`Error::Invalid`] otherwise); an id stored before is a conflict.
    async fn close_road(&self, closure: &crate::RoadClosureRecord, change: &Change) -> Result<()>;

    /// Reopens a closure in force (`by` is the staff user) and audits `road.reopened`, in one transaction; returns
    /// it as reopened. Unknown id: [`Error::NotFound`]; already reopened: [`Conflict::AlreadyReopened`].
    async fn reopen_road(
        &self,
        id: uuid::Uuid,
        by: &str,
        change: &Change,
    ) -> Result<crate::RoadClosureRecord>;

    /// Closures by closing time (ties by id): those in force, or all of them with `include_reopened`.
    async fn list_road_closures(
        &self,
        include_reopened: bool,
    ) -> Result<Vec<crate::RoadClosureRecord>>;
}

/// Entity links found by linkage over shared cases, and analysts' decisions on them.
#[async_trait::async_trait]
pub trait LinkageStore: Send + Sync {
    /// Stores a linkage run's links in one transaction with one audit entry (`linkage.run`): new pairs become
    /// proposed, known pairs get the new score and evidence but keep their status, and proposed pairs the run
    /// did not find are withdrawn. Confirmed and rejected pairs are never removed or re-opened.
    async fn record_link_run(
        &self,
        links: Vec<NewEntityLink>,
        change: &Change,
    ) -> Result<LinkRunReport>;
    /// Links, optionally of one status, ordered by kind, then left and right ref.
    async fn list_entity_links(&self, status: Option<LinkStatus>) -> Result<Vec<EntityLink>>;
    /// Records an analyst's decision (confirmed or rejected; proposed re-opens it) with its audit entry
    /// (`linkage.decided`) in the same transaction.
    async fn decide_entity_link(
        &self,
        id: uuid::Uuid,
        status: LinkStatus,
        change: &Change,
    ) -> Result<EntityLink>;
}

/// Follow the money (issue 22): transfer sets attached to cooperation cases and trace runs over them. Accounts
/// arrive sealed with their blind digests (see [`crate::funds`]); the caller audits every opening of them.
#[async_trait::async_trait]
pub trait FundsStore: Send + Sync {
    /// Stores a set and its transfers (in the order given: `seq` 0, 1, ...) in one transaction with one audit
    /// entry (`funds.set_added`, with the case, the counts, no account). [`Conflict::AlreadyExists`] if the id is
    /// taken.
    async fn put_transfer_set(
        &self,
        set: &crate::funds::NewTransferSet,
        transfers: Vec<crate::funds::SealedTransfer>,
        change: &Change,
    ) -> Result<crate::funds::TransferSet>;
    /// The sets attached to a case, oldest first (then by id).
    async fn list_transfer_sets(
        &self,
        case_id: uuid::Uuid,
    ) -> Result<Vec<crate::funds::TransferSet>>;
    /// One set; [`Error::NotFound`] ([`crate::Entity::TransferSet`]) if unknown.
    async fn get_transfer_set(&self, id: uuid::Uuid) -> Result<crate::funds::TransferSet>;
    /// A set's transfers, sealed, in upload order. Not audited: nothing is opened here; the server audits.
    async fn load_transfers(&self, set_id: uuid::Uuid)
    -> Result<Vec<crate::funds::SealedTransfer>>;
    /// The sets with a transfer from or to the account whose blind digest is `digest`, by id.
    async fn transfer_sets_naming(&self, digest: &BlindDigest) -> Result<Vec<uuid::Uuid>>;
    /// Stores a trace run over an existing set with its audit entry (`funds.trace_run`: set, case, policy, seed
    /// count, totals) in one transaction. [`Error::NotFound`] for an unknown set.
    async fn record_trace_run(
        &self,
        run: &crate::funds::NewTraceRun,
        change: &Change,
    ) -> Result<crate::funds::TraceRun>;
    /// The runs over the sets of a case, newest first (then by id).
    async fn list_trace_runs(&self, case_id: uuid::Uuid) -> Result<Vec<crate::funds::TraceRun>>;
    /// One run; [`Error::NotFound`] ([`crate::Entity::TraceRun`]) if unknown.
    async fn get_trace_run(&self, id: uuid::Uuid) -> Result<crate::funds::TraceRun>;
}

/// Disaster mode (issue 20): disasters, the people a welfare check asked and their answers. Positions and
/// vulnerability flags arrive sealed ([`crate::disaster`]); every change is audited in its transaction and reported
/// as [`crate::Committed::DisasterUpdated`].
#[async_trait::async_trait]
pub trait DisasterStore: Send + Sync {
    /// Stores a declared disaster with its `disaster.declared` audit entry. An id stored before is a conflict.
    async fn declare_disaster(
        &self,
        disaster: &crate::disaster::DisasterRecord,
        change: &Change,
    ) -> Result<()>;
    /// Closes a disaster (`disaster.closed`); [`Error::NotFound`] if unknown, [`Conflict::DisasterClosed`] if closed.
    async fn close_disaster(
        &self,
        id: uuid::Uuid,
        change: &Change,
    ) -> Result<crate::disaster::DisasterRecord>;
    /// One disaster; [`Error::NotFound`] ([`crate::Entity::Disaster`]) if unknown.
    async fn get_disaster(&self, id: uuid::Uuid) -> Result<crate::disaster::DisasterRecord>;
    /// The latest `limit` disasters, newest first.
    async fn list_disasters(&self, limit: u32) -> Result<Vec<crate::disaster::DisasterRecord>>;
    /// Every subscriber with what the welfare check needs to place and reach them: their sealed home and
    /// vulnerability, their live devices and the latest fix of an incident of theirs measured at or after
    /// `fix_since`. Not audited: nothing is opened here; the server audits the opening.
    async fn welfare_candidates(
        &self,
        fix_since: Timestamp,
    ) -> Result<Vec<crate::disaster::WelfareCandidate>>;
    /// Records the people asked, in ONE transaction with one `disaster.welfare_requested` audit entry (how many);
    /// a person asked before is left as is. Each new person's guardians are queued `welfare_asked` in the same
    /// transaction (once per disaster and guardian). Returns how many were added. [`Conflict::DisasterClosed`] once closed.
    async fn request_welfare(
        &self,
        disaster_id: uuid::Uuid,
        requests: &[crate::disaster::WelfareRequest],
        change: &Change,
    ) -> Result<u64>;
    /// Records a verified device's answer, idempotent per (disaster, device, answer id): the same answer again is a
    /// duplicate that changes nothing (checked before the nonce, so a redelivered message is a duplicate too); a
    /// different answer under that id is [`Conflict::AlreadyExists`]. Otherwise claims the nonce
    /// ([`Conflict::NonceReplayed`]), updates the person, queues `welfare_<status>` for their guardians (once per
    /// disaster, guardian and status) and audits `welfare.answered`, in one transaction.
    /// [`Error::NotFound`] when the disaster is unknown or did not ask the device's subscriber;
    /// [`Conflict::DisasterClosed`] once closed.
    async fn record_welfare_answer(
        &self,
        answer: &crate::disaster::NewWelfareAnswer,
        change: &Change,
    ) -> Result<crate::disaster::WelfareAnswered>;
    /// The people a disaster asked, by subscriber id (sealed positions and flags; the caller audits opening them).
    async fn welfare_persons(
        &self,
        disaster_id: uuid::Uuid,
    ) -> Result<Vec<crate::disaster::WelfarePerson>>;
    /// Queues `welfare_no_answer` for the guardians of people of open disasters still silent (no answer) since they
    /// were asked at or before `asked_before`, at most once per (disaster, guardian), for at most `limit` people
    /// per call, in one transaction audited `notification.queued`. Returns how many notices it queued (0: none
    /// left); every node may run it, the unique index keeps each notice single.
    async fn queue_silent_welfare(
        &self,
        asked_before: Timestamp,
        at: Timestamp,
        limit: u32,
    ) -> Result<u64>;
    /// The open disasters that asked this device's subscriber, oldest first (the device's poll).
    async fn pending_welfare(
        &self,
        device_id: jikimi_respond::DeviceId,
    ) -> Result<Vec<crate::disaster::PendingWelfare>>;
}
