//! Malformed query strings and paths on the newer read endpoints answer `400`, never a default or a 5xx: a repeated
//! query field, and a path segment that is not UTF-8.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;

use crate::support::Harness;

pub async fn malformed_queries_and_paths_answer_400(h: &Harness) {
    // A repeated coordinate: which one did the dispatcher mean?
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = h
        .call(
            Method::GET,
            "/api/geocode/reverse?lat=60.17&lat=60.18&lon=24.94",
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A language tag that is not UTF-8 (the console's label catalogue is public).
    let (status, body) = h
        .call(Method::GET, "/api/console/i18n/%FF%FE", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A repeated direction on the freeze-request list, with cooperation on.
    let app = h.cooperating().await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, body) = h
        .call_on(
            &app,
            Method::GET,
            "/api/exchange/freeze?direction=incoming&direction=outgoing",
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
