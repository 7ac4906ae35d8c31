//! Joint operations in the staff API (`/api/operations*`), over the node's `jikimi_federation::operation`: liaison
//! officers (supervisors, [`Permission::JointOperations`]) open an operation with partner agencies, add this agency's
//! tasks, targets and log entries, state its tasks' status, consent to (or refuse) tasks in its jurisdiction, join,
//! leave, withdraw, and export the history for court. Every change is checked by the sovereignty rules, signed,
//! kept and audited by the node, then pushed to the participants in the background by the node's per-participant
//! pushers (batched); every read is audited (targets and log entries may name persons).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jikimi_exchange::domain::{AgencyId, Entity, FieldClass};
use jikimi_exchange::marking::{HandlingCode, Marking, Tlp};
use jikimi_exchange::operation::rules::OperationView;
use jikimi_exchange::operation::{
    Change, CourtBundle, OpEvent, Part, Participant, Role, TaskKind, TaskStatus, check_text,
    entity_part,
};
use jikimi_exchange::protocol::Signed;
use jikimi_federation::Node;
use jikimi_federation::operation::{HeldOperation, NewChange, salt};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::exchange::{detached, service};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// An invited agency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Key id.
    pub agency: String,
    /// `participant` (default) or `observer`.
    pub role: Option<String>,
}

/// `POST /api/operations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperationBody {
    pub title: String,
    /// The agreements the operation runs under (ids).
    pub agreements: Vec<Uuid>,
    /// The legal basis this agency cites.
    pub legal_basis: String,
    pub participants: Vec<InviteBody>,
    pub day_of_action: Option<DateTime<Utc>>,
}

/// `POST /api/operations/{id}/events`: one change by this agency, tagged by `change`.
#[derive(Debug, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeBody {
    Task {
        kind: String,
        /// Key id, key id prefix, or country of the participating agency whose territory the task is in.
        jurisdiction: String,
        deadline: DateTime<Utc>,
        description: String,
        handling: Option<String>,
        tlp: Option<String>,
    },
    TaskStatus {
        task: Uuid,
        status: String,
    },
    Consent {
        task: Uuid,
        accept: bool,
        reason: Option<String>,
    },
    Target {
        entity: serde_json::Value,
        source_case: Option<Uuid>,
        handling: Option<String>,
        tlp: Option<String>,
    },
    Log {
        text: String,
        handling: Option<String>,
        tlp: Option<String>,
    },
    DayOfAction {
        at: Option<DateTime<Utc>>,
    },
    Invite {
        agency: String,
        role: Option<String>,
    },
    Join {
        legal_basis: String,
    },
    Leave {
        reason: String,
    },
    Withdraw {
        seq: u64,
    },
}

fn invited(agency: &str, role: Option<&str>) -> Result<Participant, ApiError> {
    let role: Role = role.unwrap_or("participant").parse()?;
    if role == Role::Lead {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "role: participant or observer (the creator leads)",
        ));
    }
    Ok(Participant {
        agency: AgencyId::parse(agency)?,
        role,
        legal_basis: "invited: states its legal basis on joining".into(),
    })
}

fn marking(handling: Option<&str>, tlp: Option<&str>) -> Result<Marking, ApiError> {
    Ok(Marking {
        handling: handling.unwrap_or("H0").parse::<HandlingCode>()?,
        tlp: tlp.unwrap_or("AMBER").parse::<Tlp>()?,
        ..Marking::default()
    })
}

fn text_part(class: FieldClass, text: &str) -> Result<BTreeMap<FieldClass, Part>, ApiError> {
    check_text("text", text)?;
    Ok(BTreeMap::from([(
        class,
        Part::new(serde_json::Value::String(text.to_owned()), salt()),
    )]))
}

async fn jurisdiction(node: &Node, spec: &str) -> Result<AgencyId, ApiError> {
    let mut all = node.store.peers().await?;
    all.push(node.me.clone());
    let found: Vec<AgencyId> = all
        .into_iter()
        .filter(|a| {
            if spec.len() == 2 {
                a.country.eq_ignore_ascii_case(spec)
            } else {
                a.id.as_str().starts_with(&spec.to_ascii_lowercase())
            }
        })
        .map(|a| a.id)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(ApiError::new(
            ErrorCode::InvalidField,
            "jurisdiction: name one agency (key id, prefix or country)",
        )),
    }
}

async fn new_change(node: &Node, body: ChangeBody) -> Result<NewChange, ApiError> {
    Ok(match body {
        ChangeBody::Task {
            kind,
            jurisdiction: j,
            deadline,
            description,
            handling,
            tlp,
        } => NewChange {
            change: Change::Task {
                task: Uuid::now_v7(),
                kind: kind.parse::<TaskKind>()?,
                jurisdiction: jurisdiction(node, &j).await?,
                deadline,
            },
            parts: text_part(FieldClass::Summary, &description)?,
            marking: marking(handling.as_deref(), tlp.as_deref())?,
        },
        ChangeBody::TaskStatus { task, status } => NewChange::plain(Change::TaskStatus {
            task,
            status: status.parse::<TaskStatus>()?,
        }),
        ChangeBody::Consent {
            task,
            accept,
            reason,
        } => NewChange::plain(Change::Consent {
            task,
            accept,
            reason: reason.unwrap_or_default(),
        }),
        ChangeBody::Target {
            entity,
            source_case,
            handling,
            tlp,
        } => {
            let kind = entity
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("entity")
                .to_owned();
            let entity: Entity = serde_json::from_value(entity)
                .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("entity: {e}")))?;
            let (class, part) = entity_part(&entity, salt())?;
            NewChange {
                change: Change::Target {
                    target: entity.id(),
                    kind,
                    source_case,
                },
                parts: BTreeMap::from([(class, part)]),
                marking: marking(handling.as_deref(), tlp.as_deref())?,
            }
        }
        ChangeBody::Log {
            text,
            handling,
            tlp,
        } => NewChange {
            change: Change::Log {
                entry: Uuid::now_v7(),
            },
            parts: text_part(FieldClass::Event, &text)?,
            marking: marking(handling.as_deref(), tlp.as_deref())?,
        },
        ChangeBody::DayOfAction { at } => NewChange::plain(Change::DayOfAction { day: at }),
        ChangeBody::Invite { agency, role } => NewChange::plain(Change::Invite {
            participant: invited(&agency, role.as_deref())?,
        }),
        ChangeBody::Join { legal_basis } => NewChange::plain(Change::Join { legal_basis }),
        ChangeBody::Leave { reason } => NewChange::plain(Change::Leave { reason }),
        ChangeBody::Withdraw { seq } => NewChange::plain(Change::Withdraw { event: seq }),
    })
}

/// Wakes the node's pushers: each participant gets the change in the next batch its pusher sends (at once when it
/// was idle; coalesced with the changes around it under load). The response does not wait for it.
fn push_in_background(node: std::sync::Arc<Node>) {
    tokio::spawn(async move {
        if let Err(e) = node.wake_pushers().await {
            tracing::warn!(error = %e, "operation push not started");
        }
    });
}

/// Opens an operation led by this agency, under agreements each invited agency is party to; pushed to them.
#[utoipa::path(post, path = "/api/operations", tag = "operations", security(("bearer" = [])), request_body = NewOperationBody,
    responses((status = 201, body = Object, description = "HeldOperation: view and signed events"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, or an invitee party to none of the agreements"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found: an agreement"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: title, legal basis, participants")))]
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<NewOperationBody>,
) -> Result<(StatusCode, Json<HeldOperation>), ApiError> {
    staff.require(Permission::JointOperations)?;
    check_text("title", &body.title)?;
    check_text("legal_basis", &body.legal_basis)?;
    let participants = body
        .participants
        .iter()
        .map(|p| invited(&p.agency, p.role.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let node = service(&state)?.node().await?;
    let by = staff.username.clone();
    let work = node.clone();
    let held = detached(async move {
        let held = work
            .operation_create(
                body.title,
                body.agreements.into_iter().collect::<BTreeSet<_>>(),
                body.legal_basis,
                participants,
                body.day_of_action,
                Utc::now(),
            )
            .await?;
        work.store
            .audit(
                "operation_created",
                None,
                Some(held.view.id),
                &format!("staff:{by}"),
            )
            .await?;
        Ok::<_, jikimi_exchange::Error>(held)
    })
    .await?;
    push_in_background(node);
    Ok((StatusCode::CREATED, Json(held)))
}

/// The operations this agency takes part in (views), newest first. Audited.
#[utoipa::path(get, path = "/api/operations", tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "OperationView list"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised")))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<OperationView>>, ApiError> {
    staff.require(Permission::JointOperations)?;
    let node = service(&state)?.node().await?;
    let views = node.operations().await?;
    node.store
        .audit(
            "operation_read",
            None,
            None,
            &format!("staff:{} listed {} operations", staff.username, views.len()),
        )
        .await?;
    Ok(Json(views))
}

/// One operation: its view (participants, tasks with consent, targets, log, day of action) and every signed event
/// held here. Audited.
#[utoipa::path(get, path = "/api/operations/{id}", tag = "operations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Operation id")),
    responses((status = 200, body = Object, description = "HeldOperation"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_path"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised")))]
pub async fn get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<HeldOperation>, ApiError> {
    staff.require(Permission::JointOperations)?;
    let node = service(&state)?.node().await?;
    let held = node.operation(id).await?;
    node.store
        .audit(
            "operation_read",
            None,
            Some(id),
            &format!("staff:{}", staff.username),
        )
        .await?;
    Ok(Json(held))
}

/// One change by this agency (`change`: task, task_status, consent, target, log, day_of_action, invite, join, leave,
/// withdraw), checked by the sovereignty rules every participant runs (its own tasks and entries only; consent only
/// for tasks in its jurisdiction; lead-only changes), signed, kept, audited and pushed to the participants.
#[utoipa::path(post, path = "/api/operations/{id}/events", tag = "operations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Operation id")),
    request_body(content = Object, description = "{\"change\": \"task\", \"kind\": \"arrest\", \"jurisdiction\": \"KH\", \"deadline\": ..., \"description\": ...} and the other changes"),
    responses((status = 201, body = Object, description = "OpEvent: the signed event"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, or a sovereignty rule (another agency's task, consent for another jurisdiction, lead only, left)"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found: the operation"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: kind, status, jurisdiction, text, entity, or not yet possible")))]
pub async fn change(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<ChangeBody>,
) -> Result<(StatusCode, Json<OpEvent>), ApiError> {
    staff.require(Permission::JointOperations)?;
    let node = service(&state)?.node().await?;
    let new = new_change(&node, body).await?;
    let by = staff.username.clone();
    let work = node.clone();
    // The staff audit entry goes in the event's own transaction: one commit per change.
    let event = detached(async move {
        work.operation_change_as(id, new, Utc::now(), &format!("staff:{by}"))
            .await
    })
    .await?;
    push_in_background(node);
    Ok((StatusCode::CREATED, Json(event)))
}

/// The operation's full history as a bundle for court, signed by this agency: every event with its origin's
/// signature, except those whose handling code forbids court use (listed under `refused`). Audited.
#[utoipa::path(get, path = "/api/operations/{id}/export", tag = "operations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Operation id")),
    responses((status = 200, body = Object, description = "Signed<CourtBundle>"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_path"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised")))]
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<Signed<CourtBundle>>, ApiError> {
    staff.require(Permission::JointOperations)?;
    let node = service(&state)?.node().await?;
    let by = staff.username.clone();
    let bundle = detached(async move {
        let bundle = node.operation_export(id, Utc::now()).await?;
        node.store
            .audit(
                "operation_export_requested",
                None,
                Some(id),
                &format!("staff:{by}"),
            )
            .await?;
        Ok::<_, jikimi_exchange::Error>(bundle)
    })
    .await?;
    Ok(Json(bundle))
}
