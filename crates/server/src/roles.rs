//! Staff roles and what each may do. One table, checked by every handler through [`Permission`].
//!
//! | permission | dispatcher | supervisor | analyst | admin | border officer |
//! |---|---|---|---|---|---|
//! | read incidents and units (no personal data) | yes | yes | yes | yes | no |
//! | change incidents, report unit positions and status | yes | yes | no | no | no |
//! | reveal a subscriber's decrypted details (with a reason) | yes | yes | no | no | no |
//! | issue one-time device enrolment codes | yes | yes | no | yes | no |
//! | register, export and erase subscribers | no | yes | no | yes | no |
//! | read the audit log | no | yes | no | yes | no |
//! | create patrol units | no | yes | no | yes | no |
//! | manage staff accounts | no | no | no | yes | no |
//! | run entity linkage, confirm or reject links | no | yes | yes | no | no |
//! | check a traveller against the border watchlist | no | no | no | no | yes |
//! | read and share cooperation cases and leads, sync with partners | no | yes | no | yes | no |
//! | agency identity, peers and agreements | no | no | no | yes | no |
//! | request freezes and confiscations, read requests in and out | no | yes | yes | no | no |
//! | record the status of a freeze request sent to this agency | no | yes | no | no | no |
//! | issue a public warning (CAP, Atom feed) | no | yes | no | no | no |
//! | identify: look up and hash media, add bank content, review matches | no | yes | yes | no | no |
//! | identify: create banks, disable and enable content | no | yes | no | no | no |
//! | take part in joint operations with partner agencies (liaison) | no | yes | no | no | no |
//! | close and reopen roads (closures honoured by road ETAs) | yes | yes | no | no | no |
//! | declare and close a disaster (welfare check) | no | yes | no | yes | no |
//!
//! Analysts never get personal data: incident and unit views carry ids, never names or phone numbers, and entity
//! links carry entity ids and per-field evidence levels, never the compared values. Freeze requests are the one
//! exception, by design: the analyst who traced the money names the account to freeze; every read is audited.
//! The border watchlist is its own duty: only border officers check travellers (each check audited), and
//! nobody else reads the list through the API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A staff member's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Handles alerts: acknowledges, dispatches, reveals subscriber details for an open incident.
    Dispatcher,
    /// A dispatcher who also manages subscribers and reads the audit log.
    Supervisor,
    /// Reads incidents and units for analysis; never personal data.
    Analyst,
    /// Manages staff and subscribers; reads the audit log.
    Admin,
    /// Checks travellers at the border against the watchlist; nothing else.
    BorderOfficer,
}

impl Role {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::BorderOfficer => "border_officer",
        }
    }

    /// Parses the wire string.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "dispatcher" => Some(Role::Dispatcher),
            "supervisor" => Some(Role::Supervisor),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            "border_officer" => Some(Role::BorderOfficer),
            _ => None,
        }
    }

    /// Every permission this role holds, in [`Permission::ALL`] order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.may(*p))
            .collect()
    }

    /// Whether this role holds `permission` (the table in the module header).
    pub fn may(self, permission: Permission) -> bool {
        use Permission as P;
        use Role as R;
        match permission {
            P::ReadOperations => !matches!(self, R::BorderOfficer),
            P::ChangeOperations | P::RevealPersonalData | P::CloseRoads => {
                matches!(self, R::Dispatcher | R::Supervisor)
            }
            P::ManageSubscribers | P::ReadAudit | P::ManageUnits => {
                matches!(self, R::Supervisor | R::Admin)
            }
            P::ManageStaff => matches!(self, R::Admin),
            P::IssueEnrolmentCodes => matches!(self, R::Dispatcher | R::Supervisor | R::Admin),
            P::LinkEntities => matches!(self, R::Analyst | R::Supervisor),
            P::TraceFunds => matches!(self, R::Analyst | R::Supervisor),
            P::CheckWatchlist => matches!(self, R::BorderOfficer),
            P::Cooperate => matches!(self, R::Supervisor | R::Admin),
            P::ManageAgreements => matches!(self, R::Admin),
            P::RequestFreeze => matches!(self, R::Analyst | R::Supervisor),
            P::DecideFreeze => matches!(self, R::Supervisor),
            P::IssueWarnings => matches!(self, R::Supervisor),
            P::Identify => matches!(self, R::Analyst | R::Supervisor),
            P::ManageBanks => matches!(self, R::Supervisor),
            // Targets name persons (so not analysts), and every change commits this agency abroad (so not the
            // administrator, who manages agreements but not operations).
            P::JointOperations => matches!(self, R::Supervisor),
            P::DeclareDisasters => matches!(self, R::Supervisor | R::Admin),
        }
    }
}

/// What an endpoint needs. `GET /api/auth/me` lists the caller's, so the console asks instead of keeping its own
/// copy of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// List and read incidents and units.
    ReadOperations,
    /// Change incident state, report unit positions and status.
    ChangeOperations,
    /// Decrypt a subscriber's personal data (audited, reason required).
    RevealPersonalData,
    /// Register, export, erase subscribers.
    ManageSubscribers,
    /// Read the audit log.
    ReadAudit,
    /// Create staff accounts.
    ManageStaff,
    /// Create and remove patrol units.
    ManageUnits,
    /// Issue a one-time code with which a subscriber's phone enrols itself (the registrar's desk).
    IssueEnrolmentCodes,
    /// Run linkage over shared cases; confirm or reject links (audited).
    LinkEntities,
    /// Check a traveller against the border watchlist (audited).
    CheckWatchlist,
    /// Read and share cooperation cases and leads (they hold personal fields), sync with partners.
    Cooperate,
    /// This node's agency identity, its peers and its agreements.
    ManageAgreements,
    /// Attach transfers to cases, trace money and read the flows and endpoints (audited).
    TraceFunds,
    /// Ask a partner agency to freeze or confiscate funds on a traced account; read the requests in and out.
    RequestFreeze,
    /// Record the status of a freeze request a partner sent to this agency (frozen, refused, released).
    DecideFreeze,
    /// Issue a public warning (published as a CAP alert in the Atom feed).
    IssueWarnings,
    /// Look up photos, videos and signals against the hash banks, add content, review matches (audited).
    Identify,
    /// Create hash banks; disable and re-enable their content (audited).
    ManageBanks,
    /// Create, read and change joint operations with partner agencies; consent to tasks in this agency's
    /// jurisdiction; export an operation for court (every read audited).
    JointOperations,
    /// Close road segments or areas and reopen them (road ETAs and recommendations honour closures).
    CloseRoads,
    /// Declare and close a disaster, which asks everyone in its area whether they are safe.
    DeclareDisasters,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 21] = [
        Permission::ReadOperations,
        Permission::ChangeOperations,
        Permission::RevealPersonalData,
        Permission::ManageSubscribers,
        Permission::ReadAudit,
        Permission::ManageStaff,
        Permission::ManageUnits,
        Permission::IssueEnrolmentCodes,
        Permission::LinkEntities,
        Permission::CheckWatchlist,
        Permission::Cooperate,
        Permission::ManageAgreements,
        Permission::TraceFunds,
        Permission::RequestFreeze,
        Permission::DecideFreeze,
        Permission::IssueWarnings,
        Permission::Identify,
        Permission::ManageBanks,
        Permission::JointOperations,
        Permission::CloseRoads,
        Permission::DeclareDisasters,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysts_never_reach_personal_data() {
        assert!(!Role::Analyst.may(Permission::RevealPersonalData));
        assert!(!Role::Analyst.may(Permission::ManageSubscribers));
        assert!(!Role::Analyst.may(Permission::ChangeOperations));
        assert!(Role::Analyst.may(Permission::ReadOperations));
        for role in [
            Role::Dispatcher,
            Role::Supervisor,
            Role::Analyst,
            Role::Admin,
            Role::BorderOfficer,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                role.may(Permission::CheckWatchlist),
                role == Role::BorderOfficer
            );
        }
        assert!(!Role::BorderOfficer.may(Permission::ReadOperations));
        assert!(!Role::BorderOfficer.may(Permission::LinkEntities));
    }
}
