//! STIX 2.1 export and import of a case: structural checks that always run, and OASIS's
//! `stix2-validator` from its venv (`crates/exchange/scripts/stix-validator-venv.sh`; required when `CI` is set).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{
    Agency, AgencyId, CaseCategory, Entity, LeadContent, Record, RecordBody,
};
use jikimi_exchange::stix;
use serde_json::Value;
use uuid::Uuid;

use crate::fixtures::*;

/// A case and a lead of agency "a", as a node would have created them (built here: the core has no node).
fn exported() -> (Value, Vec<Record>) {
    let key = SigningKey::from_bytes(&[1; 32]);
    let me = Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        name: "a".into(),
        country: "KR".into(),
        endpoint: None,
    };
    let record = |marking, body| Record {
        id: Uuid::now_v7(),
        version: 1,
        origin: me.id.clone(),
        category: CaseCategory::Scam,
        marking,
        updated_at: Utc::now(),
        redacted: BTreeSet::new(),
        body,
    };
    let case = record(amber(), RecordBody::Case(scam_content("compound")));
    let lead = record(
        amber().combine(case.marking),
        RecordBody::Lead(LeadContent {
            case_id: case.id,
            content: scam_content("lead"),
        }),
    );
    let records = vec![case, lead];
    (
        stix::export_case(&records, &me, Utc::now()).unwrap(),
        records,
    )
}

#[test]
fn export_is_structurally_valid_stix_2_1() {
    let (bundle, _) = exported();
    assert_eq!(bundle["type"], "bundle");
    assert!(bundle["id"].as_str().unwrap().starts_with("bundle--"));
    let objects = bundle["objects"].as_array().unwrap();
    let ids: BTreeSet<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), objects.len(), "ids are unique");
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for o in objects {
        let t = o["type"].as_str().unwrap();
        *by_type.entry(t).or_default() += 1;
        let id = o["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{t}--")), "{id}");
        assert!(uuid::Uuid::parse_str(&id[t.len() + 2..]).is_ok(), "{id}");
        assert_eq!(o["spec_version"], "2.1");
        let sdo = !matches!(t, "domain-name" | "user-account" | "file");
        if sdo {
            for k in ["created", "modified"] {
                let ts = o[k].as_str().unwrap();
                assert!(
                    chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
                    "{k} {ts}"
                );
            }
        }
        // Every reference points inside the bundle (TLP marking definitions are standard ids).
        for key in ["created_by_ref", "source_ref", "target_ref"] {
            if let Some(r) = o[key].as_str() {
                assert!(ids.contains(r), "{key} {r} dangles");
            }
        }
        for r in o["object_refs"].as_array().into_iter().flatten() {
            assert!(ids.contains(r.as_str().unwrap()), "object_ref {r} dangles");
        }
        for r in o["object_marking_refs"].as_array().into_iter().flatten() {
            assert!(r.as_str().unwrap().starts_with("marking-definition--"));
        }
        match t {
            "indicator" => {
                assert_eq!(o["pattern_type"], "stix");
                let p = o["pattern"].as_str().unwrap();
                assert!(p.starts_with('[') && p.ends_with(']'), "{p}");
            }
            "observed-data" => {
                assert!(o["number_observed"].as_u64().unwrap() >= 1);
                assert!(!o["object_refs"].as_array().unwrap().is_empty());
            }
            "relationship" => assert!(o["relationship_type"].is_string()),
            "identity" => assert!(o["name"].is_string()),
            _ => {}
        }
    }
    for t in [
        "identity",
        "indicator",
        "observed-data",
        "relationship",
        "grouping",
        "domain-name",
        "user-account",
        "file",
    ] {
        assert!(by_type.contains_key(t), "missing {t}: {by_type:?}");
    }
    // TLP:AMBER (2.0) marking definition referenced.
    assert!(
        bundle
            .to_string()
            .contains(stix::tlp_marking_ref(jikimi_exchange::marking::Tlp::Amber))
    );
}

#[test]
fn import_round_trips_the_entities() {
    let (bundle, records) = exported();
    let content = stix::import_bundle(&bundle).unwrap();
    let key = |e: &Entity| -> String {
        let mut v = serde_json::to_value(e).unwrap();
        v.as_object_mut().unwrap().remove("id");
        v.to_string()
    };
    let want: BTreeSet<String> = records
        .iter()
        .flat_map(|r| r.content().unwrap().entities.iter().map(key))
        .collect();
    let got: BTreeSet<String> = content.entities.iter().map(key).collect();
    assert_eq!(got, want);
    assert_eq!(content.title, "compound");
    assert_eq!(content.attachments.len(), 1);

    // An invalid identifier in a foreign bundle fails the import with the reason.
    let bad = serde_json::json!({ "type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [
        { "type": "user-account", "spec_version": "2.1", "id": "user-account--00000000-0000-4000-8000-000000000001", "account_type": "iban", "account_login": "GB83WEST12345698765432" }
    ]});
    assert!(
        stix::import_bundle(&bad)
            .unwrap_err()
            .to_string()
            .contains("mod-97")
    );
}

/// OASIS's own validator on our export. In CI (`CI` set) a missing validator fails the test: `.ci/run` installs it
/// (`.ci/setup-stix.sh`); elsewhere it says how to install it and passes.
#[test]
fn export_passes_the_oasis_validator() {
    let home = std::env::var_os("HOME").unwrap_or_default();
    let validator =
        std::path::Path::new(&home).join(".cache/jikimi-venvs/stix/bin/stix2_validator");
    if !validator.exists() {
        let how = "stix2-validator venv absent: run crates/exchange/scripts/stix-validator-venv.sh";
        assert!(
            std::env::var_os("CI").is_none(),
            "{how} (CI must run this check)"
        );
        eprintln!("{how} to enable this check");
        return;
    }
    let (bundle, _) = exported();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.json");
    std::fs::write(&file, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg("--version")
        .arg("2.1")
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "stix2-validator failed:\n{text}");
}
