//! API tests of jikimi-server: the router driven with `oneshot`, on SQLite and on PostgreSQL.
//!
//! Each test is a generic async function taking a [`support::Harness`]; [`api_tests!`] runs it once per backend.
//! PostgreSQL is the house instance (`JIKIMI_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! each test in its own schema, dropped after; unreachable is a failure naming the URL.

mod alerts;
mod aml;
mod app;
mod bank_sharing;
mod closures;
mod cooperate;
mod devices;
mod disaster_e2e;
mod disasters;
mod feed;
mod flood;
mod flows;
mod freeze;
mod freeze_run;
mod funds;
mod geocode;
mod identify;
mod identify_jobs;
#[cfg(feature = "video")]
mod identify_video;
mod languages;
mod lookups;
mod mqtt;
mod mqtt_broker;
mod mqtt_twoway;
mod notifications;
mod openapi;
mod operations;
mod privacy;
mod purge;
mod referrals;
mod reindex;
mod rescue;
mod roads;
mod sessions;
mod shapes;
mod standards;
mod statuses;
mod support;
mod surge;
mod twoway;
mod views;
mod web;

macro_rules! api_tests {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let h = crate::support::Harness::new(crate::support::Backend::Sqlite).await;
                    crate::$module::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let h = crate::support::Harness::new(crate::support::Backend::Postgres).await;
                    crate::$module::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
    };
}

api_tests!(
    identify::identify_banks_lookups_negative_banks_and_reviews,
    identify::identify_photos_and_video_signals,
    identify::identify_quarantines_a_flooding_signal,
    identify::identify_refuses_attacks,
    identify::identify_uploads_are_never_kept_or_logged,
    identify_jobs::identify_bank_content_and_quarantine_are_listed,
    identify_jobs::identify_triage_runs_under_the_evidence_root,
    disasters::welfare_check_reaches_exactly_the_area,
    disasters::disasters_are_declared_from_cap,
    disasters::disaster_endpoints_refuse_attacks,
    rescue::unit_types_are_saved_listed_and_refused_when_malformed,
    rescue::recommendations_and_dispatch_honour_the_needed_type,
    rescue::welfare_answers_set_the_need_and_guardians_are_told,
    referrals::eido_referral_round_trips_once_per_id_on_the_feed,
    referrals::eido_import_refuses_attacks,
    standards::incident_exports_follow_the_role_view,
    standards::incident_exports_refuse_unknown_and_malformed_ids,
    standards::cap_import_parses_areas_and_refuses_attacks,
    standards::warnings_are_issued_by_supervisors_and_published_in_the_feed,
    standards::the_public_feed_reads_the_store_at_most_once_per_ttl,
    alerts::signed_alert_creates_incident,
    alerts::bad_signature_is_refused_audited_and_opens_nothing,
    alerts::unknown_device_is_refused_audited_and_opens_nothing,
    alerts::replayed_nonce_is_refused_audited_and_opens_nothing,
    alerts::malformed_json_is_refused_audited_and_opens_nothing,
    alerts::out_of_range_coordinate_is_refused_audited_and_opens_nothing,
    alerts::oversized_body_is_refused_audited_and_opens_nothing,
    alerts::stale_timestamp_is_refused_audited_and_opens_nothing,
    alerts::missing_headers_are_refused_audited_and_open_nothing,
    alerts::retried_alert_is_not_duplicated,
    alerts::concurrent_alerts_are_group_committed_each_once,
    aml::aml_from_registered_number_opens_incident_with_fix,
    aml::aml_from_unknown_number_is_refused_and_audited,
    aml::malformed_aml_is_refused_and_audited,
    aml::aml_without_gateway_credential_is_refused_and_audited,
    app::enrolment_with_a_code_then_signed_alert,
    app::enrolment_with_a_wrong_or_expired_code_fails,
    app::silent_mode_is_honoured_end_to_end,
    app::location_stream_until_closed_and_rate_limited,
    app::duress_pin_escalates_while_answering_like_a_cancel,
    app::wrong_pin_is_refused_audited_and_bounded,
    app::duress_cancel_gets_an_argon2_slot_while_logins_hold_them_all,
    feed::every_way_in_reaches_the_live_feed,
    flows::incident_lifecycle_and_projection_rebuild,
    flows::illegal_transitions_are_refused,
    flows::corrupt_stored_incident_answers_500,
    flows::incidents_are_listed_by_priority_then_age,
    flows::roles_are_checked_per_endpoint,
    flows::malformed_staff_json_gets_the_api_error_shape,
    flows::sessions_expire_and_logout_ends_them,
    flows::batched_positions_are_recorded_together,
    flows::staff_actions_reach_the_live_feed,
    privacy::reveal_is_audited_with_its_reason,
    privacy::export_and_erase_a_subscriber,
    privacy::personal_data_is_not_in_logs_or_the_database,
    notifications::incident_detail_shows_notification_status_without_personal_data,
    openapi::openapi_lists_the_endpoints_and_error_codes,
    roads::road_eta_ranks_units_by_travel_time_not_distance,
    closures::road_closures_change_etas_at_once_and_reopening_restores_them,
    closures::road_closures_made_elsewhere_reach_this_node_through_the_commit_feed,
    closures::road_closures_refuse_attackers,
    roads::incident_off_road_falls_back_to_straight_line,
    roads::map_roads_serves_the_network_as_geojson,
    geocode::incidents_show_their_street_address,
    geocode::dispatchers_geocode_both_ways,
    cooperate::border_check_finds_flagged_persons_and_is_audited,
    cooperate::linkage_run_links_entities_and_respects_decisions,
    funds::analyst_traces_money_to_endpoints_and_their_controllers,
    funds::money_endpoints_refuse_attackers,
    mqtt::mqtt_sos_is_acknowledged_and_a_replay_is_not_a_second_alert,
    mqtt::mqtt_unsigned_or_wrongly_signed_is_refused_and_audited,
    mqtt_twoway::mqtt_terminal_receives_the_question_and_answers_it,
    mqtt_twoway::mqtt_questions_are_discreet_after_a_duress_pin,
    views::dispatcher_sees_the_full_view,
    views::supervisor_sees_the_full_view,
    views::admin_sees_the_full_view,
    views::analyst_sees_no_ids_notes_or_exact_locations,
    views::border_officer_sees_no_incidents,
    lookups::reveal_and_search_need_an_open_incident_of_that_subscriber,
    reindex::old_subscriber_phone_digests_are_rederived_once,
    devices::registration_refuses_an_existing_device_id_and_revocation_sticks,
    devices::enrolment_never_replaces_pins_without_a_supervisor,
    devices::a_replayed_wrong_pin_cancel_cannot_lock_the_pins,
    devices::failed_requests_leave_no_clear_personal_data_in_the_audit_log,
    sessions::role_change_ends_the_sessions_taken_under_the_old_role,
    sessions::disabled_users_token_is_refused,
    sessions::password_reset_ends_every_session,
    sessions::staff_changes_are_admin_only_and_checked,
    sessions::logout_with_a_lowercase_scheme_revokes,
    sessions::open_live_stream_ends_after_logout,
    web::security_headers_on_every_answer,
    web::metrics_and_docs_only_on_the_operations_listener,
    purge::purge_never_reopens_the_replay_window,
    statuses::declared_oversize_bodies_are_refused_everywhere,
    statuses::cooperation_is_not_enabled_when_off,
    statuses::wrong_role_and_cooperation_off_answer_before_the_work,
    statuses::roles_without_cooperation_are_forbidden,
    statuses::federation_is_limited_per_source,
    statuses::federation_refuses_what_it_cannot_trust,
    statuses::unknown_ids_taken_names_and_missing_sessions,
    statuses::made_up_devices_cancelling_are_limited,
    statuses::state_dependent_refusals,
    statuses::partner_port_is_limited_per_source,
    twoway::question_and_tapped_answer_reach_timeline_and_feed,
    twoway::attackers_and_mistakes_are_refused,
    twoway::duress_questions_are_discreet_unless_revealed,
    twoway::questions_speak_the_subscribers_language,
    languages::subscriber_language_is_registered_checked_and_changed,
    languages::incident_shows_the_callers_language_to_dispatchers_only,
    languages::device_feedback_speaks_the_devices_language,
    languages::console_labels_come_from_the_fluent_files,
    shapes::malformed_queries_and_paths_answer_400,
    freeze::freeze_requests_as_the_recipient_would_be_attacked,
    freeze::freeze_requests_as_the_requester_would_be_attacked,
    freeze_run::freeze_request_from_a_traced_endpoint,
    operations::joint_operations_as_an_attacker_would_try_them,
    bank_sharing::bank_sharing_as_an_attacker_would_try_it,
);

/// Restarts a private Mosquitto (broker behaviour: once, on SQLite, not once per backend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_broker_restart_during_a_burst_loses_no_alert() {
    // Ten alerts per terminal, far apart: past the alert budget they would join one incident per terminal, and this
    // test counts one incident per alert to prove none was lost.
    let h = support::Harness::with_config(support::Backend::Sqlite, |c| {
        c.flood.alert_budget_burst = 1_000;
    })
    .await;
    mqtt::mqtt_broker_restart_during_a_burst_loses_no_alert(&h).await;
    h.finish().await;
}

/// A private Mosquitto with a password file and the sample ACL (broker behaviour: once, on SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_broker_acl_confines_each_terminal_to_its_own_topics() {
    let h = support::Harness::new(support::Backend::Sqlite).await;
    mqtt_broker::broker_acl_confines_each_terminal_to_its_own_topics(&h).await;
    h.finish().await;
}

/// A private TLS-only Mosquitto with a throw-away CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_private_ca() {
    let h = support::Harness::new(support::Backend::Sqlite).await;
    mqtt_broker::mqtts_with_a_private_ca(&h).await;
    h.finish().await;
}

/// Surge clustering through the HTTP API, on both backends.
mod surge_api {
    #[tokio::test]
    async fn sqlite() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Sqlite, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::surge::nearby_alerts_share_an_incident_in_the_queue(&h).await;
        h.finish().await;
    }

    #[tokio::test]
    async fn postgres() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Postgres, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::surge::nearby_alerts_share_an_incident_in_the_queue(&h).await;
        h.finish().await;
    }
}

/// Disaster mode with surge clustering on (people trapped in one building), on both backends.
mod disaster_site {
    #[tokio::test]
    async fn sqlite() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Sqlite, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::disasters::trapped_people_stay_individuals_within_one_site(&h).await;
        h.finish().await;
    }

    #[tokio::test]
    async fn postgres() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Postgres, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::disasters::trapped_people_stay_individuals_within_one_site(&h).await;
        h.finish().await;
    }
}

/// The end-to-end disaster (2,000 subscribers, MQTT terminals and apps, alerts meanwhile), on both backends.
mod disaster_end_to_end {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Sqlite, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::disaster_e2e::disaster_over_two_thousand_subscribers_loses_nothing(&h).await;
        h.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let h = crate::support::Harness::with_config(crate::support::Backend::Postgres, |c| {
            c.surge = jikimi_respond::SurgeConfig::DEFAULT;
        })
        .await;
        crate::disaster_e2e::disaster_over_two_thousand_subscribers_loses_nothing(&h).await;
        h.finish().await;
    }
}
