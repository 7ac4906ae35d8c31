//! CAP 1.2: the OASIS examples round-trip, every export validates against the OASIS schema, and the reader refuses
//! what the schema refuses (naming the element) and what an attacker sends (DTDs, entities, size).

use jikimi_respond::Outcome;
use jikimi_standards::Error;
use jikimi_standards::cap::{self, Alert};
use jikimi_standards::mapping::{Detail, incident_to_cap};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;

use crate::fixtures::*;

#[test]
fn the_vendored_oasis_examples_validate_against_the_schema() {
    for (_, text) in oasis_examples() {
        assert_valid_cap(&text);
    }
}

#[test]
fn oasis_examples_round_trip_through_the_writer() {
    for (name, text) in oasis_examples() {
        let alert = cap::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = cap::write(&alert).unwrap();
        assert_valid_cap(&written);
        assert_eq!(cap::parse(&written).unwrap(), alert, "{name}");
    }
}

#[test]
fn oasis_examples_read_as_the_spec_shows() {
    let examples = oasis_examples();
    let thunderstorm = cap::parse(&examples[1].1).unwrap();
    assert_eq!(thunderstorm.identifier, "KSTO1055887203");
    assert_eq!(
        thunderstorm.sent.timestamp().as_unix_ms(),
        1_055_887_020_000
    );
    let info = &thunderstorm.infos[0];
    assert_eq!(info.categories, vec![cap::Category::Met]);
    assert_eq!(info.response_types, vec![cap::ResponseType::Shelter]);
    let area = &info.areas[0];
    assert_eq!(area.polygons[0].ring().len(), 5);
    assert_eq!(
        area.polygons[0].ring()[1],
        cap::LatLon {
            lat: 38.34,
            lon: -119.95
        }
    );
    assert_eq!(area.geocodes.len(), 3);

    let quake = cap::parse(&examples[2].1).unwrap();
    assert_eq!(quake.msg_type, cap::MsgType::Update);
    let circle = quake.areas().next().unwrap().circles[0];
    assert_eq!(
        circle.centre(),
        cap::LatLon {
            lat: 32.9525,
            lon: -115.5527
        }
    );
    assert_eq!(circle.radius_km(), 0.0);

    let amber = cap::parse(&examples[3].1).unwrap();
    assert_eq!(amber.infos.len(), 2);
    assert_eq!(amber.infos[1].language.as_deref(), Some("es-US"));
    assert_eq!(amber.infos[1].event, "Abducción de Niño");
}

#[test]
fn every_incident_export_validates_against_the_oasis_schema() {
    for code in 0..=4 {
        for located in [false, true] {
            for closed in [None, Some(Outcome::Rescue), Some(Outcome::FalseAlarm)] {
                let incident = incident(code, located, closed);
                for detail in [Detail::Full, Detail::Coarse] {
                    for civic in [None, Some(civic())] {
                        let alert =
                            incident_to_cap(&incident, civic.as_ref(), &ctx(detail)).unwrap();
                        let xml = cap::write(&alert).unwrap();
                        assert_valid_cap(&xml);
                        assert_eq!(cap::parse(&xml).unwrap(), alert);
                    }
                }
            }
        }
    }
}

#[test]
fn the_incident_mapping_field_by_field() {
    let i = incident(0, true, None);
    let a = incident_to_cap(&i, Some(&civic()), &ctx(Detail::Full)).unwrap();
    assert_eq!(
        a.identifier,
        format!("seoul.police.example.incident.{}.1", i.id.0)
    );
    assert_eq!(a.sender, "jikimi@seoul.police.example");
    assert_eq!(a.sent.as_str(), "2026-12-06T19:16:51+00:00");
    assert_eq!(
        (a.status, a.msg_type, a.scope),
        (
            cap::Status::Actual,
            cap::MsgType::Alert,
            cap::Scope::Restricted
        )
    );
    assert_eq!(a.incidents.as_deref(), Some(i.id.0.to_string().as_str()));
    let info = &a.infos[0];
    assert_eq!(info.categories, vec![cap::Category::Rescue]);
    assert_eq!(
        (info.urgency, info.severity, info.certainty),
        (
            cap::Urgency::Immediate,
            cap::Severity::Extreme,
            cap::Certainty::Likely
        )
    );
    assert_eq!(info.event_codes[0].value, "0");
    let area = &info.areas[0];
    assert_eq!(area.area_desc, "Sejong-daero 110, 04524 Seoul, KR");
    assert_eq!(
        area.circles[0].centre(),
        cap::LatLon {
            lat: 37.5663,
            lon: 126.9779
        }
    );
    assert_eq!(area.circles[0].radius_km(), 0.025);

    let coarse = incident_to_cap(&i, Some(&civic()), &ctx(Detail::Coarse)).unwrap();
    assert_eq!(coarse.infos[0].areas[0].area_desc, "Seoul, KR");

    let closed = incident_to_cap(
        &incident(3, false, Some(Outcome::Abuse)),
        None,
        &ctx(Detail::Full),
    )
    .unwrap();
    let info = &closed.infos[0];
    assert_eq!(closed.msg_type, cap::MsgType::Update);
    assert_eq!(
        (info.urgency, info.severity, info.certainty),
        (
            cap::Urgency::Past,
            cap::Severity::Minor,
            cap::Certainty::Unlikely
        )
    );
    assert_eq!(info.areas[0].area_desc, "incident location");
    assert!(info.areas[0].circles.is_empty());
    assert!(
        info.parameters
            .iter()
            .any(|p| p.name == "jikimi-outcome" && p.value == "abuse")
    );
}

#[test]
fn an_export_carries_no_personal_data() {
    let i = incident(1, true, None);
    let xml = cap::write(&incident_to_cap(&i, None, &ctx(Detail::Full)).unwrap()).unwrap();
    assert!(!xml.contains(&i.device_id.0.to_string()));
    assert!(!xml.contains(&i.subscriber_id.unwrap().0.to_string()));
}

fn minimal(body: &str) -> String {
    format!(
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</identifier><sender>s</sender>\
         <sent>2026-01-01T00:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>{body}</alert>"
    )
}

const INFO_HEAD: &str = "<category>Safety</category><event>e</event><urgency>Immediate</urgency>\
                         <severity>Severe</severity><certainty>Likely</certainty>";

fn area(inner: &str) -> String {
    minimal(&format!(
        "<info>{INFO_HEAD}<area><areaDesc>a</areaDesc>{inner}</area></info>"
    ))
}

#[test]
fn the_reader_names_the_offending_element() {
    let cases: Vec<(String, Error)> = vec![
        (
            minimal("").replace("<sender>s</sender>", ""),
            Error::Missing {
                element: "sender",
                parent: "alert",
            },
        ),
        (
            minimal("").replace(
                "<status>Actual</status><msgType>Alert</msgType>",
                "<msgType>Alert</msgType><status>Actual</status>",
            ),
            Error::Order {
                element: "status",
                parent: "alert",
            },
        ),
        (
            minimal("<note>a</note><note>b</note>"),
            Error::Duplicate {
                element: "note",
                parent: "alert",
            },
        ),
        (
            minimal("<colour>red</colour>"),
            Error::Unexpected {
                element: "colour".into(),
                parent: "alert",
            },
        ),
        (
            minimal(&format!(
                "<info>{}</info>",
                INFO_HEAD.replace("<event>e</event>", "")
            )),
            Error::Missing {
                element: "event",
                parent: "info",
            },
        ),
        (
            minimal(&format!(
                "<info>{}</info>",
                INFO_HEAD.replace("<category>Safety</category>", "")
            )),
            Error::Missing {
                element: "category",
                parent: "info",
            },
        ),
        (
            area("<areaDesc>b</areaDesc>"),
            Error::Duplicate {
                element: "areaDesc",
                parent: "area",
            },
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(cap::parse(&doc).unwrap_err(), expected, "{doc}");
    }
    let bad_values = [
        (minimal("").replace("Actual", "Real"), "status"),
        (minimal("").replace("+00:00", "Z"), "sent"),
        (
            minimal("").replace("<identifier>x</identifier>", "<identifier>a b</identifier>"),
            "identifier",
        ),
        (minimal("").replace("Public", "Restricted"), "restriction"),
        (area("<polygon>1,1 2,2 3,3 1,1.5</polygon>"), "polygon"),
        (area("<polygon>1,1 2,2 1,1</polygon>"), "polygon"),
        (area("<polygon>91,1 2,2 3,3 91,1</polygon>"), "polygon"),
        (area("<circle>1,1 -2</circle>"), "circle"),
        (area("<circle>1,1</circle>"), "circle"),
        (area("<altitude>1e3</altitude>"), "altitude"),
        (area("<ceiling>10</ceiling>"), "ceiling"),
    ];
    for (doc, element) in bad_values {
        let err = cap::parse(&doc).unwrap_err();
        assert!(err.to_string().contains(element), "{element}: {err}");
    }
}

#[test]
fn the_reader_refuses_dtds_entities_and_oversized_input() {
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        minimal("<note>&x;</note>")
    );
    assert!(matches!(cap::parse(&xxe), Err(Error::Xml { .. })));
    let laughs = format!(
        "<!DOCTYPE a [<!ENTITY l \"lol\"><!ENTITY l2 \"&l;&l;&l;&l;\">]>{}",
        minimal("<note>&l2;</note>")
    );
    assert!(matches!(cap::parse(&laughs), Err(Error::Xml { .. })));
    assert!(matches!(
        cap::parse(&minimal("<note>&nbsp;</note>")),
        Err(Error::Xml { .. })
    ));
    assert_eq!(
        cap::parse(&minimal("<note>a &amp; &#x41;</note>"))
            .unwrap()
            .note
            .as_deref(),
        Some("a & A")
    );
    let big = minimal(&format!("<note>{}</note>", "a".repeat(1 << 20)));
    assert!(matches!(cap::parse(&big), Err(Error::TooLarge { .. })));
    let deep = minimal(&format!("{}{}", "<x>".repeat(40), "</x>".repeat(40)));
    assert!(matches!(
        cap::parse(&deep),
        Err(Error::Limit {
            what: "nesting depth",
            ..
        })
    ));
    let wrong_ns = minimal("").replace("cap:1.2", "cap:1.1");
    assert!(matches!(
        cap::parse(&wrong_ns),
        Err(Error::Invalid {
            element: "alert",
            ..
        })
    ));
    assert!(cap::parse("").is_err());
    assert!(cap::parse(&format!("{}<alert/>", minimal(""))).is_err());
}

#[test]
fn an_xml_signature_may_end_the_alert() {
    let signed = minimal(
        "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo/></Signature>",
    );
    assert!(cap::parse(&signed).is_ok());
    let misplaced =
        minimal("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/><note>n</note>");
    assert!(cap::parse(&misplaced).is_err());
}

fn text() -> impl Strategy<Value = String> {
    // Printable text including XML's special characters and non-ASCII, never empty after trimming.
    "[a-zA-Z0-9가-힣 <>&'\"]{0,20}[a-z]"
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.@_-]{1,24}"
}

fn latlon() -> impl Strategy<Value = cap::LatLon> {
    (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| cap::LatLon::new(lat, lon).unwrap())
}

fn area_strategy() -> impl Strategy<Value = cap::Area> {
    (
        text(),
        prop::collection::vec(prop::collection::vec(latlon(), 3..8), 0..3),
        prop::collection::vec((latlon(), 0.0f64..500.0), 0..3),
    )
        .prop_map(|(desc, rings, circles)| cap::Area {
            area_desc: desc,
            polygons: rings
                .into_iter()
                .map(|mut r| {
                    r.push(r[0]);
                    cap::Polygon::new(r).unwrap()
                })
                .collect(),
            circles: circles
                .into_iter()
                .map(|(c, r)| cap::Circle::new(c, r).unwrap())
                .collect(),
            ..cap::Area::default()
        })
}

fn alert_strategy() -> impl Strategy<Value = Alert> {
    (
        token(),
        token(),
        0i64..4_000_000_000_000,
        prop::sample::select(cap::Status::ALL.to_vec()),
        prop::sample::select(cap::Category::ALL.to_vec()),
        prop::option::of(text()),
        prop::collection::vec(area_strategy(), 0..3),
        prop::sample::select(cap::Urgency::ALL.to_vec()),
    )
        .prop_map(
            |(identifier, sender, ms, status, category, headline, areas, urgency)| Alert {
                identifier,
                sender,
                sent: cap::CapDateTime::from_timestamp(jikimi_respond::Timestamp::from_unix_ms(ms)),
                status,
                msg_type: cap::MsgType::Alert,
                source: None,
                scope: cap::Scope::Public,
                restriction: None,
                addresses: None,
                codes: vec![],
                note: headline.clone(),
                references: None,
                incidents: None,
                infos: vec![cap::Info {
                    language: None,
                    categories: vec![category],
                    event: "event".into(),
                    response_types: vec![],
                    urgency,
                    severity: cap::Severity::Unknown,
                    certainty: cap::Certainty::Unknown,
                    audience: None,
                    event_codes: vec![],
                    effective: None,
                    onset: None,
                    expires: None,
                    sender_name: None,
                    headline,
                    description: None,
                    instruction: None,
                    web: None,
                    contact: None,
                    parameters: vec![],
                    resources: vec![],
                    areas,
                }],
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_alerts_read_back_equal(alert in alert_strategy()) {
        let xml = cap::write(&alert).unwrap();
        prop_assert_eq!(cap::parse(&xml).unwrap(), alert);
    }

    #[test]
    fn the_reader_is_total_on_mutated_examples(i in 0usize..4, at in 0usize..4000, cut in 0usize..64, junk in "[<>&;/a-z\"=! ]{0,8}") {
        let (_, text) = &oasis_examples()[i];
        let at = at.min(text.len());
        let end = (at + cut).min(text.len());
        if text.is_char_boundary(at) && text.is_char_boundary(end) {
            let mutated = format!("{}{}{}", &text[..at], junk, &text[end..]);
            let _ = cap::parse(&mutated);
        }
    }
}

#[test]
fn a_sample_of_generated_alerts_validates_against_the_schema() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..16 {
        let alert = alert_strategy().new_tree(&mut runner).unwrap().current();
        assert_valid_cap(&cap::write(&alert).unwrap());
    }
}
