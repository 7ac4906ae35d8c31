//! EIDO: NENA publishes its schema as OpenAPI YAML without a licence, so it is not vendored; the mapping in
//! `jikimi_standards::mapping` is tested here field by field, including every field the schema marks required on
//! each component jikimi writes (PrologueType, EmergencyIncidentDataObjectType, IncidentInformationType,
//! AgencyType, LocationInformationType).

use jikimi_respond::Outcome;
use jikimi_standards::Error;
use jikimi_standards::eido::{self, Eido};
use jikimi_standards::mapping::{Detail, eido_to_referral, incident_to_eido};
use serde_json::Value;

use crate::fixtures::*;

fn assert_prologue(v: &Value, what: &str) {
    for field in ["$id", "lastUpdateTimeStamp", "updatedByAgencyReference"] {
        assert!(
            v.get(field).is_some(),
            "{what} lacks the required prologue field {field}: {v}"
        );
    }
    assert!(v["updatedByAgencyReference"]["$ref"].is_string(), "{what}");
    let t = v["lastUpdateTimeStamp"].as_str().unwrap();
    jikimi_standards::time::parse_datetime(t, false, "lastUpdateTimeStamp").unwrap();
}

#[test]
fn the_export_field_by_field() {
    let i = incident(1, true, None);
    let e = incident_to_eido(&i, Some(&civic()), &ctx(Detail::Full));
    let v: Value = serde_json::from_str(&e.to_json()).unwrap();
    let id = format!(
        "urn:emergency:uid:incidentid:{}:seoul.police.example",
        i.id.0
    );
    // EmergencyIncidentDataObjectType: prologue + eidoVersion, issuingElementIdentification, agencyComponent.
    assert_prologue(&v, "the document");
    assert_eq!(v["$id"], id.as_str());
    assert_eq!(v["lastUpdateTimeStamp"], "2026-12-06T19:06:40.000Z");
    assert_eq!(
        v["updatedByAgencyReference"]["$ref"],
        "seoul.police.example"
    );
    assert_eq!(v["eidoVersion"], "1.0");
    assert_eq!(
        v["issuingElementIdentification"],
        "jikimi.seoul.police.example"
    );
    assert_eq!(v["@context"]["@vocab"], eido::CONTEXT_VOCAB);
    // IncidentInformationType: prologue + incidentTypeCommonRegistryText.
    let inc = &v["incidentComponent"];
    assert_prologue(inc, "incidentComponent");
    assert_eq!(inc["$id"], id.as_str());
    assert_eq!(inc["incidentTypeCommonRegistryText"], "Police");
    assert_eq!(inc["incidentTypeInternalCode"], "jikimi.sos");
    assert_eq!(inc["incidentTypeInternalText"], "112 SOS alert");
    assert_eq!(inc["incidentStatusInternalText"][0], "received");
    assert_eq!(inc["incidentStatusCommonRegistryText"][0], "Open");
    assert_eq!(inc["internalIncidentId"], i.id.0.to_string().as_str());
    assert_eq!(inc["incidentPriorityInternalText"], "112-1");
    assert_eq!(inc["incidentCommonPriorityNumber"], 1);
    // AgencyType: prologue + agencyRoleDescriptionRegistryText, agencyType.
    let agency = &v["agencyComponent"][0];
    assert_prologue(agency, "agencyComponent");
    assert_eq!(agency["$id"], "seoul.police.example");
    assert_eq!(agency["agencyRoleDescriptionRegistryText"][0], "Dispatch");
    assert_eq!(agency["agencyType"][0], "police");
    assert_eq!(agency["incidentOwningAgencyIndicator"], true);
    // LocationInformationType: prologue + locationTypeDescriptionRegistryText.
    let loc = &v["locationComponent"][0];
    assert_prologue(loc, "locationComponent");
    assert_eq!(inc["locationReference"][0]["$ref"], loc["$id"]);
    assert_eq!(loc["locationTypeDescriptionRegistryText"], "Incident");
    assert_eq!(
        loc["locationDescriptionText"],
        "Sejong-daero 110, 04524 Seoul, KR"
    );
    let pidf = eido::read_pidf_lo(loc["locationByValue"].as_str().unwrap()).unwrap();
    assert_eq!(pidf.point, Some((37.5663, 126.9779)));
    assert_eq!(pidf.radius_m, Some(25.0));
    let c = pidf.civic.unwrap();
    assert_eq!(
        (
            c.street.as_deref(),
            c.house_number.as_deref(),
            c.postcode.as_deref()
        ),
        (Some("Sejong-daero"), Some("110"), Some("04524"))
    );
    assert_eq!(
        (c.city.as_deref(), c.country.as_deref()),
        (Some("Seoul"), Some("KR"))
    );
    // Nothing personal: no person, call, callback or notes components, no device or subscriber id anywhere.
    for absent in [
        "personComponent",
        "callComponent",
        "callbackComponent",
        "notesComponent",
    ] {
        assert!(v.get(absent).is_none(), "{absent}");
    }
    let json = e.to_json();
    assert!(
        !json.contains(&i.device_id.0.to_string())
            && !json.contains(&i.subscriber_id.unwrap().0.to_string())
    );
}

#[test]
fn coarse_exports_keep_only_city_and_country_and_closed_ones_say_so() {
    let i = incident(4, false, Some(Outcome::Assistance));
    let e = incident_to_eido(&i, Some(&civic()), &ctx(Detail::Coarse));
    let loc = &e.location_component[0];
    let pidf = eido::read_pidf_lo(loc.location_by_value.as_deref().unwrap()).unwrap();
    assert_eq!(pidf.point, None);
    let c = pidf.civic.unwrap();
    assert_eq!((c.street, c.house_number, c.postcode), (None, None, None));
    assert_eq!(c.city.as_deref(), Some("Seoul"));
    let inc = e.incident_component.as_ref().unwrap();
    assert_eq!(
        inc.incident_status_common_registry_text,
        vec!["Closed".to_string()]
    );
    let bare = incident_to_eido(&incident(2, false, None), None, &ctx(Detail::Full));
    assert!(
        bare.location_component.is_empty()
            && bare
                .incident_component
                .unwrap()
                .location_reference
                .is_empty()
    );
}

#[test]
fn an_export_imports_back_as_the_same_referral() {
    let i = incident(0, true, None);
    let json = incident_to_eido(&i, Some(&civic()), &ctx(Detail::Full)).to_json();
    let r = eido_to_referral(&Eido::from_json(&json).unwrap()).unwrap();
    assert_eq!(
        r.eido_id,
        format!(
            "urn:emergency:uid:incidentid:{}:seoul.police.example",
            i.id.0
        )
    );
    assert_eq!(r.referring_agency, "seoul.police.example");
    assert_eq!(r.issuing_element, "jikimi.seoul.police.example");
    assert_eq!(r.priority.code(), 0);
    assert_eq!(r.point, Some((37.5663, 126.9779)));
    assert_eq!(r.radius_m, Some(25.0));
    assert_eq!(r.civic, Some(civic()));
    assert_eq!(r.updated_at, i.updated_at);
    assert_eq!(r.incident_type.as_deref(), Some("Police"));
}

/// A referral shaped like NENA's sample call-transfer EIDO (ids and values are ours).
const REFERRAL: &str = r#"{
  "$id": "urn:emergency:uid:incidentid:77aa:busan.cad.example",
  "lastUpdateTimeStamp": "2026-04-30T14:43:49.439+09:00",
  "updatedByAgencyReference": {"$ref": "busan.cad.example"},
  "updatedByAgentReference": {"$ref": "agent7@busan.cad.example"},
  "eidoVersion": "1.0",
  "issuingElementIdentification": "cad.busan.cad.example",
  "incidentComponent": {
    "$id": "urn:emergency:uid:incidentid:77aa:busan.cad.example",
    "lastUpdateTimeStamp": "2026-04-30T14:43:49.439+09:00",
    "updatedByAgencyReference": {"$ref": "busan.cad.example"},
    "incidentTypeCommonRegistryText": "Medical",
    "incidentCommonPriorityNumber": 9,
    "locationReference": [{"$ref": "loc-2"}]
  },
  "callComponent": [{"$id": "call-1", "standardPrimaryCallType": "emergency"}],
  "agencyComponent": [{
    "$id": "busan.cad.example",
    "lastUpdateTimeStamp": "2026-04-30T14:40:00+09:00",
    "updatedByAgencyReference": {"$ref": "busan.cad.example"},
    "agencyRoleDescriptionRegistryText": ["CallReceiving"],
    "agencyType": ["psap"]
  }],
  "locationComponent": [
    {"$id": "loc-1", "lastUpdateTimeStamp": "2026-04-30T14:40:00+09:00", "updatedByAgencyReference": {"$ref": "busan.cad.example"},
     "locationTypeDescriptionRegistryText": "Caller", "locationByReferenceUrl": "https://lrf.example/abc"},
    {"$id": "loc-2", "lastUpdateTimeStamp": "2026-04-30T14:40:00+09:00", "updatedByAgencyReference": {"$ref": "busan.cad.example"},
     "locationTypeDescriptionRegistryText": "Incident",
     "locationByValue": "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" xmlns:gml=\"http://www.opengis.net/gml\" entity=\"pres:x@y\"><tuple id=\"t\"><status><gp:geopriv><gp:location-info><gml:Point><gml:pos>35.1796 129.0756</gml:pos></gml:Point><civicAddress xmlns=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\"><country>KR</country><A3>Busan</A3></civicAddress></gp:location-info></gp:geopriv></status></tuple></presence>"}
  ],
  "@context": {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"}
}"#;

#[test]
fn a_referral_from_another_cad_reads_field_by_field() {
    let r = eido_to_referral(&Eido::from_json(REFERRAL).unwrap()).unwrap();
    assert_eq!(
        r.eido_id,
        "urn:emergency:uid:incidentid:77aa:busan.cad.example"
    );
    assert_eq!(r.referring_agency, "busan.cad.example");
    assert_eq!(r.issuing_element, "cad.busan.cad.example");
    assert_eq!(r.incident_type.as_deref(), Some("Medical"));
    // 9 is not a 112 code: the default.
    assert_eq!(r.priority.code(), 2);
    assert_eq!(r.point, Some((35.1796, 129.0756)));
    assert_eq!(r.radius_m, None);
    let civic = r.civic.unwrap();
    assert_eq!(
        (civic.city.as_deref(), civic.country.as_deref()),
        (Some("Busan"), Some("KR"))
    );
    assert_eq!(r.updated_at.as_unix_ms(), 1_777_527_829_439);
}

#[test]
fn malformed_referrals_are_refused() {
    let v: Value = serde_json::from_str(REFERRAL).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = v.clone();
        f(&mut v);
        Eido::from_json(&v.to_string()).and_then(|e| eido_to_referral(&e))
    };
    assert!(matches!(
        with(&|v| v["eidoVersion"] = "2.0".into()),
        Err(Error::Invalid {
            element: "eidoVersion",
            ..
        })
    ));
    assert!(matches!(
        with(&|v| v["agencyComponent"] = Value::Array(vec![])),
        Err(Error::Missing {
            element: "agencyComponent",
            ..
        })
    ));
    assert!(matches!(
        with(&|v| {
            v.as_object_mut()
                .unwrap()
                .remove("issuingElementIdentification");
        }),
        Err(Error::Json(_))
    ));
    assert!(matches!(
        with(&|v| v["$id"] = " ".into()),
        Err(Error::Invalid { element: "$id", .. })
    ));
    assert!(matches!(
        with(&|v| v["incidentComponent"]["locationReference"][0]["$ref"] = "nowhere".into()),
        Err(Error::Invalid {
            element: "locationReference",
            ..
        })
    ));
    assert!(matches!(
        with(&|v| v["lastUpdateTimeStamp"] = "yesterday".into()),
        Err(Error::Invalid { .. })
    ));
    assert!(
        with(&|v| v["locationComponent"][1]["locationByValue"] =
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><presence/>".into())
        .is_err()
    );
    assert!(with(&|v| v["locationComponent"][1]["locationByValue"] = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:gml=\"http://www.opengis.net/gml\"><gml:pos>95 10</gml:pos></presence>".into()).is_err());
    assert!(matches!(
        Eido::from_json(&" ".repeat(eido::MAX_EIDO_BYTES + 1)),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(Eido::from_json("[1,2]"), Err(Error::Json(_))));
}
