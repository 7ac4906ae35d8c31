//! `jikimi freeze request|status|list` (on the same database `jikimi serve` uses, through the node, so a request
//! made here is delivered and audited exactly as one made through the API) and the freeze terms of
//! `agreement create`. Output is one line per request, or JSON with `--json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use uuid::Uuid;

use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::freeze::{
    AccountRef, Amount, Direction, Evidence, FreezeKind, FreezeState, FreezeTerms, HeldRequest,
};
use jikimi_exchange::{Error, Result};

use crate::cli::{io_err, print_json, print_line};
use crate::freeze::NewFreeze;
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum FreezeCmd {
    /// Ask the agency with jurisdiction over an account to freeze (or confiscate) an amount.
    Request {
        /// The account: `iban=DE89...`, `account=KR:110-123-456789`, or `wallet=0x...@exchange:CC`.
        #[arg(long)]
        account: String,
        /// The amount in the currency's smallest unit (exact integer), e.g. 150000 for 1,500.00 EUR.
        #[arg(long = "amount-minor")]
        amount_minor: u128,
        /// ISO 4217 code or crypto ticker.
        #[arg(long)]
        currency: String,
        /// Decimals of the currency's smallest unit.
        #[arg(long, default_value_t = 2)]
        decimals: u8,
        /// The requesting case (held here).
        #[arg(long)]
        case: Uuid,
        /// Deadline (RFC 3339).
        #[arg(long)]
        deadline: DateTime<Utc>,
        /// The trace summary JSON file (the evidence; its SHA-256 is signed with the request).
        #[arg(long)]
        evidence: PathBuf,
        /// freeze or confiscation.
        #[arg(long, default_value = "freeze")]
        kind: String,
        /// Print the request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record the status of a request sent to us: frozen (with an amount), refused or released (with a reason).
    Status {
        /// The request's id.
        id: Uuid,
        /// frozen, refused or released (received is recorded on arrival).
        #[arg(long)]
        state: String,
        /// Frozen amount in minor units.
        #[arg(long = "amount-minor")]
        amount_minor: Option<u128>,
        /// Currency of the frozen amount (default: the request's).
        #[arg(long)]
        currency: Option<String>,
        /// Decimals of the frozen amount (default: the request's).
        #[arg(long)]
        decimals: Option<u8>,
        /// Why (refused, released).
        #[arg(long)]
        reason: Option<String>,
        /// Print the request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List requests held here with their latest status.
    List {
        /// incoming or outgoing (default both).
        #[arg(long)]
        direction: Option<String>,
        /// Print JSON (with every signed status).
        #[arg(long)]
        json: bool,
    },
}

/// The freeze terms `agreement create` was given (none without a legal basis).
pub(crate) fn terms_from_args(
    legal_basis: Option<String>,
    kinds: &[String],
    jurisdictions: &[String],
) -> Result<Option<FreezeTerms>> {
    let Some(legal_basis) = legal_basis.filter(|b| !b.trim().is_empty()) else {
        if !kinds.is_empty() || !jurisdictions.is_empty() {
            return Err(Error::invalid(
                "agreement",
                "freeze kinds and jurisdictions need --freeze-legal-basis",
            ));
        }
        return Ok(None);
    };
    let kinds: BTreeSet<FreezeKind> = if kinds.is_empty() {
        BTreeSet::from([FreezeKind::Freeze, FreezeKind::Confiscation])
    } else {
        kinds.iter().map(|k| k.parse()).collect::<Result<_>>()?
    };
    let mut map = BTreeMap::new();
    for j in jurisdictions {
        let (key, agency) = j
            .split_once('=')
            .ok_or_else(|| Error::invalid("freeze jurisdiction", "expected KEY=AGENCY-KEY-ID"))?;
        let key = key.trim();
        let key = if key.len() == 2 {
            key.to_ascii_uppercase()
        } else {
            key.to_ascii_lowercase()
        };
        map.insert(key, AgencyId::parse(agency)?);
    }
    Ok(Some(FreezeTerms {
        legal_basis,
        kinds,
        jurisdictions: map,
    }))
}

/// Runs one `freeze` subcommand on the node.
pub(crate) async fn run(node: &Node, cmd: FreezeCmd) -> Result<()> {
    let now = Utc::now();
    match cmd {
        FreezeCmd::Request {
            account,
            amount_minor,
            currency,
            decimals,
            case,
            deadline,
            evidence,
            kind,
            json,
        } => {
            let text = std::fs::read_to_string(&evidence).map_err(io_err(&evidence))?;
            let summary: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::invalid("evidence", e.to_string()))?;
            let held = node
                .request_freeze(
                    NewFreeze {
                        kind: kind.parse()?,
                        account: AccountRef::parse_spec(&account)?,
                        amount: Amount {
                            minor_units: amount_minor,
                            currency: currency.to_ascii_uppercase(),
                            decimals,
                        },
                        evidence: Evidence::from_summary(summary, None)?,
                        case_id: case,
                        deadline,
                    },
                    now,
                )
                .await?;
            show(&[held], json)
        }
        FreezeCmd::Status {
            id,
            state,
            amount_minor,
            currency,
            decimals,
            reason,
            json,
        } => {
            let held = node.held_freeze(id).await?;
            let need_reason = || {
                reason
                    .clone()
                    .ok_or_else(|| Error::invalid("reason", "give --reason"))
            };
            let state = match state.as_str() {
                "frozen" => {
                    let asked = &held.request.body.amount;
                    FreezeState::Frozen {
                        amount: Amount {
                            minor_units: amount_minor
                                .ok_or_else(|| Error::invalid("amount", "give --amount-minor"))?,
                            currency: currency
                                .map(|c| c.to_ascii_uppercase())
                                .unwrap_or_else(|| asked.currency.clone()),
                            decimals: decimals.unwrap_or(asked.decimals),
                        },
                    }
                }
                "refused" => FreezeState::Refused {
                    reason: need_reason()?,
                },
                "released" => FreezeState::Released {
                    reason: need_reason()?,
                },
                _ => {
                    return Err(Error::invalid(
                        "state",
                        "expected frozen, refused or released",
                    ));
                }
            };
            let held = node.record_freeze_status(id, state, now).await?;
            show(&[held], json)
        }
        FreezeCmd::List { direction, json } => {
            let direction = direction
                .map(|d| {
                    Direction::parse(&d)
                        .ok_or_else(|| Error::invalid("direction", "expected incoming or outgoing"))
                })
                .transpose()?;
            let held = node.freeze_list(direction).await?;
            node.store
                .audit(
                    "freeze_read",
                    None,
                    None,
                    &format!("cli listed {} freeze requests", held.len()),
                )
                .await?;
            show(&held, json)
        }
    }
}

fn show(held: &[HeldRequest], json: bool) -> Result<()> {
    if json {
        return if held.len() == 1 {
            print_json(&held[0])
        } else {
            print_json(&held)
        };
    }
    for h in held {
        let r = &h.request.body;
        let peer = match h.direction {
            Direction::Outgoing => &r.recipient,
            Direction::Incoming => &r.requester,
        };
        print_line(&format!(
            "{}  {:<8}  {:<12}  {:<8}  {} {} (10^-{})  peer {}  deadline {}",
            r.id,
            h.direction.as_str(),
            format!("{:?}", r.kind).to_ascii_lowercase(),
            h.state().map_or("pending", |s| s.name()),
            r.amount.minor_units,
            r.amount.currency,
            r.amount.decimals,
            peer.short(),
            r.deadline.to_rfc3339(),
        ))?;
    }
    Ok(())
}
