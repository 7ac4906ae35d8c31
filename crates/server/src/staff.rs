//! Changing a staff account (admin): new role, disabled or enabled, password reset.
//!
//! Every change ends all of the account's sessions in the same transaction as the change
//! ([`jikimi_store::Store::update_staff`]), so a token taken before a demotion, a disabling or a password reset
//! stops working at once; the open live feeds of those sessions end at their next check ([`crate::live`]). The
//! change is audited `staff.updated` (new role, disabled flag, sessions ended) with what changed as the reason;
//! the password itself is never written anywhere but as its argon2 hash.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::password;
use crate::roles::{Permission, Role};
use crate::state::AppState;

/// `PATCH /api/staff/{username}` body: at least one field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    /// New role.
    pub role: Option<Role>,
    /// Disable (true) or re-enable (false) the account.
    pub disabled: Option<bool>,
    /// New password (at least 8 characters): a reset.
    pub password: Option<String>,
}

impl std::fmt::Debug for UpdateStaffRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateStaffRequest")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A staff account as an admin sees it (never its password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffAccount {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Whether the account is disabled (its logins and sessions are refused).
    pub disabled: bool,
}

/// Change a staff account's role, disable or re-enable it, or reset its password (admin). Ends every session of
/// the account.
#[utoipa::path(patch, path = "/api/staff/{username}", tag = "staff", security(("bearer" = [])),
    params(("username" = String, Path, description = "login name")),
    request_body = UpdateStaffRequest,
    responses(
        (status = 200, body = StaffAccount, description = "changed; every session of the account has ended"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "staff_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: nothing to change, or a short password"),
    ))]
pub async fn update_staff(
    State(state): State<AppState>,
    staff: Staff,
    Path(username): Path<String>,
    Json(req): Json<UpdateStaffRequest>,
) -> Result<Json<StaffAccount>, ApiError> {
    staff.require(Permission::ManageStaff)?;
    if req.role.is_none() && req.disabled.is_none() && req.password.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "nothing to change: give role, disabled or password",
        ));
    }
    if req.password.as_ref().is_some_and(|p| p.len() < 8) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "password: at least 8 characters",
        ));
    }
    let mut user = state.store.get_staff(&username).await?;
    let mut what = Vec::new();
    if let Some(role) = req.role {
        user.role = role.into();
        what.push(format!("role {}", role.as_str()));
    }
    if let Some(disabled) = req.disabled {
        user.disabled = disabled;
        what.push(if disabled { "disabled" } else { "enabled" }.to_string());
    }
    if let Some(password_text) = req.password {
        user.password_hash =
            tokio::task::spawn_blocking(move || password::hash_password(&password_text))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        what.push("password reset".to_string());
    }
    let change = staff.change(
        &state,
        format!("staff account changed: {}", what.join(", ")),
    );
    state.store.update_staff(&user, &change).await?;
    // Its sessions may have ended (disabled, password reset) or changed role: none is trusted from memory.
    state.sessions.clear();
    Ok(Json(StaffAccount {
        username: user.username,
        role: user.role.into(),
        disabled: user.disabled,
    }))
}
