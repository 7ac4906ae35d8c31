//! `jikimi operation create|list|show|task|target|log|day|invite|join|leave|withdraw|export|push` on the database
//! `jikimi serve` uses, through the node: a change made here is checked, signed, kept, audited and pushed to the
//! participants exactly as one made through the API (what cannot be delivered now goes with the server's next sync).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use uuid::Uuid;

use jikimi_exchange::domain::{AgencyId, Entity, FieldClass};
use jikimi_exchange::marking::{HandlingCode, Marking, Tlp};
use jikimi_exchange::operation::{
    Change, Part, Participant, Role, TaskKind, TaskStatus, check_text, entity_part,
};
use jikimi_exchange::{Error, Result};

use crate::cli::{io_err, print_json, print_line};
use crate::node::Node;
use crate::operation::{HeldOperation, NewChange, salt};

#[derive(Debug, Subcommand)]
pub enum OperationCmd {
    /// Open an operation led by this agency.
    Create {
        /// The operation's title.
        #[arg(long)]
        title: String,
        /// An agreement the operation runs under (repeat).
        #[arg(long = "agreement", required = true)]
        agreements: Vec<Uuid>,
        /// The legal basis this agency cites.
        #[arg(long = "legal-basis")]
        legal_basis: String,
        /// An invited agency: `KEYID` or `KEYID=observer` (repeat).
        #[arg(long = "participant", required = true)]
        participants: Vec<String>,
        /// The coordinated day of action (RFC 3339).
        #[arg(long = "day-of-action")]
        day_of_action: Option<DateTime<Utc>>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The operations held here.
    List {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One operation: participants, tasks, targets, log (audited: it may name persons).
    Show {
        /// The operation's id.
        id: Uuid,
        /// Print the view and every signed event as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a task (`--kind`, `--jurisdiction`, `--deadline`, `--description`), state one's status (`--id`,
    /// `--status`), or accept (`--id --accept`) or refuse (`--id --refuse REASON`) one in this agency's jurisdiction.
    Task {
        /// The operation's id.
        operation: Uuid,
        /// An existing task (to state its status, accept or refuse it).
        #[arg(long)]
        id: Option<Uuid>,
        /// surveillance, search, arrest, rescue or freeze_request.
        #[arg(long)]
        kind: Option<String>,
        /// The agency (key id or prefix) or country (ISO 3166-1 alpha-2) whose territory the task is in.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// When the task is due (RFC 3339).
        #[arg(long)]
        deadline: Option<DateTime<Utc>>,
        /// What the task is.
        #[arg(long)]
        description: Option<String>,
        /// planned, in_progress, done or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Accept a task in this agency's jurisdiction (consent, audited).
        #[arg(long)]
        accept: bool,
        /// Refuse a task in this agency's jurisdiction, with the reason.
        #[arg(long)]
        refuse: Option<String>,
        #[command(flatten)]
        marks: Marks,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a target: a shared entity (`person=Name;born=...`, `phone=+82...`, `iban=...`, `wallet=...`).
    Target {
        /// The operation's id.
        operation: Uuid,
        /// The target as a shared entity, e.g. `phone=+855...`.
        #[arg(long)]
        entity: String,
        /// The shared case it comes from.
        #[arg(long)]
        case: Option<Uuid>,
        #[command(flatten)]
        marks: Marks,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a situation log entry.
    Log {
        /// The operation's id.
        operation: Uuid,
        /// The log entry.
        #[arg(long)]
        text: String,
        #[command(flatten)]
        marks: Marks,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the coordinated day of action (lead only).
    Day {
        /// The operation's id.
        operation: Uuid,
        /// The coordinated day of action (RFC 3339).
        #[arg(long)]
        at: DateTime<Utc>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Invite another agency (lead only): `KEYID` or `KEYID=observer`.
    Invite {
        /// The operation's id.
        operation: Uuid,
        /// The invited agency: `KEYID` or `KEYID=observer`.
        #[arg(long)]
        participant: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take part in an operation this agency was invited to, citing its legal basis.
    Join {
        /// The operation's id.
        operation: Uuid,
        /// The legal basis this agency cites.
        #[arg(long = "legal-basis")]
        legal_basis: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leave: this agency sends and receives nothing new (what it shared stays withdrawable).
    Leave {
        /// The operation's id.
        operation: Uuid,
        /// Why this agency leaves.
        #[arg(long)]
        reason: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw one of this agency's targets, tasks or log entries (by its event number): erased everywhere.
    Withdraw {
        /// The operation's id.
        operation: Uuid,
        /// The event number of this agency's target, task or log entry.
        #[arg(long)]
        seq: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export the operation's history as a signed bundle for court (refusing what handling codes forbid).
    Export {
        /// The operation's id.
        operation: Uuid,
        /// Where to write the signed bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Push this agency's undelivered events to every participant now.
    Push,
}

/// Marks of a change's content.
#[derive(Debug, Clone, clap::Args)]
pub struct Marks {
    /// H0 (default), H1, H2 or H3.
    #[arg(long, default_value = "H0")]
    handling: String,
    /// TLP (default AMBER).
    #[arg(long, default_value = "AMBER")]
    tlp: String,
}

impl Marks {
    fn marking(&self) -> Result<Marking> {
        Ok(Marking {
            tlp: self.tlp.parse::<Tlp>()?,
            handling: self.handling.parse::<HandlingCode>()?,
            ..Marking::default()
        })
    }
}

fn participant(spec: &str) -> Result<Participant> {
    let (id, role) = match spec.split_once('=') {
        Some((id, role)) => (id, role.parse::<Role>()?),
        None => (spec, Role::Participant),
    };
    if role == Role::Lead {
        return Err(Error::invalid("participant", "the creator is the lead"));
    }
    Ok(Participant {
        agency: AgencyId::parse(id)?,
        role,
        legal_basis: "invited: states its legal basis on joining".into(),
    })
}

/// An agency by key id (or a prefix of it) or by country, among this node and its peers.
async fn agency(node: &Node, spec: &str) -> Result<AgencyId> {
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
        [] => Err(Error::invalid("jurisdiction", "no such agency")),
        _ => Err(Error::invalid(
            "jurisdiction",
            "more than one agency matches",
        )),
    }
}

fn text_part(class: FieldClass, text: &str) -> Result<BTreeMap<FieldClass, Part>> {
    check_text("text", text)?;
    Ok(BTreeMap::from([(
        class,
        Part::new(serde_json::Value::String(text.to_string()), salt()),
    )]))
}

/// Runs one `operation` subcommand on the node.
pub(crate) async fn run(node: &Node, cmd: OperationCmd) -> Result<()> {
    let now = Utc::now();
    let (operation, new, json) = match cmd {
        OperationCmd::Create {
            title,
            agreements,
            legal_basis,
            participants,
            day_of_action,
            json,
        } => {
            let invited = participants
                .iter()
                .map(|p| participant(p))
                .collect::<Result<Vec<_>>>()?;
            let held = node
                .operation_create(
                    title,
                    agreements.into_iter().collect::<BTreeSet<_>>(),
                    legal_basis,
                    invited,
                    day_of_action,
                    now,
                )
                .await?;
            push(node).await;
            return show(&held, json);
        }
        OperationCmd::List { json } => {
            let views = node.operations().await?;
            if json {
                return print_json(&views);
            }
            for v in views {
                print_line(&format!(
                    "{}  {}  lead {}  {} participants  {} tasks",
                    v.id,
                    v.title,
                    v.lead.short(),
                    v.participants.len(),
                    v.tasks.len()
                ))?;
            }
            return Ok(());
        }
        OperationCmd::Show { id, json } => {
            let held = node.operation(id).await?;
            node.store
                .audit("operation_read", None, Some(id), "cli read the operation")
                .await?;
            return show(&held, json);
        }
        OperationCmd::Export { operation, out } => {
            let bundle = node.operation_export(operation, now).await?;
            let text = serde_json::to_string_pretty(&bundle).map_err(Error::Encoding)?;
            std::fs::write(&out, text).map_err(io_err(&out))?;
            return print_json(&serde_json::json!({
                "operation": operation,
                "events": bundle.body.events.len(),
                "refused": bundle.body.refused,
                "file": out.display().to_string(),
            }));
        }
        OperationCmd::Push => {
            let n = node.push_operations_all().await?;
            return print_json(&serde_json::json!({ "delivered": n }));
        }
        OperationCmd::Task {
            operation,
            id,
            kind,
            jurisdiction,
            deadline,
            description,
            status,
            accept,
            refuse,
            marks,
            json,
        } => {
            let new = match (id, status, accept, refuse) {
                (Some(task), Some(status), false, None) => NewChange::plain(Change::TaskStatus {
                    task,
                    status: status.parse::<TaskStatus>()?,
                }),
                (Some(task), None, true, None) => NewChange::plain(Change::Consent {
                    task,
                    accept: true,
                    reason: String::new(),
                }),
                (Some(task), None, false, Some(reason)) => NewChange::plain(Change::Consent {
                    task,
                    accept: false,
                    reason,
                }),
                (None, None, false, None) => {
                    let need =
                        |what: &'static str| Error::invalid("task", format!("give --{what}"));
                    let jurisdiction = jurisdiction.ok_or_else(|| need("jurisdiction"))?;
                    NewChange {
                        change: Change::Task {
                            task: Uuid::now_v7(),
                            kind: kind.ok_or_else(|| need("kind"))?.parse::<TaskKind>()?,
                            jurisdiction: agency(node, &jurisdiction).await?,
                            deadline: deadline.ok_or_else(|| need("deadline"))?,
                        },
                        parts: text_part(
                            FieldClass::Summary,
                            &description.ok_or_else(|| need("description"))?,
                        )?,
                        marking: marks.marking()?,
                    }
                }
                _ => {
                    return Err(Error::invalid(
                        "task",
                        "give --kind/--jurisdiction/--deadline/--description for a new task, or --id with one of --status, --accept, --refuse",
                    ));
                }
            };
            (operation, new, json)
        }
        OperationCmd::Target {
            operation,
            entity,
            case,
            marks,
            json,
        } => {
            let entity = Entity::parse_spec(&entity, None)?;
            let kind = serde_json::to_value(&entity)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_string)))
                .unwrap_or_else(|| "entity".into());
            let (class, part) = entity_part(&entity, salt())?;
            let new = NewChange {
                change: Change::Target {
                    target: entity.id(),
                    kind,
                    source_case: case,
                },
                parts: BTreeMap::from([(class, part)]),
                marking: marks.marking()?,
            };
            (operation, new, json)
        }
        OperationCmd::Log {
            operation,
            text,
            marks,
            json,
        } => {
            let new = NewChange {
                change: Change::Log {
                    entry: Uuid::now_v7(),
                },
                parts: text_part(FieldClass::Event, &text)?,
                marking: marks.marking()?,
            };
            (operation, new, json)
        }
        OperationCmd::Day {
            operation,
            at,
            json,
        } => (
            operation,
            NewChange::plain(Change::DayOfAction { day: Some(at) }),
            json,
        ),
        OperationCmd::Invite {
            operation,
            participant: p,
            json,
        } => (
            operation,
            NewChange::plain(Change::Invite {
                participant: participant(&p)?,
            }),
            json,
        ),
        OperationCmd::Join {
            operation,
            legal_basis,
            json,
        } => (
            operation,
            NewChange::plain(Change::Join { legal_basis }),
            json,
        ),
        OperationCmd::Leave {
            operation,
            reason,
            json,
        } => (operation, NewChange::plain(Change::Leave { reason }), json),
        OperationCmd::Withdraw {
            operation,
            seq,
            json,
        } => (
            operation,
            NewChange::plain(Change::Withdraw { event: seq }),
            json,
        ),
    };
    let event = node.operation_change(operation, new, now).await?;
    push(node).await;
    if json {
        return print_json(&event);
    }
    let h = &event.head.body;
    print_line(&format!(
        "{}  {} #{}  {}",
        h.operation,
        h.origin.short(),
        h.seq,
        h.change.name()
    ))
}

/// Pushes now (best effort: what is not delivered goes with the server's next sync).
async fn push(node: &Node) {
    if let Err(e) = node.push_operations_all().await {
        tracing::warn!(error = %e, "operation push failed");
    }
}

fn show(held: &HeldOperation, json: bool) -> Result<()> {
    if json {
        return print_json(held);
    }
    let v = &held.view;
    print_line(&format!("{}  {}  lead {}", v.id, v.title, v.lead.short()))?;
    if let Some(day) = v.day_of_action {
        print_line(&format!("day of action {}", day.to_rfc3339()))?;
    }
    for (id, m) in &v.participants {
        print_line(&format!(
            "  {} {:?} joined={} left={}  {}",
            id.short(),
            m.participant.role,
            m.joined,
            m.left_after.is_some(),
            m.participant.legal_basis
        ))?;
    }
    for t in v.tasks.values() {
        print_line(&format!(
            "  task {} {:?} owner {} in {} by {} {:?} {:?}",
            t.id,
            t.kind,
            t.owner.short(),
            t.jurisdiction.short(),
            t.deadline.to_rfc3339(),
            t.status,
            t.consent
        ))?;
    }
    for t in v.targets.values() {
        print_line(&format!("  target {} {}", t.id, t.kind))?;
    }
    for l in &v.log {
        print_line(&format!(
            "  log {} {} {}",
            l.at.to_rfc3339(),
            l.origin.short(),
            l.text
                .as_ref()
                .and_then(|t| t.as_str())
                .unwrap_or("(withheld)")
        ))?;
    }
    Ok(())
}
