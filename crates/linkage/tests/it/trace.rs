//! Tracing: three agencies' cases where one organisation's phones and accounts move from Cambodia to the
//! Philippines over months (issue 11 acceptance); the relocation is flagged with its evidence.

use jikimi_linkage::trace::{
    Case, Coordinates, EntityKind, EntityMention, Month, RelocationOptions, TraceGraph,
};

use crate::data::TestResult;

fn case(
    agency: &str,
    id: &str,
    country: &str,
    month: &str,
    entities: &[(EntityKind, &str)],
) -> Result<Case, String> {
    Ok(Case {
        agency: agency.into(),
        case_id: id.into(),
        country: country.into(),
        month: Month::parse(month).ok_or_else(|| format!("bad month {month}"))?,
        entities: entities
            .iter()
            .map(|(kind, value)| EntityMention {
                kind: *kind,
                value: value.to_string(),
            })
            .collect(),
    })
}

fn cases() -> Result<Vec<Case>, String> {
    use EntityKind::*;
    Ok(vec![
        // Korea's police (KNPA): victims in Korea paid into accounts run from Cambodia, Jan-Jun 2024.
        case(
            "KNPA",
            "K-101",
            "KHM",
            "2024-01",
            &[(Phone, "010-1234-5678"), (Account, "110-234-567890")],
        )?,
        case(
            "KNPA",
            "K-102",
            "KHM",
            "2024-02",
            &[(Phone, "+82 10 1234 5678"), (Person, "Lee Min-jun")],
        )?,
        case(
            "KNPA",
            "K-103",
            "KHM",
            "2024-03",
            &[
                (Account, "110234567890"),
                (Wallet, "0x52908400098527886E0F7030069857D2E4169EE7"),
            ],
        )?,
        // Cambodia's police: raids in Sihanoukville, Mar-Jun 2024, then a crackdown.
        case(
            "KHM-NP",
            "C-7",
            "KHM",
            "2024-04",
            &[(Person, "RHEE MINJUN"), (Phone, "+855 12 345 678")],
        )?,
        case(
            "KHM-NP",
            "C-8",
            "KHM",
            "2024-05",
            &[(Phone, "+855 12 345 678"), (Account, "110 234 567890")],
        )?,
        case("KHM-NP", "C-9", "KHM", "2024-06", &[(Phone, "01012345678")])?,
        // Philippines police: the same phone, account and wallet in Manila from August.
        case(
            "PNP",
            "P-1",
            "PHL",
            "2024-08",
            &[(Phone, "+82-10-1234-5678"), (Place, "Pasay")],
        )?,
        case(
            "PNP",
            "P-2",
            "PHL",
            "2024-09",
            &[(Account, "110-2345-67890"), (Person, "Yi Minjoon")],
        )?,
        case(
            "PNP",
            "P-3",
            "PHL",
            "2024-10",
            &[
                (Wallet, "0x52908400098527886e0f7030069857d2e4169ee7"),
                (Place, "Pasay"),
            ],
        )?,
        case(
            "PNP",
            "P-4",
            "PHL",
            "2024-11",
            &[(Place, "pasay"), (Phone, "+63 917 555 0101")],
        )?,
        // An unrelated organisation, steady in Korea all year.
        case(
            "KNPA",
            "K-201",
            "KOR",
            "2024-02",
            &[(Phone, "010-9999-0000")],
        )?,
        case("KNPA", "K-202", "KOR", "2024-06", &[(Phone, "01099990000")])?,
        case(
            "KNPA",
            "K-203",
            "KOR",
            "2024-10",
            &[(Phone, "+82 10 9999 0000")],
        )?,
    ])
}

#[test]
fn relocation_from_cambodia_to_philippines_is_flagged_with_evidence() -> TestResult {
    let graph = TraceGraph::new(cases()?);
    let organisations = graph.organisations();
    assert_eq!(
        organisations.len(),
        2,
        "the scam network and the unrelated group"
    );
    let relocations = graph.relocations(&RelocationOptions::default());
    assert_eq!(relocations.len(), 1, "{relocations:#?}");
    let r = &relocations[0];
    assert_eq!(
        (r.from_country.as_str(), r.to_country.as_str()),
        ("KHM", "PHL")
    );
    assert!(
        r.month
            >= Month {
                year: 2024,
                month: 7
            }
            && r.month
                <= Month {
                    year: 2024,
                    month: 8
                },
        "{}",
        r.month
    );
    let bridges: Vec<&str> = r.evidence.iter().map(|b| b.entity.as_str()).collect();
    assert!(bridges.contains(&"phone:+821012345678"), "{bridges:?}");
    assert!(bridges.contains(&"account:110234567890"), "{bridges:?}");
    assert!(
        bridges.contains(&"wallet:0x52908400098527886e0f7030069857d2e4169ee7"),
        "{bridges:?}"
    );
    assert!(
        bridges.contains(&"person:lee minjun"),
        "Korean name variants meet: {bridges:?}"
    );
    let phone = r
        .evidence
        .iter()
        .find(|b| b.entity == "phone:+821012345678")
        .map(|b| b.cases.clone())
        .unwrap_or_default();
    assert!(
        phone.iter().any(|c| c.starts_with("KHM-NP/"))
            && phone.iter().any(|c| c.starts_with("PNP/")),
        "{phone:?}"
    );
    Ok(())
}

#[test]
fn graphml_export_has_cases_entities_and_edges() -> TestResult {
    let graph = TraceGraph::new(cases()?);
    let xml = graph.to_graphml();
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<data key=\"d0\">case</data>").count(), 13);
    assert!(xml.contains("phone:+821012345678"));
    assert!(xml.matches("<edge ").count() >= 13);
    Ok(())
}

#[test]
fn geojson_export_has_places_as_points_with_activity() -> TestResult {
    let mut graph = TraceGraph::new(cases()?);
    let pasay = Coordinates::new(14.5378, 121.0014).ok_or("pasay is on the globe")?;
    assert!(graph.set_place_coordinates("PASAY ", pasay));
    assert_eq!(Coordinates::new(91.0, 0.0), None);
    assert_eq!(Coordinates::new(f64::NAN, 0.0), None);
    let geojson = graph.to_geojson();
    assert_eq!(geojson["type"], "FeatureCollection");
    let features = geojson["features"].as_array().ok_or("features")?;
    assert_eq!(features.len(), 1);
    let place = &features[0];
    assert_eq!(place["geometry"]["type"], "Point");
    // Longitude first (RFC 7946).
    assert_eq!(place["geometry"]["coordinates"][0], 121.0014);
    assert_eq!(place["geometry"]["coordinates"][1], 14.5378);
    assert_eq!(place["properties"]["name"], "pasay");
    // "Pasay" and "pasay" are one place, named in three Philippine cases.
    let activity = place["properties"]["activity"]
        .as_object()
        .ok_or("activity")?;
    assert_eq!(activity.keys().collect::<Vec<_>>(), ["PHL"]);
    let total: u64 = activity["PHL"]
        .as_object()
        .ok_or("months")?
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(total, 3);
    assert_eq!(
        place["properties"]["cases"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        place["properties"]["organisations"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(geojson["places_without_coordinates"], 0);
    Ok(())
}
