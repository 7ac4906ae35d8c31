//! The conformance suite: every behaviour of [`crate::Store`] as one generic async function, run against each
//! backend by [`store_conformance!`], which expands to one `#[tokio::test]` per function.
//!
//! Backends opt in by implementing [`TestBackend`] (an empty isolated database; reopening it; its files) in their test
//! module and invoking the macro there; [`TestStore`] (raw tampering, the exchange hooks) is written once for every
//! `SqlStore<DB>`.

mod alerts;
mod app;
mod audit;
mod bank_sharing;
mod closures;
mod cluster;
mod commits;
mod disasters;
mod dispatch;
mod exchange;
mod freeze;
mod funds;
mod identify;
mod incidents;
mod linkage;
mod maintenance;
mod operations;
mod outbox;
mod referrals;
mod registration;
mod rescue;
mod sessions;
mod story;
mod surge;
mod twoway;
mod warnings;

pub(crate) use alerts::*;
pub(crate) use app::*;
pub(crate) use audit::*;
pub(crate) use bank_sharing::*;
pub(crate) use closures::*;
pub(crate) use cluster::*;
pub(crate) use commits::*;
pub(crate) use disasters::*;
pub(crate) use dispatch::*;
pub(crate) use exchange::*;
pub(crate) use freeze::*;
pub(crate) use funds::*;
pub(crate) use identify::*;
pub(crate) use incidents::*;
pub(crate) use linkage::*;
pub(crate) use maintenance::*;
pub(crate) use operations::*;
pub(crate) use outbox::*;
pub(crate) use referrals::*;
pub(crate) use registration::*;
pub(crate) use rescue::*;
pub(crate) use sessions::*;
pub(crate) use story::*;
pub(crate) use surge::*;
pub(crate) use twoway::*;
pub(crate) use warnings::*;

use crate::sql::RowsAffected as _;
use crate::{Change, NewAlert, SqlStore, Store};
use jikimi_respond::{
    Actor, AlertId, Coordinates, DeviceId, FixMethod, IncidentId, LocationFix, Priority,
    SubscriberId, Timestamp,
};

/// What a backend provides so the suite can test it.
pub(crate) trait TestStore: Store + Sized {
    /// Keeps the isolated database alive; cleans it up when dropped.
    type Guard;
    /// An empty, migrated store nobody else uses.
    async fn fresh() -> (Self, Self::Guard);
    /// Closes this store and opens the same database again.
    async fn reopen(self, guard: &Self::Guard) -> Self;
    /// Changes the reason of audit entry `seq` with raw SQL, as an attacker with database access would.
    async fn tamper_audit_reason(&self, seq: u64);
    /// Runs one raw `UPDATE` with one text parameter (`$1`), as a failed disk or a bad manual edit would; returns the
    /// rows changed. For tests of how damaged rows are reported.
    async fn raw_update(&self, sql: &'static str, arg: &str) -> u64;
    /// The bytes of the database files, for backends that have them (SQLite).
    async fn database_bytes(&self) -> Option<Vec<u8>>;
    /// The raw cooperation columns that hold secrets, read with SQL: the agency key and every record body.
    async fn exchange_raw(&self) -> (Option<String>, Vec<String>);
    /// Writes an agency identity and a record in clear, as a version before sealing did.
    async fn exchange_write_clear(
        &self,
        agency: &jikimi_exchange::domain::Agency,
        key: &ed25519_dalek::SigningKey,
        record: &jikimi_exchange::domain::Record,
    );
    /// Seals what is in clear (`seal_exchange_at_rest`).
    async fn exchange_seal(&self) -> u64;
    /// The same database with other data keys (or none).
    fn with_exchange_keys(&self, keys: Option<jikimi_privacy::Keyring>) -> Self;
}

/// What a SQL backend adds for the suite; [`TestStore`] for `SqlStore<DB>` is written once on top of it.
pub(crate) trait TestBackend: crate::Backend {
    /// Keeps the isolated database alive; cleans it up when dropped.
    type Guard;
    /// An empty, unmigrated store nobody else uses.
    async fn fresh() -> (SqlStore<Self>, Self::Guard);
    /// Closes the store and opens the same database again (without keys).
    async fn reopen(store: SqlStore<Self>, guard: &Self::Guard) -> SqlStore<Self>;
    /// The bytes of the database files, for backends that have them (SQLite).
    async fn database_bytes(store: &SqlStore<Self>) -> Option<Vec<u8>>;
}

impl<DB: TestBackend> TestStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> f64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> bool: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Vec<u8>: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<&'a str>: sqlx::Encode<'a, DB>,
    for<'a> Option<String>: sqlx::Encode<'a, DB>,
    for<'a> Option<i64>: sqlx::Encode<'a, DB>,
    for<'a> Option<f64>: sqlx::Encode<'a, DB>,
    for<'a> Option<Vec<u8>>: sqlx::Encode<'a, DB>,
{
    type Guard = DB::Guard;

    async fn fresh() -> (Self, Self::Guard) {
        let (store, guard) = DB::fresh().await;
        let store = store.with_keyring(crate::testing::test_keyring());
        store.migrate().await.expect("migrate");
        (store, guard)
    }

    async fn reopen(self, guard: &Self::Guard) -> Self {
        DB::reopen(self, guard)
            .await
            .with_keyring(crate::testing::test_keyring())
    }

    async fn tamper_audit_reason(&self, seq: u64) {
        let n = sqlx::query("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = $1")
            .bind(seq as i64)
            .execute(&self.writer)
            .await
            .expect("tamper")
            .rows_affected();
        assert_eq!(n, 1);
    }

    async fn raw_update(&self, sql: &'static str, arg: &str) -> u64 {
        sqlx::query(sql)
            .bind(arg)
            .execute(&self.writer)
            .await
            .expect("raw update")
            .rows_affected()
    }

    async fn database_bytes(&self) -> Option<Vec<u8>> {
        DB::database_bytes(self).await
    }

    async fn exchange_raw(&self) -> (Option<String>, Vec<String>) {
        (
            self.ex_raw_identity().await.expect("raw identity"),
            self.ex_raw_bodies().await.expect("raw bodies"),
        )
    }

    async fn exchange_write_clear(
        &self,
        agency: &jikimi_exchange::domain::Agency,
        key: &ed25519_dalek::SigningKey,
        record: &jikimi_exchange::domain::Record,
    ) {
        SqlStore::exchange_write_clear(self, agency, key, record).await
    }

    async fn exchange_seal(&self) -> u64 {
        self.ex_seal_at_rest().await.expect("seal")
    }

    fn with_exchange_keys(&self, keys: Option<jikimi_privacy::Keyring>) -> Self {
        let mut store = self.clone();
        store.exchange_keys = keys.map(std::sync::Arc::new);
        store
    }
}

/// Expands to one `#[tokio::test]` per conformance function for a backend type.
macro_rules! store_conformance {
    ($store:ty) => {
        $crate::conformance::store_conformance!(@each $store;
            signed_alert_creates_incident,
            change_events_are_written_with_their_commit,
            a_rolled_back_change_writes_no_event,
            a_lease_has_one_holder_until_it_expires,
            a_migration_newer_than_the_binary_is_accepted,
            retried_alert_is_not_duplicated,
            duplicate_within_one_batch,
            replayed_nonce_is_refused,
            nonce_replay_protection_survives_reopen,
            large_batch_in_one_transaction,
            empty_batch_is_a_no_op,
            illegal_transition_is_refused,
            stale_sequence_is_refused,
            unknown_incident_is_not_found,
            corrupt_stored_rows_are_corrupt_not_invalid,
            projection_rebuilt_from_events_equals_stored_state,
            incidents_are_listed_by_priority_then_age,
            incidents_can_be_scanned_by_id_page_by_page,
            every_change_is_audited_and_the_chain_verifies,
            tampered_audit_row_is_detected_at_its_seq,
            personal_fields_are_not_readable_in_storage,
            subscriber_lookup_by_blind_index,
            export_and_erase_subscriber,
            subscriber_language_is_kept_and_set,
            devices_enrol_and_revoke,
            guardians_are_saved_listed_and_deleted,
            units_positions_and_status,
            staff_and_sessions,
            durable_across_reopen,
            story_alert_to_erasure,
            enrolment_code_enrols_a_device_once,
            enrolment_code_refusals_and_lockout,
            enrolment_code_is_checked_before_use,
            enrolment_never_replaces_pins_without_approval,
            wrong_pin_burns_its_nonce,
            existing_device_is_never_replaced,
            pins_count_failures_and_lock,
            device_events_on_own_incident,
            decisive_events_queue_notifications_in_their_transaction,
            notifications_are_claimed_in_order_under_a_lease,
            streams_of_different_guardians_do_not_block_each_other,
            entity_links_keep_decisions_across_runs,
            funds_sets_and_runs_are_sealed_and_audited,
            surge_alerts_close_together_share_one_incident,
            surge_skips_closed_and_stale_incidents,
            over_budget_alerts_join_their_device_incident,
            shared_budget_is_charged_in_the_alerts_transaction,
            exchange_record_log_and_paged_reads,
            exchange_page_applied_with_cursor,
            exchange_withdrawal_removes_and_tombstones,
            exchange_disclosures_receipts_in_the_spine_chain,
            exchange_secrets_are_sealed_at_rest,
            exchange_clear_rows_are_sealed_on_open,
            freeze_requests_and_statuses_are_kept_on_both_sides,
            operation_events_are_kept_in_order_sealed_and_audited,
            operation_batches_are_one_transaction_audited_per_event,
            sessions_follow_the_current_staff_row,
            staff_update_ends_the_accounts_sessions,
            purges_forget_only_old_nonces_and_expired_sessions,
            commits_are_told_to_observers_and_rollbacks_are_not,
            observers_see_the_commits_of_every_clone,
            dispatch_changes_incident_and_unit_in_one_commit,
            dispatching_a_busy_unit_changes_nothing,
            concurrent_dispatches_of_one_unit_one_wins,
            on_scene_and_close_move_the_assigned_unit,
            reindex_rewrites_digests_once_under_a_marker,
            questions_are_answered_once_by_their_device,
            warnings_are_listed_newest_first_and_audited,
            identify_bank_lifecycle,
            lookups_are_recorded_together_each_audited,
            shared_banks_are_materialised_idempotent_and_audited,
            road_closures_are_audited_told_and_reopened_once,
            disasters_ask_people_and_record_answers_once,
            unit_types_are_kept_and_dispatch_honours_the_need,
            incident_needs_are_set_cleared_and_derived_from_answers,
            guardians_are_told_of_a_disaster_once_per_event,
            referral_opens_one_incident_per_external_id,
            concurrent_referrals_of_one_external_id_open_one_incident,
        );
    };
    (@each $store:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::conformance::$name::<$store>().await;
            }
        )*
    };
}

pub(crate) use store_conformance;

/// A fixed instant: 2026-01-01T00:00:00Z plus `ms`.
pub(crate) fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_767_225_600_000 + ms)
}

pub(crate) fn staff_change(user: &str, ms: i64, reason: &str) -> Change {
    Change::new(Actor::Staff(user.to_owned()), t(ms), reason)
}

pub(crate) fn seoul() -> Coordinates {
    Coordinates::new(37.5665, 126.9780).expect("valid coordinates")
}

/// An alert from `device` with a fresh alert id and nonce.
pub(crate) fn alert(device: DeviceId, ms: i64) -> NewAlert {
    NewAlert {
        incident_id: IncidentId::new_v7(),
        alert_id: AlertId::new_v4(),
        device_id: device,
        subscriber_id: None,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        received_at: t(ms),
        priority: Priority::new(1).expect("valid priority"),
        fix: Some(
            LocationFix::new(seoul(), 12.0, FixMethod::Gnss, t(ms - 500)).expect("valid fix"),
        ),
        silent: true,
    }
}

/// An alert for a subscriber's device.
pub(crate) fn subscriber_alert(device: DeviceId, subscriber: SubscriberId, ms: i64) -> NewAlert {
    NewAlert {
        subscriber_id: Some(subscriber),
        ..alert(device, ms)
    }
}

/// Records one alert that must be accepted, returning its incident id.
pub(crate) async fn accept_one<S: Store>(store: &S, alert: NewAlert) -> IncidentId {
    let mut results = store
        .record_alerts(vec![alert])
        .await
        .expect("batch commits");
    let accepted = results.pop().expect("one result").expect("alert accepted");
    assert!(!accepted.duplicate);
    accepted.incident_id
}
