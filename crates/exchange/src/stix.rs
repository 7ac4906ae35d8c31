//! STIX 2.1 export and import of a case (pure: the caller passes the clock).
//!
//! Mapping (STIX 2.1 has no phone, bank-account or wallet objects, so those are `user-account`
//! cyber-observables distinguished by `account_type`):
//! - the exporting agency → `identity` (organization), the bundle's `created_by_ref`;
//! - the case and each lead → `grouping` (context `suspicious-activity`) with the jikimi
//!   handling marks as `x_jikimi_*` properties and the TLP 2.0 marking definition referenced;
//! - person → `identity` (individual); company → `identity` (organization);
//! - website → `domain-name`; phone / IBAN / bank account / wallet → `user-account`;
//!   attachment → `file` with its SHA-256; each observable sits in an `observed-data` and is
//!   also an `indicator` with a STIX pattern, linked `based-on` its observed-data;
//! - events → `observed-data` of their own (time range) with a `note`-free description;
//! - people and companies are `related-to` the observables of the same record.
//!
//! Cyber-observable ids are UUIDv5 over their id-contributing properties (STIX 2.1 §2.9).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::{Agency, Attachment, Content, Entity, Record, RecordBody};
use crate::error::{Error, Result};
use crate::identifiers::{AccountNumber, Domain, Iban, PhoneE164, Sha256Hex, Wallet};
use crate::marking::Tlp;

/// STIX 2.1 namespace for deterministic cyber-observable ids.
const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);
/// jikimi's namespace for SDO ids derived from our UUIDs.
const JIKIMI_NAMESPACE: Uuid = Uuid::from_u128(0x6a696b69_6d69_4000_8000_000000000001);

/// The TLP 2.0 marking-definition ids published with the STIX TLP 2.0 extension.
pub fn tlp_marking_ref(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn sco_id(kind: &str, contributing: &Value) -> Result<String> {
    let bytes = serde_jcs::to_vec(contributing).map_err(Error::Encoding)?;
    Ok(format!("{kind}--{}", Uuid::new_v5(&SCO_NAMESPACE, &bytes)))
}

fn sdo_id(kind: &str, id: Uuid) -> String {
    format!("{kind}--{}", Uuid::new_v5(&JIKIMI_NAMESPACE, id.as_bytes()))
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

struct Ctx {
    objects: Vec<Value>,
    author: String,
    created: String,
    markings: Vec<String>,
}

impl Ctx {
    fn common(&self, kind: &str, id: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), json!(kind));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(id));
        m.insert("created".into(), json!(self.created));
        m.insert("modified".into(), json!(self.created));
        m.insert("created_by_ref".into(), json!(self.author));
        m.insert("object_marking_refs".into(), json!(self.markings));
        m
    }
    fn relate(&mut self, source: &str, rel: &str, target: &str) {
        let id = format!(
            "relationship--{}",
            Uuid::new_v5(
                &JIKIMI_NAMESPACE,
                format!("{source}|{rel}|{target}").as_bytes()
            )
        );
        let mut m = self.common("relationship", &id);
        m.insert("relationship_type".into(), json!(rel));
        m.insert("source_ref".into(), json!(source));
        m.insert("target_ref".into(), json!(target));
        self.objects.push(Value::Object(m));
    }
}

/// One observable: the SCO, a STIX pattern matching it.
fn observable(e: &Entity) -> Result<Option<(Value, String)>> {
    let account = |account_type: &str, login: &str| -> Result<(Value, String)> {
        let id = sco_id(
            "user-account",
            &json!({ "account_type": account_type, "account_login": login }),
        )?;
        let sco = json!({ "type": "user-account", "spec_version": "2.1", "id": id, "account_type": account_type, "account_login": login });
        let pattern = format!(
            "[user-account:account_type = '{}' AND user-account:account_login = '{}']",
            quote(account_type),
            quote(login)
        );
        Ok((sco, pattern))
    };
    Ok(Some(match e {
        Entity::Website { domain, .. } => {
            let id = sco_id("domain-name", &json!({ "value": domain.as_str() }))?;
            (
                json!({ "type": "domain-name", "spec_version": "2.1", "id": id, "value": domain.as_str() }),
                format!("[domain-name:value = '{}']", quote(domain.as_str())),
            )
        }
        Entity::Phone { number, .. } => account("phone-number", number.as_str())?,
        Entity::Iban { iban, .. } => account("iban", iban.as_str())?,
        Entity::BankAccount { account: a, .. } => account("bank-account", a.as_str())?,
        Entity::CryptoWallet { wallet, .. } => account(
            match wallet.chain() {
                crate::identifiers::Chain::Bitcoin => "cryptocurrency-wallet-bitcoin",
                crate::identifiers::Chain::Ethereum => "cryptocurrency-wallet-ethereum",
                crate::identifiers::Chain::Tron => "cryptocurrency-wallet-tron",
            },
            wallet.address(),
        )?,
        Entity::Person { .. } | Entity::Company { .. } => return Ok(None),
    }))
}

fn sco_type(id: &str) -> &str {
    id.split("--").next().unwrap_or(id)
}

fn file_sco(a: &Attachment) -> Result<(Value, String)> {
    let id = sco_id(
        "file",
        &json!({ "hashes": { "SHA-256": a.sha256.as_str() } }),
    )?;
    let mut v = json!({ "type": "file", "spec_version": "2.1", "id": id, "hashes": { "SHA-256": a.sha256.as_str() }, "size": a.size_bytes, "mime_type": a.media_type });
    if let Some(n) = &a.name {
        v["name"] = json!(n);
    }
    Ok((
        v,
        format!("[file:hashes.'SHA-256' = '{}']", a.sha256.as_str()),
    ))
}

/// Exports a case (its `Case` record and any leads) as a STIX 2.1 bundle authored by `me`.
pub fn export_case(records: &[Record], me: &Agency, now: DateTime<Utc>) -> Result<Value> {
    let case = records
        .iter()
        .find(|r| matches!(r.body, RecordBody::Case(_)))
        .ok_or_else(|| Error::invalid("stix export", "no case record among the records"))?;
    let author = sdo_id(
        "identity",
        Uuid::new_v5(&JIKIMI_NAMESPACE, me.id.as_str().as_bytes()),
    );
    let created = ts(now);
    let mut ctx = Ctx {
        objects: Vec::new(),
        author: author.clone(),
        created: created.clone(),
        markings: vec![tlp_marking_ref(case.marking.tlp).to_string()],
    };
    ctx.objects.push(json!({
        "type": "identity", "spec_version": "2.1", "id": author, "created": created, "modified": created,
        "name": me.name, "identity_class": "organization", "x_jikimi_agency_key": me.id.as_str(), "x_jikimi_country": me.country,
    }));
    for record in records {
        let Some(content) = record.content() else {
            continue;
        };
        ctx.markings = vec![tlp_marking_ref(record.marking.tlp).to_string()];
        let mut refs = export_content(&mut ctx, content, record)?;
        let group_id = sdo_id("grouping", record.id);
        if let RecordBody::Lead(l) = &record.body {
            refs.push(sdo_id("grouping", l.case_id));
        }
        let mut g = ctx.common("grouping", &group_id);
        g.insert(
            "name".into(),
            json!(if content.title.is_empty() {
                record.kind().to_string()
            } else {
                content.title.clone()
            }),
        );
        if let Some(s) = &content.summary {
            g.insert("description".into(), json!(s));
        }
        g.insert("context".into(), json!("suspicious-activity"));
        if refs.is_empty() {
            refs.push(author.clone());
        }
        g.insert("object_refs".into(), json!(refs));
        g.insert("x_jikimi_record_id".into(), json!(record.id));
        g.insert("x_jikimi_kind".into(), json!(record.kind()));
        g.insert(
            "x_jikimi_category".into(),
            serde_json::to_value(record.category).map_err(Error::Encoding)?,
        );
        g.insert(
            "x_jikimi_handling_code".into(),
            serde_json::to_value(record.marking.handling).map_err(Error::Encoding)?,
        );
        g.insert(
            "x_jikimi_source_grade".into(),
            serde_json::to_value(record.marking.source).map_err(Error::Encoding)?,
        );
        g.insert(
            "x_jikimi_information_grade".into(),
            serde_json::to_value(record.marking.information).map_err(Error::Encoding)?,
        );
        ctx.objects.push(Value::Object(g));
    }
    // The same observable in two records is one object: deduplicate by id.
    let mut seen = std::collections::BTreeSet::new();
    ctx.objects
        .retain(|o| seen.insert(o["id"].as_str().unwrap_or_default().to_string()));
    Ok(
        json!({ "type": "bundle", "id": format!("bundle--{}", Uuid::new_v4()), "objects": ctx.objects }),
    )
}

fn export_content(ctx: &mut Ctx, content: &Content, record: &Record) -> Result<Vec<String>> {
    let mut refs = Vec::new();
    let mut actors = Vec::new();
    let mut observables = Vec::new();
    let observed_at = ts(record.updated_at);
    for e in &content.entities {
        match e {
            Entity::Person {
                id,
                name,
                nationality,
                ..
            } => {
                let sid = sdo_id("identity", *id);
                let mut m = ctx.common("identity", &sid);
                m.insert("name".into(), json!(name));
                m.insert("identity_class".into(), json!("individual"));
                if let Some(n) = nationality {
                    m.insert("x_jikimi_nationality".into(), json!(n));
                }
                ctx.objects.push(Value::Object(m));
                actors.push(sid);
            }
            Entity::Company {
                id,
                name,
                country,
                registration,
            } => {
                let sid = sdo_id("identity", *id);
                let mut m = ctx.common("identity", &sid);
                m.insert("name".into(), json!(name));
                m.insert("identity_class".into(), json!("organization"));
                if let Some(c) = country {
                    m.insert("x_jikimi_country".into(), json!(c));
                }
                if let Some(r) = registration {
                    m.insert("x_jikimi_registration".into(), json!(r));
                }
                ctx.objects.push(Value::Object(m));
                actors.push(sid);
            }
            other => {
                if let Some((sco, pattern)) = observable(other)? {
                    observables.push((other.id(), sco, pattern));
                }
            }
        }
    }
    for a in &content.attachments {
        let (sco, pattern) = file_sco(a)?;
        observables.push((
            Uuid::new_v5(&JIKIMI_NAMESPACE, a.sha256.as_str().as_bytes()),
            sco,
            pattern,
        ));
    }
    for (eid, sco, pattern) in observables {
        let sco_ref = sco["id"].as_str().unwrap_or_default().to_string();
        ctx.objects.push(sco);
        let od_id = sdo_id("observed-data", eid);
        let mut od = ctx.common("observed-data", &od_id);
        od.insert("first_observed".into(), json!(observed_at));
        od.insert("last_observed".into(), json!(observed_at));
        od.insert("number_observed".into(), json!(1));
        od.insert("object_refs".into(), json!([sco_ref]));
        ctx.objects.push(Value::Object(od));
        let ind_id = sdo_id("indicator", eid);
        let mut ind = ctx.common("indicator", &ind_id);
        ind.insert(
            "name".into(),
            json!(format!("{} in {}", sco_type(&sco_ref), record.kind())),
        );
        ind.insert(
            "description".into(),
            json!(format!("jikimi {} {}", record.kind(), record.id)),
        );
        ind.insert("pattern".into(), json!(pattern));
        ind.insert("pattern_type".into(), json!("stix"));
        ind.insert("valid_from".into(), json!(observed_at));
        ind.insert("indicator_types".into(), json!(["malicious-activity"]));
        ctx.objects.push(Value::Object(ind));
        ctx.relate(&ind_id, "based-on", &od_id);
        for actor in &actors {
            ctx.relate(actor, "related-to", &ind_id);
        }
        refs.push(ind_id);
        refs.push(od_id);
    }
    for ev in &content.events {
        let od_id = sdo_id("observed-data", ev.id);
        // An event is a sighting in time of the record's observables; with none, of its actors.
        let mut od = ctx.common("observed-data", &od_id);
        od.insert("first_observed".into(), json!(ts(ev.at)));
        od.insert("last_observed".into(), json!(ts(ev.at)));
        od.insert("number_observed".into(), json!(1));
        let targets: Vec<String> = ctx
            .objects
            .iter()
            .filter(|o| {
                refs.contains(&o["id"].as_str().unwrap_or_default().to_string())
                    && o["type"] == "observed-data"
            })
            .filter_map(|o| {
                o["object_refs"]
                    .get(0)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        od.insert("object_refs".into(), json!(targets));
        od.insert("x_jikimi_description".into(), json!(ev.description));
        if let Some(p) = &ev.place {
            od.insert(
                "x_jikimi_place".into(),
                serde_json::to_value(p).map_err(Error::Encoding)?,
            );
        }
        ctx.objects.push(Value::Object(od));
        refs.push(od_id);
    }
    refs.extend(actors);
    Ok(refs)
}

/// Imports a STIX 2.1 bundle into case content: identities become people and companies (the
/// bundle's author excluded), observables become validated entities, files become attachments.
/// Identifiers are validated exactly as if typed in; an invalid one fails the import.
pub fn import_bundle(bundle: &Value) -> Result<Content> {
    if bundle["type"] != "bundle" {
        return Err(Error::invalid(
            "stix bundle",
            "top-level type must be bundle",
        ));
    }
    let objects = bundle["objects"]
        .as_array()
        .ok_or_else(|| Error::invalid("stix bundle", "objects must be an array"))?;
    let authors: std::collections::BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o["created_by_ref"].as_str())
        .collect();
    let mut content = Content::default();
    for o in objects {
        let s = |k: &str| o[k].as_str().unwrap_or_default().to_string();
        match o["type"].as_str().unwrap_or_default() {
            "identity" if !authors.contains(o["id"].as_str().unwrap_or_default()) => {
                let id = Uuid::new_v4();
                if o["identity_class"] == "individual" {
                    content.entities.push(Entity::Person {
                        id,
                        name: s("name"),
                        nationality: o["x_jikimi_nationality"].as_str().map(str::to_string),
                        born: None,
                        passport: None,
                        border_control: false,
                    });
                } else {
                    content.entities.push(Entity::Company {
                        id,
                        name: s("name"),
                        country: o["x_jikimi_country"].as_str().map(str::to_string),
                        registration: o["x_jikimi_registration"].as_str().map(str::to_string),
                    });
                }
            }
            "domain-name" => content.entities.push(Entity::Website {
                id: Uuid::new_v4(),
                domain: Domain::parse(&s("value"))?,
            }),
            "user-account" => {
                let login = s("account_login");
                let id = Uuid::new_v4();
                let e = match s("account_type").as_str() {
                    "phone-number" => Entity::Phone {
                        id,
                        number: PhoneE164::parse(&login, None)?,
                    },
                    "iban" => Entity::Iban {
                        id,
                        iban: Iban::parse(&login)?,
                    },
                    "bank-account" => Entity::BankAccount {
                        id,
                        bank: None,
                        country: None,
                        account: AccountNumber::parse(&login)?,
                    },
                    t if t.starts_with("cryptocurrency-wallet") => {
                        let chain = t
                            .trim_start_matches("cryptocurrency-wallet")
                            .trim_start_matches('-');
                        let wallet = if chain.is_empty() {
                            Wallet::detect(&login)?
                        } else {
                            Wallet::parse(chain.parse()?, &login)?
                        };
                        Entity::CryptoWallet { id, wallet }
                    }
                    _ => continue,
                };
                content.entities.push(e);
            }
            "file" => {
                if let Some(h) = o["hashes"]["SHA-256"].as_str() {
                    content.attachments.push(Attachment {
                        sha256: Sha256Hex::parse(h)?,
                        media_type: o["mime_type"]
                            .as_str()
                            .unwrap_or("application/octet-stream")
                            .to_string(),
                        size_bytes: o["size"].as_u64().unwrap_or(0),
                        name: o["name"].as_str().map(str::to_string),
                    });
                }
            }
            "grouping" | "report" if content.title.is_empty() => {
                content.title = s("name");
                content.summary = o["description"].as_str().map(str::to_string);
            }
            _ => {}
        }
    }
    Ok(content)
}
