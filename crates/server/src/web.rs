//! Web defences around the routers: security headers on every response, the operations router (`/metrics`, the
//! Swagger UI) kept off the main listener, and the warning for plain HTTP off loopback.
//!
//! - Every answer of the main listener, errors and 404s included, carries a Content-Security-Policy that allows
//!   only this origin's own scripts, styles, images and connections and forbids framing (`frame-ancestors 'none'`,
//!   plus `X-Frame-Options: DENY` for old browsers), `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`. The console has no inline script or style, so the policy needs no
//!   `'unsafe-inline'`. Over HTTPS, `Strict-Transport-Security` is added ([`https`]).
//! - `/metrics` (what the server is doing, in numbers) and the Swagger UI are not on the main listener at all: they
//!   are served by [`ops_router`] on `--ops-listen` when an operator asks for it. `/api/openapi.json` stays on the
//!   main listener (the console's clients and the CI contract tests read it).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi as _;

/// The main listener's policy: own origin only, no plugins, no framing, no `<base>` games.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// The Swagger UI sets inline styles; it is on the operations listener only.
const OPS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'";

/// HSTS for HTTPS answers: a year; browsers then refuse plain HTTP to this host.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Adds the security headers to every answer of `router` (a header a handler set itself is kept).
pub fn with_security_headers(router: Router) -> Router {
    secured(router, CONTENT_SECURITY_POLICY)
}

fn secured(router: Router, policy: &'static str) -> Router {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// `router` as served over HTTPS: with `Strict-Transport-Security`.
pub fn https(router: Router) -> Router {
    router.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
    ))
}

/// The operations listener: Prometheus `/metrics`, the Swagger UI at `/api/docs/` (its document at
/// `/api/openapi-ui.json`). Nothing else, so it can be exposed to a monitoring network without the API.
pub fn ops_router() -> Router {
    crate::ops::prometheus();
    let router = Router::new()
        .route("/metrics", get(crate::ops::metrics_text))
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/openapi-ui.json", crate::openapi::ApiDoc::openapi()),
        );
    secured(router, OPS_CONTENT_SECURITY_POLICY)
}

/// Serves [`ops_router`] on `listener` until `shutdown`.
pub async fn serve_ops(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, ops_router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The warning for serving plain HTTP on `addr`, or `None` when that is fine (TLS, or a loopback address that
/// only this machine reaches, e.g. behind a local TLS proxy).
pub fn plain_http_warning(addr: std::net::SocketAddr, tls: bool) -> Option<String> {
    if tls || addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "WARNING: serving plain HTTP on {addr}, reachable from other machines: staff passwords, session tokens \
         and revealed personal data cross the network in clear. Serve HTTPS (--tls-cert/--tls-key) or listen on \
         loopback behind a TLS proxy."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_off_loopback_is_warned_about() {
        let public: std::net::SocketAddr = ([0, 0, 0, 0], 8112).into();
        let lan: std::net::SocketAddr = ([10, 1, 2, 3], 8112).into();
        let local: std::net::SocketAddr = ([127, 0, 0, 1], 8112).into();
        let local6: std::net::SocketAddr = (std::net::Ipv6Addr::LOCALHOST, 8112).into();
        assert!(plain_http_warning(public, false).is_some());
        assert!(plain_http_warning(lan, false).is_some());
        assert!(plain_http_warning(public, true).is_none());
        assert!(plain_http_warning(local, false).is_none());
        assert!(plain_http_warning(local6, false).is_none());
    }
}
