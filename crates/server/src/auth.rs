//! Staff authentication: login with an argon2-checked password, bearer session tokens that expire, and the
//! [`Staff`] extractor every staff endpoint takes to learn who is calling and check their role.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use jikimi_audit::NewAuditEntry;
use jikimi_respond::Actor;
use jikimi_store::{Change, SessionRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::rfc3339;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::password;
use crate::roles::{Permission, Role};
use crate::state::AppState;

/// The authenticated staff member of a request.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Login name.
    pub username: String,
    /// The account's current role (read with the session, not remembered from login: at most
    /// [`crate::sessions::FRESH`] old, and changes made through this node count at once).
    pub role: Role,
    /// SHA-256 of the bearer token: names this session (logout ends it; the live feed re-checks it).
    pub session: [u8; 32],
}

impl Staff {
    /// Refuses with `forbidden` unless the role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.may(permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "role {} may not do this ({permission:?})",
                    self.role.as_str()
                ),
            ))
        }
    }

    /// This staff member as the actor of a change.
    pub fn actor(&self) -> Actor {
        Actor::Staff(self.username.clone())
    }

    /// A store change by this staff member now.
    pub fn change(&self, state: &AppState, reason: impl Into<String>) -> Change {
        Change::new(self.actor(), state.now(), reason)
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110 section 11.1).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "missing bearer token; log in first",
            )
        })?;
        let hash = password::token_hash(token);
        let hash: [u8; 32] = hash.as_slice().try_into().map_err(ApiError::internal)?;
        Staff::check(state, hash).await
    }
}

impl Staff {
    /// The session `hash` as confirmed within [`crate::sessions::FRESH`] ([`crate::sessions`]), else as it stands
    /// now ([`Staff::current`]). An expired session is refused either way.
    pub async fn check(state: &AppState, hash: [u8; 32]) -> Result<Staff, ApiError> {
        let now_ms = state.now().as_unix_ms();
        if let Some((username, role)) = state.sessions.get(&hash, now_ms) {
            return Ok(Staff {
                username,
                role,
                session: hash,
            });
        }
        Staff::current(state, hash).await
    }

    /// The session `hash` as it stands now: the store reads the session together with its account, so the role is
    /// the current one and a disabled account, an ended or an expired session is `unauthenticated`.
    pub async fn current(state: &AppState, hash: [u8; 32]) -> Result<Staff, ApiError> {
        let generation = state.sessions.generation();
        // Not found (unknown, ended, expired, disabled account) answers `unauthenticated`.
        let session = state.store.get_session(&hash, state.now()).await?;
        let role = session.role.into();
        state.sessions.put(
            generation,
            hash,
            &session.username,
            role,
            session.expires_at.as_unix_ms(),
        );
        Ok(Staff {
            username: session.username,
            role,
            session: hash,
        })
    }
}

impl From<jikimi_store::Role> for Role {
    fn from(role: jikimi_store::Role) -> Self {
        match role {
            jikimi_store::Role::Dispatcher => Role::Dispatcher,
            jikimi_store::Role::Supervisor => Role::Supervisor,
            jikimi_store::Role::Analyst => Role::Analyst,
            jikimi_store::Role::Admin => Role::Admin,
            jikimi_store::Role::BorderOfficer => Role::BorderOfficer,
        }
    }
}

impl From<Role> for jikimi_store::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Dispatcher => jikimi_store::Role::Dispatcher,
            Role::Supervisor => jikimi_store::Role::Supervisor,
            Role::Analyst => jikimi_store::Role::Analyst,
            Role::Admin => jikimi_store::Role::Admin,
            Role::BorderOfficer => jikimi_store::Role::BorderOfficer,
        }
    }
}

/// `POST /api/auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A new session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the `Authorization` header.
    pub token: String,
    /// The staff member's role.
    pub role: Role,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
}

// An argon2 hash of a random password: checking against it when the user is unknown makes an unknown name cost as
// much time as a wrong password, so timing does not reveal which names exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Log in; returns a bearer token.
#[utoipa::path(post, path = "/api/auth/login", tag = "staff", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody, description = "login_failed"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited: too many logins from this source or in all (Retry-After)")))]
pub async fn login(
    State(state): State<AppState>,
    source: crate::flood::Source,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let user = match state.store.get_staff(&req.username).await {
        Ok(user) => Some(user),
        Err(err) if err.is_not_found() => None,
        Err(err) => return Err(err.into()),
    };
    let phc = match &user {
        Some(user) if !user.disabled => user.password_hash.clone(),
        _ => DUMMY_HASH
            .get_or_init(|| {
                password::hash_password(&password::generate_password()).unwrap_or_default()
            })
            .clone(),
    };
    // Within the argon2 slots: a login flood queues here and never takes the slot kept for duress PINs.
    let ok =
        password::verify_bounded(&state, password::Priority::Normal, req.password, phc).await?;
    let now = state.now();
    let user = match user {
        Some(user) if ok && !user.disabled => user,
        _ => {
            // The typed name is not written: it may be a password typed into the wrong field, or someone's
            // personal name. A keyed digest still lets an auditor see repeated failures against one name (and
            // check a name they know), without the log holding it.
            let digest = state.blind.digest("staff-login", &req.username);
            let subject = format!("staff/blind:{}", hex::encode(&digest.0[..16]));
            crate::flood::audit_refusal(
                &state,
                "staff.login_failed",
                source,
                ErrorCode::LoginFailed,
                |pseudonym| {
                    NewAuditEntry::new(
                        now.as_unix_ms(),
                        "anonymous",
                        "staff.login_failed",
                        subject,
                        "wrong username or password",
                    )
                    .with_detail(&serde_json::json!({ "source": pseudonym }))
                },
            )
            .await?;
            return Err(ApiError::new(
                ErrorCode::LoginFailed,
                "wrong username or password",
            ));
        }
    };
    let token = password::new_session_token();
    let hash: [u8; 32] = password::token_hash(&token)
        .as_slice()
        .try_into()
        .map_err(ApiError::internal)?;
    let expires_at = jikimi_respond::Timestamp::from_unix_ms(
        now.as_unix_ms() + state.config.session_ttl_s * 1000,
    );
    let session = SessionRecord {
        token_hash: hash,
        username: user.username.clone(),
        role: user.role,
        created_at: now,
        expires_at,
    };
    let change = Change::new(Actor::Staff(user.username.clone()), now, "login");
    state.store.create_session(&session, &change).await?;
    Ok(Json(LoginResponse {
        token,
        role: user.role.into(),
        expires_at: rfc3339(expires_at),
    }))
}

/// Log out: the token stops working.
#[utoipa::path(post, path = "/api/auth/logout", tag = "staff", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<axum::http::StatusCode, ApiError> {
    // The session the extractor authenticated, so whatever spelling of the header got in, this one is ended.
    let ended = state
        .store
        .delete_session(&staff.session, &staff.change(&state, "logout"))
        .await;
    state.sessions.forget(&staff.session);
    match ended {
        Ok(()) => Ok(axum::http::StatusCode::NO_CONTENT),
        // Ended by a concurrent logout or an account change in the meantime: it is gone, as asked.
        Err(err) if err.is_not_found() => Ok(axum::http::StatusCode::NO_CONTENT),
        Err(err) => Err(err.into()),
    }
}

/// Who am I.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// What this role may do (the server's one role table), so clients never keep a copy of it.
    pub permissions: Vec<crate::roles::Permission>,
}

/// The calling staff member and what they may do.
#[utoipa::path(get, path = "/api/auth/me", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(staff: Staff) -> Json<WhoAmI> {
    Json(WhoAmI {
        username: staff.username,
        permissions: staff.role.permissions(),
        role: staff.role,
    })
}

/// A new staff account, checked and with its password hashed (argon2id, on the blocking pool): the one validation
/// of staff accounts, shared by `POST /api/staff` ([`create_staff_account`]) and `jikimi staff add`.
pub async fn new_staff_user(
    username: &str,
    password_text: &str,
    role: Role,
    at: jikimi_respond::Timestamp,
) -> Result<jikimi_store::StaffUser, ApiError> {
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "username: 1 to 64 characters [A-Za-z0-9._-]",
        ));
    }
    if password_text.len() < 8 {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "password: at least 8 characters",
        ));
    }
    let password_owned = password_text.to_string();
    let phc = tokio::task::spawn_blocking(move || password::hash_password(&password_owned))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(jikimi_store::StaffUser {
        username: username.to_string(),
        password_hash: phc,
        role: role.into(),
        created_at: at,
        disabled: false,
    })
}

/// Creates a staff account (used by `POST /api/staff`, the tests and the demo; `jikimi staff add` shares its
/// validation through [`new_staff_user`]).
pub async fn create_staff_account(
    state: &AppState,
    username: &str,
    password_text: &str,
    role: Role,
    change: &Change,
) -> Result<(), ApiError> {
    let user = new_staff_user(username, password_text, role, change.at).await?;
    match state.store.create_staff(&user, change).await {
        Ok(()) => Ok(()),
        Err(jikimi_store::Error::Conflict(_)) => {
            Err(ApiError::new(ErrorCode::Conflict, "username already taken"))
        }
        Err(err) => Err(err.into()),
    }
}

/// `POST /api/staff` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffRequest {
    /// Login name, `[A-Za-z0-9._-]{1,64}`.
    pub username: String,
    /// At least 8 characters.
    pub password: String,
    /// Role.
    pub role: Role,
}

/// Create a staff account (admin).
#[utoipa::path(post, path = "/api/staff", tag = "staff", security(("bearer" = [])), request_body = NewStaffRequest,
    responses((status = 201, body = WhoAmI), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: username or password")))]
pub async fn create_staff(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<NewStaffRequest>,
) -> Result<(axum::http::StatusCode, Json<WhoAmI>), ApiError> {
    staff.require(Permission::ManageStaff)?;
    create_staff_account(
        &state,
        &req.username,
        &req.password,
        req.role,
        &staff.change(&state, "create staff account"),
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(WhoAmI {
            username: req.username,
            permissions: req.role.permissions(),
            role: req.role,
        }),
    ))
}
