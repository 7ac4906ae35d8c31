//! Cooperation in `jikimi serve`: the staff API for this node's agency, peers, agreements, cases and leads under
//! `/api/exchange/*`, on the same listener and the same database handle as the rest of the API, over the
//! [`Federation`] (the node, from `jikimi-federation`) that the federation endpoints partner nodes call
//! ([`crate::federation`]) share; and the one mapping of cooperation errors to API errors.
//!
//! Staff present a bearer session and need [`Permission::Cooperate`] (cases, leads, sync) or
//! [`Permission::ManageAgreements`] (identity, peers, agreements); every read of records is audited. This is the
//! only way staff read records: there is no unauthenticated record API. Partner nodes never come here; they get only
//! what the signed federation protocol gives them.
//!
//! The node is opened lazily ([`Federation::node`]): an identity created after the server started (`jikimi agency
//! init` on the same database) is picked up by the next request. Request and response bodies are `jikimi_exchange` domain types in
//! their serde form (documented as objects here; the federation envelope is described in that crate).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use jikimi_exchange::domain::{
    Agency, AgencyId, Agreement, CaseCategory, Content, FieldClass, Record,
};
use jikimi_exchange::marking::Marking;
use jikimi_exchange::protocol::Rejection;
use jikimi_federation::{Federation, Node, SyncStats};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

impl From<jikimi_exchange::Error> for ApiError {
    fn from(e: jikimi_exchange::Error) -> ApiError {
        use jikimi_exchange::Error as E;
        match &e {
            E::Rejected(Rejection::BadSignature) => {
                ApiError::new(ErrorCode::SignatureInvalid, e.to_string())
            }
            E::Rejected(Rejection::Replay) => {
                ApiError::new(ErrorCode::NonceReplayed, e.to_string())
            }
            E::Rejected(Rejection::ClockSkew) => {
                ApiError::new(ErrorCode::TimestampOutOfWindow, e.to_string())
            }
            E::Rejected(
                Rejection::UnknownSender | Rejection::WrongRecipient | Rejection::NotAParty,
            ) => ApiError::new(ErrorCode::Forbidden, e.to_string()),
            E::Rejected(_) | E::InvalidIdentifier { .. } | E::Invalid { .. } => {
                ApiError::new(ErrorCode::InvalidField, e.to_string())
            }
            E::NotFound { .. } => ApiError::new(ErrorCode::RecordNotFound, e.to_string()),
            E::Denied(_) => ApiError::new(ErrorCode::Forbidden, e.to_string()),
            E::NoIdentity => ApiError::new(ErrorCode::AgencyNotInitialised, e.to_string()),
            E::Transport { .. } => ApiError {
                code: ErrorCode::Unavailable,
                message: e.to_string(),
                ..ApiError::new(ErrorCode::Unavailable, "")
            },
            // A damaged cooperation row is a server fault like any other: through the one store mapping.
            E::Store { source, .. } => match source.downcast_ref::<jikimi_store::Error>() {
                Some(jikimi_store::Error::Corrupt(what)) => {
                    ApiError::from(jikimi_store::Error::corrupt(what.clone()))
                }
                _ => ApiError::unavailable(&e),
            },
            _ => ApiError::internal(&e),
        }
    }
}

pub(crate) fn service(state: &AppState) -> Result<Arc<Federation>, ApiError> {
    state.exchange.clone().ok_or_else(|| {
        // Off by configuration, not overloaded: a 404 the caller should not retry.
        ApiError::new(
            ErrorCode::NotEnabled,
            "cooperation is not enabled on this server",
        )
    })
}

/// Runs store work on its own task: a peer that disconnects mid-request (killed) must not leave a transaction
/// half-way on a dropped future.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, jikimi_exchange::Error>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(work).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(e)),
    }
}

fn notify_in_background(node: Arc<Node>) {
    tokio::spawn(async move {
        if let Err(e) = node.notify_peers().await {
            tracing::warn!(error = %e, "notifying peers failed");
        }
    });
}

// ---- staff API -----------------------------------------------------------------------------------------------------

/// `POST /api/exchange/agency`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgencyInit {
    /// Agency name, e.g. `KNPA`.
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Public base URL partners reach this server at (its federation endpoints).
    pub endpoint: Option<String>,
}

/// This node's agency.
#[utoipa::path(get, path = "/api/exchange/agency", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "Agency"), (status = 409, body = crate::error::ErrorBody)))]
pub async fn get_agency(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Agency>, ApiError> {
    staff.require(Permission::Cooperate)?;
    Ok(Json(service(&state)?.node().await?.me.clone()))
}

/// Creates this node's identity: a fresh Ed25519 key (once).
#[utoipa::path(post, path = "/api/exchange/agency", tag = "exchange", security(("bearer" = [])), request_body = AgencyInit,
    responses((status = 201, body = Object, description = "Agency"), (status = 409, body = crate::error::ErrorBody)))]
pub async fn init_agency(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<AgencyInit>,
) -> Result<(StatusCode, Json<Agency>), ApiError> {
    staff.require(Permission::ManageAgreements)?;
    let service = service(&state)?;
    if service.store().identity().await?.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this node already has an agency identity",
        ));
    }
    let agency = jikimi_federation::create_identity(
        service.store().as_ref(),
        body.name,
        &body.country,
        body.endpoint,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(agency)))
}

/// Partner agencies.
#[utoipa::path(get, path = "/api/exchange/peers", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "Agency list")))]
pub async fn list_peers(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<Agency>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    Ok(Json(service(&state)?.store().peers().await?))
}

/// `POST /api/exchange/peers`: a full agency, or just an endpoint to fetch it from (pinned by `id` if given).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PeerAdd {
    /// Key id (64 hex digits); required without `endpoint`, a pin with it.
    pub id: Option<String>,
    /// Name (when not fetched).
    pub name: Option<String>,
    /// Country (when not fetched).
    pub country: Option<String>,
    /// The peer's base URL.
    pub endpoint: Option<String>,
}

/// A partner's endpoint is an absolute `http://` or `https://` URL with a host: anything else is the caller's
/// mistake (422), found before any connection is tried.
fn check_endpoint(url: &str) -> Result<(), ApiError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(ApiError::new(
            ErrorCode::InvalidField,
            "endpoint: an http:// or https:// URL with a host",
        )),
    }
}

/// Adds or updates a peer.
#[utoipa::path(post, path = "/api/exchange/peers", tag = "exchange", security(("bearer" = [])), request_body = PeerAdd,
    responses((status = 200, body = Object, description = "Agency"), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: the endpoint, or what it answered")))]
pub async fn add_peer(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<PeerAdd>,
) -> Result<Json<Agency>, ApiError> {
    staff.require(Permission::ManageAgreements)?;
    if let Some(url) = &body.endpoint {
        check_endpoint(url)?;
    }
    let agency =
        match (&body.endpoint, &body.name) {
            (Some(url), None) => {
                let mut a =
                    jikimi_federation::transport::fetch_agency(url, service(&state)?.transport())
                        .await?;
                if let Some(pin) = &body.id
                    && AgencyId::parse(pin)? != a.id
                {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "the endpoint's key does not match id",
                    ));
                }
                a.endpoint = Some(url.clone());
                a
            }
            _ => Agency {
                id: AgencyId::parse(body.id.as_deref().ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidField, "give id or endpoint")
                })?)?,
                name: body.name.unwrap_or_else(|| "peer".into()),
                country: body.country.unwrap_or_default().to_ascii_uppercase(),
                endpoint: body.endpoint,
            },
        };
    service(&state)?.store().upsert_peer(&agency).await?;
    Ok(Json(agency))
}

/// Agreements this node holds.
#[utoipa::path(get, path = "/api/exchange/agreements", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "Agreement list")))]
pub async fn list_agreements(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<Agreement>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    Ok(Json(service(&state)?.store().agreements().await?))
}

/// Stores an agreement (the same text on each party's node); this node must be a party.
#[utoipa::path(post, path = "/api/exchange/agreements", tag = "exchange", security(("bearer" = [])),
    request_body(content = Object, description = "Agreement"),
    responses((status = 200, body = Object, description = "Agreement"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_agreement(
    State(state): State<AppState>,
    staff: Staff,
    Json(agreement): Json<Agreement>,
) -> Result<Json<Agreement>, ApiError> {
    staff.require(Permission::ManageAgreements)?;
    let service = service(&state)?;
    let node = service.node().await?;
    agreement.validate()?;
    if !agreement.parties.contains(node.id()) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "this node is not a party to the agreement",
        ));
    }
    service.store().put_agreement(&agreement).await?;
    Ok(Json(agreement))
}

/// Revokes an agreement now: nothing more flows under it, in or out.
#[utoipa::path(post, path = "/api/exchange/agreements/{id}/revoke", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agreement id")),
    responses((status = 200, body = Object, description = "Agreement"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_agreement(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<Agreement>, ApiError> {
    staff.require(Permission::ManageAgreements)?;
    let service = service(&state)?;
    let mut agreement = service
        .store()
        .agreements()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RecordNotFound,
                format!("agreement {id} not found"),
            )
        })?;
    agreement.revoked_at = Some(Utc::now());
    service.store().put_agreement(&agreement).await?;
    Ok(Json(agreement))
}

/// `POST /api/exchange/cases` and `.../leads`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRecord {
    /// `scam`, `human_trafficking`, `money_laundering`, `csam`, `drugs` (cases only; a lead takes its case's).
    pub category: Option<String>,
    /// TLP 2.0, handling code, source and information grades (default TLP:AMBER, H0, B2 as the domain defines).
    #[schema(value_type = Object)]
    pub marking: Option<Marking>,
    /// Title, summary, entities (validated identifiers), events, attachments by SHA-256.
    #[schema(value_type = Object)]
    pub content: Content,
}

/// Every record held here (ours and received), in log order. Audited: records carry personal fields.
#[utoipa::path(get, path = "/api/exchange/records", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "Record list")))]
pub async fn list_records(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<Record>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let store = service(&state)?.store().clone();
    let records: Vec<Record> = store
        .records()
        .await?
        .into_iter()
        .map(|s| s.record)
        .collect();
    store
        .audit(
            "records_read",
            None,
            None,
            &format!("staff:{} read {} records", staff.username, records.len()),
        )
        .await?;
    Ok(Json(records))
}

/// Opens a case owned by this agency and tells partners to pull.
#[utoipa::path(post, path = "/api/exchange/cases", tag = "exchange", security(("bearer" = [])), request_body = NewRecord,
    responses((status = 201, body = Object, description = "Record"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_case(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<NewRecord>,
) -> Result<(StatusCode, Json<Record>), ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let category: CaseCategory = body
        .category
        .as_deref()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "category is required"))?
        .parse()?;
    let record = node
        .create_case(
            category,
            body.marking.unwrap_or_default(),
            body.content,
            Utc::now(),
        )
        .await?;
    notify_in_background(node);
    Ok((StatusCode::CREATED, Json(record)))
}

/// A case and its leads. Audited.
#[utoipa::path(get, path = "/api/exchange/cases/{id}", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Case id")),
    responses((status = 200, body = Vec<Object>, description = "Records"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_case(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Record>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let store = service(&state)?.store().clone();
    let records: Vec<Record> = store
        .case_records(id)
        .await?
        .into_iter()
        .map(|s| s.record)
        .collect();
    if records.is_empty() {
        return Err(ApiError::new(
            ErrorCode::RecordNotFound,
            format!("case {id} not found"),
        ));
    }
    store
        .audit(
            "case_read",
            None,
            Some(id),
            &format!("staff:{}", staff.username),
        )
        .await?;
    Ok(Json(records))
}

/// Adds a lead to a case (ours or a partner's); it flows back to the case's owner where agreements allow.
#[utoipa::path(post, path = "/api/exchange/cases/{id}/leads", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Case id")), request_body = NewRecord,
    responses((status = 201, body = Object, description = "Record"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn add_lead(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<NewRecord>,
) -> Result<(StatusCode, Json<Record>), ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let record = node
        .add_lead(
            id,
            body.marking.unwrap_or_default(),
            body.content,
            Utc::now(),
        )
        .await?;
    notify_in_background(node);
    Ok((StatusCode::CREATED, Json(record)))
}

/// `POST /api/exchange/records/{id}/withdraw`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Withdraw {
    /// Why (audited, sent with the withdrawal).
    pub reason: String,
}

/// Withdraws a record this agency owns: it disappears here and at every recipient, across hops.
#[utoipa::path(post, path = "/api/exchange/records/{id}/withdraw", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Record id")), request_body = Withdraw,
    responses((status = 200, body = Object, description = "The withdrawal record"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<Withdraw>,
) -> Result<Json<Record>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let record = node.withdraw(id, &body.reason, Utc::now()).await?;
    notify_in_background(node);
    Ok(Json(record))
}

/// `POST /api/exchange/records/{id}/restrict`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Restrict {
    /// Field classes to remove everywhere (`person`, `phone`, ...).
    #[schema(value_type = Vec<String>)]
    pub remove_fields: BTreeSet<FieldClass>,
    /// Marks to tighten to (combined with the record's: the most restrictive wins).
    #[schema(value_type = Object)]
    pub marking: Marking,
}

/// Narrows a record this agency owns, at every recipient.
#[utoipa::path(post, path = "/api/exchange/records/{id}/restrict", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Record id")), request_body = Restrict,
    responses((status = 200, body = Object, description = "The restriction record"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn restrict(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<Restrict>,
) -> Result<Json<Record>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let record = node
        .restrict(id, body.remove_fields, body.marking, Utc::now())
        .await?;
    notify_in_background(node);
    Ok(Json(record))
}

/// A case as a STIX 2.1 bundle (identities, indicators, observed data, relationships). Audited.
#[utoipa::path(get, path = "/api/exchange/cases/{id}/stix", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Case id")),
    responses((status = 200, body = Object, description = "STIX 2.1 bundle"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn export_stix(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<serde_json::Value>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let bundle = node.export_stix(id, Utc::now()).await?;
    node.store
        .audit(
            "stix_export",
            None,
            Some(id),
            &format!("staff:{}", staff.username),
        )
        .await?;
    Ok(Json(
        serde_json::to_value(bundle).map_err(ApiError::internal)?,
    ))
}

/// The case and its leads for court, refused (and audited) when a record's handling code (H1: not for court without
/// the provider's permission) forbids it.
#[utoipa::path(get, path = "/api/exchange/cases/{id}/court-bundle", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Case id")),
    responses((status = 200, body = Vec<Object>, description = "Records"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn court_bundle(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Record>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    Ok(Json(node.court_bundle(id).await?))
}

/// Result of one peer's sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerSync {
    /// Peer name.
    pub peer: String,
    /// Pages, envelopes, applied, duplicates, rejected, bytes; absent on failure.
    #[schema(value_type = Object)]
    pub stats: Option<SyncStats>,
    /// Why the sync failed, if it did.
    pub error: Option<String>,
}

/// Pulls now from every peer with an endpoint.
#[utoipa::path(post, path = "/api/exchange/sync", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Vec<PeerSync>)))]
pub async fn sync(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<PeerSync>>, ApiError> {
    staff.require(Permission::Cooperate)?;
    let node = service(&state)?.node().await?;
    let results = detached(async move { node.sync_all().await }).await?;
    Ok(Json(
        results
            .into_iter()
            .map(|(peer, r)| match r {
                Ok(stats) => PeerSync {
                    peer: peer.name,
                    stats: Some(stats),
                    error: None,
                },
                Err(e) => PeerSync {
                    peer: peer.name,
                    stats: None,
                    error: Some(e.to_string()),
                },
            })
            .collect(),
    ))
}
