//! The OpenAPI document lists every endpoint and every error code.

use axum::http::{Method, StatusCode};

use crate::support::Harness;

pub async fn openapi_lists_the_endpoints_and_error_codes(h: &Harness) {
    let (status, doc) = h.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/alerts",
        "/api/auth/login",
        "/api/staff/{username}",
        "/api/incidents",
        "/api/incidents/{id}",
        "/api/incidents/{id}/acknowledge",
        "/api/incidents/{id}/recommend",
        "/api/incidents/{id}/dispatch",
        "/api/incidents/{id}/recommendations",
        "/api/incidents/{id}/need",
        "/api/incidents/{id}/en-route",
        "/api/incidents/{id}/on-scene",
        "/api/incidents/{id}/notes",
        "/api/incidents/{id}/close",
        "/api/units",
        "/api/units/{id}/position",
        "/api/units/{id}/status",
        "/api/positions",
        "/api/subscribers",
        "/api/subscribers/{id}/reveal",
        "/api/subscribers/{id}/export",
        "/api/subscribers/{id}/erase",
        "/api/audit",
        "/api/intake/aml",
        "/api/subscribers/{id}/enrolment-codes",
        "/api/devices/enrol",
        "/api/alerts/{id}/location",
        "/api/alerts/{id}/cancel",
        "/api/live",
        "/api/map/base",
        "/api/geocode",
        "/api/geocode/reverse",
        "/api/console/config",
        "/api/console/i18n/{lang}",
        "/api/subscribers/{id}/language",
        "/api/border/check",
        "/api/linkage/run",
        "/api/linkage/links",
        "/api/linkage/links/{id}/decision",
        "/healthz",
        "/readyz",
        "/api/exchange/cases",
        "/api/exchange/agreements",
        "/api/funds/cases",
        "/api/funds/cases/{case_id}/sets",
        "/api/funds/cases/{case_id}/runs",
        "/api/funds/sets/{set_id}/transfers",
        "/api/funds/sets/{set_id}/runs",
        "/api/funds/runs/{run_id}",
        "/api/funds/runs/{run_id}/controllers",
        "/federation/v1/pull",
        "/federation/v1/deliver",
        "/api/exchange/freeze",
        "/api/exchange/freeze/{id}",
        "/api/exchange/freeze/partners",
        "/api/exchange/freeze/{id}/status",
        "/federation/v1/freeze/requests",
        "/federation/v1/freeze/statuses",
        "/api/operations",
        "/api/operations/{id}",
        "/api/operations/{id}/events",
        "/api/operations/{id}/export",
        "/federation/v1/operations/events",
        "/federation/v1/operations/batches",
        "/federation/v1/banks/deliver",
        "/api/identify/banks/{id}/offers",
        "/api/identify/banks/{id}/sharing",
        "/api/identify/content/{id}/withdraw",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    let codes: Vec<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("error codes")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = jikimi_server::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(codes, expected);
    // Pinned: codes are never renamed.
    assert_eq!(
        expected.join(","),
        "invalid_payload,invalid_field,payload_too_large,missing_header,signature_invalid,device_unknown,\
timestamp_out_of_window,nonce_replayed,unauthenticated,forbidden,login_failed,incident_not_found,unit_not_found,\
subscriber_not_found,illegal_transition,conflict,reason_required,enrolment_code_invalid,enrolment_code_expired,\
enrolment_code_used,enrolment_code_locked,pin_invalid,pin_locked,pin_not_set,rate_limited,gateway_unauthenticated,\
unavailable,internal,link_not_found,record_not_found,agency_not_initialised,not_enabled,staff_not_found,no_such_endpoint,\
message_not_found,transfer_set_not_found,trace_run_not_found,bank_not_found,content_not_found,match_not_found,closure_not_found,disaster_not_found,unit_unsuitable,\
triage_job_not_found"
    );
    // The feed is documented as an event stream.
    assert!(
        doc["paths"]["/api/live"]["get"]["responses"]["200"]["content"]
            .get("text/event-stream")
            .is_some(),
        "/api/live is text/event-stream"
    );
    let (status, config) = h.call(Method::GET, "/api/console/config", None, None).await;
    assert_eq!(
        (status, config["time_zone"].as_str()),
        (StatusCode::OK, Some("Asia/Seoul")),
        "the default centre time zone"
    );
    let (status, health) = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = h.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    // Metrics and the Swagger UI live on the operations listener (see the `web` tests), not in this document.
    assert!(!paths.contains_key("/metrics"));
}
