//! Who controls where the money went (issue 22, part 5): a run's endpoints resolved against the entities of
//! shared cases, and the organisations behind them, in one query.
//!
//! An endpoint account matches a bank account, IBAN or wallet entity of a case or lead when both normalise to
//! the same identifier ([`jikimi_linkage::shared::identifier_key`], the linkage engine's rule). The companies
//! and persons named in the matching records are its candidate controllers (persons by entity id only: names
//! are for the audited case view). Organisations are the linkage crate's ([`jikimi_linkage::trace::TraceGraph`]):
//! connected groups of cases sharing an entity, where the run's tainted flows count as evidence too: a tainted
//! edge between an account named in one case and an account named in another joins the two cases' groups, as
//! an analyst's "same organisation" link would. Relocation detection needs each case's country of activity,
//! which case records do not carry, so money flows feed the grouping, not (yet) the relocation test.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use jikimi_exchange::domain::{Entity, Record};
use jikimi_linkage::shared::{IdentifierKind, identifier_key};
use jikimi_linkage::trace::{Case, EntityKind, EntityMention, Month, TraceGraph, entity_key};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::Json;
use crate::funds_run::{Endpoint, RunResult};
use crate::roles::Permission;
use crate::state::AppState;

/// An entity of a shared case that may control an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Controller {
    /// The entity's id in the case store.
    pub entity_id: Uuid,
    /// `company` or `person`.
    pub kind: String,
    /// A company's name (persons are given by id only).
    pub name: Option<String>,
    /// A company's country of registration.
    pub country: Option<String>,
    /// The case or lead naming it.
    pub record_id: Uuid,
}

/// One endpoint of the run and what the shared cases say about it.
#[derive(Serialize, ToSchema)]
pub struct ResolvedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The account entities of shared cases that are this account (entity ids).
    pub matched_entities: Vec<Uuid>,
    /// The companies and persons named in the records that name this account.
    pub controllers: Vec<Controller>,
    /// The organisation (index into `organisations`), when a shared case names the account.
    pub organisation: Option<usize>,
}

/// A group of shared cases joined by shared entities and by the run's money flows.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: usize,
    /// The cases and leads in the group.
    pub records: Vec<Uuid>,
    /// Company names named in them.
    pub companies: Vec<String>,
    /// Persons named in them (count; ids are on the endpoints).
    pub persons: usize,
    /// The run's endpoints it controls (account keys).
    pub endpoints: Vec<String>,
    /// Tainted edges of the run between accounts named in its cases (money flows used as evidence).
    pub money_links: usize,
}

/// Endpoints with their controllers, and the organisations behind them.
#[derive(Serialize, ToSchema)]
pub struct Controllers {
    pub run_id: Uuid,
    /// Shared cases and leads read.
    pub records: usize,
    pub endpoints: Vec<ResolvedEndpoint>,
    /// Only the organisations that control at least one endpoint.
    pub organisations: Vec<OrganisationView>,
}

/// The identifier kind and raw value of a funds account key (`iban:...` -> account).
fn identifier_of(key: &str) -> Option<(IdentifierKind, EntityKind, &str)> {
    let (kind, value) = key.split_once(':')?;
    match kind {
        "iban" | "acct" => Some((IdentifierKind::Account, EntityKind::Account, value)),
        "bitcoin" | "ethereum" | "tron" => {
            Some((IdentifierKind::Wallet, EntityKind::Wallet, value))
        }
        _ => None,
    }
}

/// The normalised identifier of an account or wallet entity.
fn entity_identifier(entity: &Entity) -> Option<(IdentifierKind, EntityKind, String)> {
    match entity {
        Entity::BankAccount { account, .. } => Some((
            IdentifierKind::Account,
            EntityKind::Account,
            account.as_str().to_string(),
        )),
        Entity::Iban { iban, .. } => Some((
            IdentifierKind::Account,
            EntityKind::Account,
            iban.as_str().to_string(),
        )),
        Entity::CryptoWallet { wallet, .. } => Some((
            IdentifierKind::Wallet,
            EntityKind::Wallet,
            wallet.address().to_string(),
        )),
        _ => None,
    }
}

/// Resolves `result`'s endpoints against `records` (every live record of the case store). Pure.
pub fn resolve(run_id: Uuid, result: &RunResult, records: &[Record]) -> Controllers {
    let records: Vec<&Record> = records.iter().filter(|r| r.content().is_some()).collect();
    // Normalised identifier -> (record index, entity id).
    let mut by_identifier: BTreeMap<String, Vec<(usize, Uuid)>> = BTreeMap::new();
    let mut trace_cases = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let Some(content) = record.content() else {
            continue;
        };
        let mut mentions = Vec::new();
        for entity in &content.entities {
            if let Some((kind, trace_kind, value)) = entity_identifier(entity) {
                if let Some((key, _)) = identifier_key(kind, &value) {
                    by_identifier
                        .entry(format!("{}:{key}", kind.as_str()))
                        .or_default()
                        .push((i, entity.id()));
                }
                mentions.push(EntityMention {
                    kind: trace_kind,
                    value,
                });
            }
        }
        trace_cases.push(Case {
            agency: record.origin.to_string(),
            case_id: record.id.to_string(),
            // Case records carry no country of activity; grouping does not need one.
            country: String::new(),
            month: Month {
                year: chrono::Datelike::year(&record.updated_at),
                month: chrono::Datelike::month(&record.updated_at),
            },
            entities: mentions,
        });
    }
    let mut graph = TraceGraph::new(trace_cases);
    let trace_key = |account: &str| {
        let (_, kind, value) = identifier_of(account)?;
        entity_key(kind, value)
    };
    let mut money_edges = Vec::new();
    for edge in &result.flow.edges {
        if let (Some(a), Some(b)) = (trace_key(&edge.from), trace_key(&edge.to))
            && graph.entity_cases.contains_key(&a)
            && graph.entity_cases.contains_key(&b)
        {
            money_edges.push((a.clone(), b.clone()));
            graph.link_entities(a, b);
        }
    }
    let organisations = graph.organisations();
    let mut org_of_record: BTreeMap<usize, usize> = BTreeMap::new();
    for org in &organisations {
        for &i in &org.case_indices {
            org_of_record.insert(i, org.id);
        }
    }
    let controllers_of = |i: usize| -> Vec<Controller> {
        let record = records[i];
        let Some(content) = record.content() else {
            return Vec::new();
        };
        content
            .entities
            .iter()
            .filter_map(|e| match e {
                Entity::Company {
                    id, name, country, ..
                } => Some(Controller {
                    entity_id: *id,
                    kind: "company".into(),
                    name: Some(name.clone()),
                    country: country.clone(),
                    record_id: record.id,
                }),
                Entity::Person { id, .. } => Some(Controller {
                    entity_id: *id,
                    kind: "person".into(),
                    name: None,
                    country: None,
                    record_id: record.id,
                }),
                _ => None,
            })
            .collect()
    };
    let mut endpoints = Vec::with_capacity(result.endpoints.len());
    let mut org_endpoints: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for endpoint in &result.endpoints {
        let matches = identifier_of(&endpoint.account)
            .and_then(|(kind, _, value)| identifier_key(kind, value).map(|(k, _)| (kind, k)))
            .and_then(|(kind, key)| by_identifier.get(&format!("{}:{key}", kind.as_str())))
            .cloned()
            .unwrap_or_default();
        let record_indices: BTreeSet<usize> = matches.iter().map(|(i, _)| *i).collect();
        let organisation = record_indices
            .iter()
            .find_map(|i| org_of_record.get(i).copied());
        if let Some(org) = organisation {
            org_endpoints
                .entry(org)
                .or_default()
                .push(endpoint.account.clone());
        }
        endpoints.push(ResolvedEndpoint {
            endpoint: endpoint.clone(),
            matched_entities: matches.iter().map(|(_, id)| *id).collect(),
            controllers: record_indices
                .iter()
                .flat_map(|&i| controllers_of(i))
                .collect(),
            organisation,
        });
    }
    let organisations = organisations
        .iter()
        .filter(|o| org_endpoints.contains_key(&o.id))
        .map(|o| {
            let controllers: Vec<Controller> = o
                .case_indices
                .iter()
                .flat_map(|&i| controllers_of(i))
                .collect();
            let companies: BTreeSet<String> =
                controllers.iter().filter_map(|c| c.name.clone()).collect();
            let persons: BTreeSet<Uuid> = controllers
                .iter()
                .filter(|c| c.kind == "person")
                .map(|c| c.entity_id)
                .collect();
            let entities: BTreeSet<&String> = o.entities.iter().collect();
            OrganisationView {
                id: o.id,
                records: o.case_indices.iter().map(|&i| records[i].id).collect(),
                companies: companies.into_iter().collect(),
                persons: persons.len(),
                endpoints: org_endpoints.get(&o.id).cloned().unwrap_or_default(),
                money_links: money_edges
                    .iter()
                    .filter(|(a, b)| entities.contains(a) && entities.contains(b))
                    .count(),
            }
        })
        .collect();
    Controllers {
        run_id,
        records: records.len(),
        endpoints,
        organisations,
    }
}

/// Which organisations control a run's endpoints: each endpoint resolved against the accounts and wallets of
/// shared cases, with the companies and persons those cases name (analysts, supervisors; every read audited).
#[utoipa::path(get, path = "/api/funds/runs/{run_id}/controllers", tag = "funds", security(("bearer" = [])),
    params(("run_id" = Uuid, Path, description = "the trace run")),
    responses((status = 200, body = Controllers), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn controllers(
    State(state): State<AppState>,
    staff: Staff,
    Path(run_id): Path<Uuid>,
) -> Result<Json<Controllers>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    if state.exchange.is_none() {
        return Err(ApiError::new(
            crate::error::ErrorCode::NotEnabled,
            "no case store is configured for this server (cooperation is off)",
        ));
    }
    let run = state.store.get_trace_run(run_id).await?;
    let result = crate::funds::open_result(&state, &run)?;
    let records: Vec<Record> = state
        .store
        .records()
        .await?
        .into_iter()
        .map(|s| s.record)
        .collect();
    let resolved = tokio::task::spawn_blocking(move || resolve(run_id, &result, &records))
        .await
        .map_err(ApiError::internal)?;
    let entry = jikimi_audit::NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        "funds.controllers_read",
        format!("trace_run/{run_id}"),
        "follow the money",
    )
    .with_detail(&serde_json::json!({
        "case_id": run.case_id,
        "records": resolved.records,
        "organisations": resolved.organisations.len(),
        "endpoints_resolved": resolved.endpoints.iter().filter(|e| !e.matched_entities.is_empty()).count(),
    }));
    state.store.append_audit(vec![entry]).await?;
    Ok(Json(resolved))
}
