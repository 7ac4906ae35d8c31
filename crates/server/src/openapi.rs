//! The OpenAPI document, served at `/api/openapi.json`; the vendored Swagger UI (`/api/docs/`) is on the operations
//! listener only ([`crate::web::ops_router`]), like `/metrics`, which is therefore not in this document.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every endpoint and schema of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "jikimi", description = "jikimi (지킴이) respond API: signed SOS alerts, incidents, units, subscribers, audit, border watchlist checks, entity linkage, money tracing.\n\nErrors are always `{\"error\": {\"code\", \"message\", \"request_id\"}}` with a stable snake_case code (see the ErrorCode schema)."),
    paths(
        crate::alerts::raise_alert,
        crate::aml::intake_aml,
        crate::app::issue_enrolment_code, crate::app::enrol_device, crate::app::location_update, crate::app::cancel,
        crate::auth::login, crate::auth::logout, crate::auth::me, crate::auth::create_staff,
        crate::staff::update_staff,
        crate::incidents::list, crate::incidents::get, crate::incidents::acknowledge, crate::incidents::recommend,
        crate::incidents::dispatch, crate::incidents::en_route, crate::incidents::on_scene, crate::incidents::note,
        crate::incidents::close,
        crate::rescue::recommendations, crate::rescue::set_need, crate::rescue::clear_need,
        crate::twoway::ask, crate::twoway::device_messages, crate::twoway::answer,
        crate::standards::incident_cap, crate::standards::incident_eido, crate::standards::import_cap,
        crate::referrals::import_eido,
        crate::warnings::issue, crate::warnings::feed,
        crate::closures::close, crate::closures::list_closures, crate::closures::reopen,
        crate::disaster::declare, crate::disaster::close, crate::disaster::list, crate::disaster::get,
        crate::disaster::triage_queue, crate::disaster::device::poll, crate::disaster::device::answer,
        crate::units::list, crate::units::put, crate::units::report_position, crate::units::set_status,
        crate::units::report_positions,
        crate::subscribers::register, crate::subscribers::search, crate::subscribers::reveal,
        crate::subscribers::export, crate::subscribers::erase, crate::subscribers::set_language,
        crate::ops::audit_list, crate::ops::healthz, crate::ops::readyz,
        crate::map_roads::roads, crate::geocode::search, crate::geocode::reverse,
        crate::live::stream, crate::console::base_map, crate::console::config, crate::console::labels,
        crate::notifications::dead_letters,
        crate::border::check,
        crate::links::run, crate::links::list, crate::links::decide,
        crate::funds::list_cases, crate::funds::upload, crate::funds::list_sets, crate::funds::list_transfers,
        crate::funds::run, crate::funds::list_runs, crate::funds::get_run, crate::funds_links::controllers,
        crate::identify::create_bank, crate::identify::list_banks, crate::identify::add_signal,
        crate::identify::add_photo, crate::identify::add_video, crate::identify::disable, crate::identify::enable,
        crate::identify_lookup::lookup_signal, crate::identify_lookup::lookup_upload, crate::identify_lookup::hash,
        crate::identify_lookup::review,
        crate::identify_share::offer, crate::identify_share::sharing, crate::identify_share::withdraw,
        crate::identify_browse::bank_content, crate::identify_browse::quarantined,
        crate::identify_triage::start, crate::identify_triage::get, crate::identify_triage::report,
        crate::exchange::get_agency, crate::exchange::init_agency, crate::exchange::list_peers,
        crate::exchange::add_peer, crate::exchange::list_agreements, crate::exchange::put_agreement,
        crate::exchange::revoke_agreement, crate::exchange::list_records, crate::exchange::create_case,
        crate::exchange::get_case, crate::exchange::add_lead, crate::exchange::withdraw, crate::exchange::restrict,
        crate::exchange::export_stix, crate::exchange::court_bundle, crate::exchange::sync,
        crate::exchange_freeze::create, crate::exchange_freeze::list, crate::exchange_freeze::get,
        crate::exchange_freeze::record_status, crate::exchange_freeze::partners,
        crate::joint_operations::create, crate::joint_operations::list, crate::joint_operations::get,
        crate::joint_operations::change, crate::joint_operations::export,
        crate::federation::federation_agency, crate::federation::federation_pull, crate::federation::federation_deliver,
        crate::federation::federation_receipts, crate::federation::federation_notify,
        crate::federation::federation_freeze_request, crate::federation::federation_freeze_status,
        crate::federation::federation_operation_event,
        crate::federation::federation_operation_batch,
        crate::federation::federation_bank_delivery,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::error::ErrorCode,
        crate::standards::CapImportDto, crate::standards::CapAreaDto, crate::standards::CircleDto,
        crate::warnings::WarningRequest, crate::warnings::WarningAreaDto, crate::warnings::CircleInDto,
        crate::warnings::WarningIssuedDto, crate::referrals::ReferralImportedDto,
        crate::joint_operations::NewOperationBody, crate::joint_operations::InviteBody,
        crate::closures::CloseRequest, crate::closures::ClosureDto, crate::closures::ClosedDto,
        crate::closures::ReopenRequest,
        crate::disaster::DeclareRequest, crate::disaster::DeclaredDto, crate::disaster::CountsDto,
        crate::disaster::AreaCountsDto, crate::disaster::DisasterSummaryDto, crate::disaster::DisasterListDto,
        crate::disaster::DisasterDto, crate::disaster::TriageEntryDto, crate::disaster::TriageDto,
        crate::disaster::welfare::FanOutDto, crate::disaster::welfare::WelfareQuestionDto,
        crate::disaster::welfare::WelfareAnswerRequest, crate::disaster::welfare::WelfareAnsweredDto,
        crate::disaster::device::WelfarePollDto, crate::subscribers::HomeDto,
        crate::rescue::NeedDto, crate::rescue::NeedRequest, crate::rescue::CandidateDto,
        crate::rescue::OtherUnitDto, crate::rescue::RecommendationsDto)),
    modifiers(&BearerAuth, &CommonResponses, &FloodResponses),
    tags(
        (name = "alerts", description = "Device alerts, Ed25519-signed"),
        (name = "app", description = "The 112 app: one-time device enrolment, location stream, cancel with PIN (duress PIN escalates), silent questions and tapped answers"),
        (name = "incidents", description = "Incident log and transitions"),
        (name = "disasters", description = "Disaster mode: declare (JSON or CAP), welfare check, counts per area, triage queue"),
        (name = "units", description = "Patrol units and AVL"),
        (name = "subscribers", description = "Registration database (personal data sealed; reveals audited)"),
        (name = "staff", description = "Login and staff accounts"),
        (name = "audit", description = "Hash-chained audit log"),
        (name = "notifications", description = "Guardian notifications (status only; no personal data)"),
        (name = "ops", description = "Health and readiness"),
        (name = "console", description = "The dispatcher console's live feed, base map and settings"),
        (name = "border", description = "Border watchlist checks (border officers; every check audited)"),
        (name = "linkage", description = "Linked persons, phones, accounts and wallets across agencies; analysts' decisions"),
        (name = "identify", description = "Hash banks (PDQ, vPDQ) with labels, negative banks, lookups by signal or photo answered per bank, match reviews, quarantine of flooding signals (analysts and supervisors; every lookup audited; images hashed in memory, never kept)"),
        (name = "funds", description = "Follow the money: transfer sets on cases, taint traces, flow graphs, endpoints and their controllers (analysts; reads audited)"),
        (name = "exchange", description = "Cooperation: this agency, peers, agreements, cases and leads (staff)"),
        (name = "operations", description = "Joint operations with partner agencies: tasks, consent, targets, situation log, day of action, court export (liaison officers; reads audited)"),
        (name = "federation", description = "Between nodes: Ed25519-signed pull, deliver, receipts, notify (jikimi-federation/1)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents the answers an operation gives because of the layers every request passes, so that each handler's
/// own annotation lists only what the handler itself decides:
/// - 400 `invalid_payload` where there is a path, query, header or body to get wrong;
/// - 401 `unauthenticated` where a bearer session is required, and 403 `forbidden` where a role is checked;
/// - 404 `not_enabled` on cooperation's operations (a node may run without it);
/// - 413 `payload_too_large` where there is a body (the body limit);
/// - 500 `internal` and 503 `unavailable` everywhere (a fault, an unreachable database).
///
/// An operation's own annotation wins where it documents the same status.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common_responses(path, operation);
            }
        }
    }
}

/// Adds the `429 rate_limited` answer (with `Retry-After`) to every operation [`crate::flood`] may limit, from the
/// same path rules the limits use, so the document cannot drift from them.
struct FloodResponses;

impl Modify for FloodResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder, schema::Type,
        };
        let limited = ResponseBuilder::new()
            .description(
                "rate_limited: too many requests from this source; retry after Retry-After seconds",
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("seconds to wait before retrying"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                (axum::http::Method::GET, item.get.as_mut()),
                (axum::http::Method::POST, item.post.as_mut()),
                (axum::http::Method::PUT, item.put.as_mut()),
                (axum::http::Method::DELETE, item.delete.as_mut()),
            ] {
                if let Some(operation) = operation
                    && crate::flood::may_limit(&method, path)
                {
                    operation
                        .responses
                        .responses
                        .entry("429".to_string())
                        .or_insert_with(|| limited.clone().into());
                }
            }
        }
    }
}

fn add_common_responses(path: &str, operation: &mut utoipa::openapi::path::Operation) {
    let has_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
        || operation.request_body.is_some();
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let tags = operation.tags.as_deref().unwrap_or_default();
    let cooperation = tags
        .iter()
        .any(|t| t == "exchange" || t == "federation" || t == "funds" || t == "operations")
        || path == "/api/linkage/run";
    let mut common = Vec::new();
    if has_input {
        common.push((
            "400",
            "invalid_payload, missing_header: a malformed path, query string, header or body",
        ));
    }
    if secured {
        common.push((
            "401",
            "unauthenticated: no bearer token, or the session is unknown or expired",
        ));
        // Every secured operation but these checks a permission some role lacks (see `roles`).
        if !matches!(path, "/api/auth/me" | "/api/auth/logout") {
            common.push(("403", "forbidden: the caller's role may not do this"));
        }
    }
    if cooperation {
        common.push(("404", "not_enabled: cooperation is off on this server"));
    }
    if operation.request_body.is_some() {
        common.push((
            "413",
            "payload_too_large: the body is larger than the server's limit",
        ));
    }
    common.push((
        "500",
        "internal: an unexpected fault; the detail is in the server log under the request id",
    ));
    common.push((
        "503",
        "unavailable: the database is unreachable or the server is overloaded; retry later",
    ));
    for (status, description) in common {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
