//! Web defences (issue 16, item 10): security headers on every answer (a 200, a 404, an error, the console), HSTS
//! over HTTPS only, and `/metrics` and the Swagger UI gone from the main listener (they used to answer anyone)
//! while the operations router serves them.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use tower::ServiceExt as _;

use crate::support::Harness;

async fn headers_of(app: &Router, method: Method, path: &str) -> (StatusCode, HeaderMap) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("router answers");
    (response.status(), response.headers().clone())
}

fn assert_secured(headers: &HeaderMap, what: &str) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
}

/// Every kind of answer carries the headers; plain HTTP answers carry no HSTS, HTTPS ones do.
pub async fn security_headers_on_every_answer(h: &Harness) {
    for (method, path, expected) in [
        (Method::GET, "/healthz", StatusCode::OK),
        (Method::GET, "/", StatusCode::OK),
        (Method::GET, "/console/app.js", StatusCode::OK),
        (Method::GET, "/console/disaster.js", StatusCode::OK),
        (Method::GET, "/api/no-such-endpoint", StatusCode::NOT_FOUND),
        (Method::GET, "/api/incidents", StatusCode::UNAUTHORIZED),
        (Method::GET, "/metrics", StatusCode::NOT_FOUND),
    ] {
        let (status, headers) = headers_of(&h.app, method.clone(), path).await;
        assert_eq!(status, expected, "{method} {path}");
        assert_secured(&headers, path);
        assert!(
            headers.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP: {path}"
        );
    }
    // A 404 (an incident that does not exist), answered through the error layer.
    let token = h.login_as(jikimi_server::roles::Role::Dispatcher).await;
    let response = h
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("/api/incidents/{}", uuid::Uuid::new_v4()))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("router answers");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_secured(response.headers(), "a 404");
    let https = jikimi_server::web::https(h.app.clone());
    for path in ["/healthz", "/api/no-such-endpoint"] {
        let (_, headers) = headers_of(&https, Method::GET, path).await;
        assert_secured(&headers, path);
        assert_eq!(
            headers
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
}

/// `/metrics` and the Swagger UI used to answer anyone on the main listener; now they are not there (the API's
/// not-found answer) and only the operations router serves them. `/api/openapi.json` stays.
pub async fn metrics_and_docs_only_on_the_operations_listener(h: &Harness) {
    for path in ["/metrics", "/api/docs/", "/api/openapi-ui.json"] {
        let (status, body) = h.call(Method::GET, path, None, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("no_such_endpoint")),
            "{path} is not on the main listener"
        );
    }
    let (status, _) = h.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let ops = jikimi_server::web::ops_router();
    for path in ["/metrics", "/api/docs/", "/api/openapi-ui.json"] {
        let (status, headers) = headers_of(&ops, Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path} on the operations listener");
        assert_secured(&headers, path);
    }
    // The operations router serves nothing of the API.
    let (status, _) = headers_of(&ops, Method::GET, "/api/incidents").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
