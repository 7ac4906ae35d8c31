//! The public warnings feed: each entry's inline CAP alert validates against the OASIS schema and reads back as the
//! warning; the feed has the elements RFC 4287 requires.

use jikimi_respond::Timestamp;
use jikimi_standards::atom::{Feed, PublicWarning, atom_feed, warning_to_cap};
use jikimi_standards::cap;
use jikimi_standards::xml;

use crate::fixtures::*;

pub fn warning(n: u128) -> PublicWarning {
    PublicWarning {
        id: uuid::Uuid::from_u128(n),
        issued_at: Timestamp::from_unix_ms(1_796_584_611_000 + n as i64 * 60_000),
        headline: format!("Flooding on the Han <river> & roads {n}"),
        description: "Stay away from the riverbanks.".into(),
        instruction: Some("Move to higher ground.".into()),
        category: cap::Category::Met,
        urgency: cap::Urgency::Immediate,
        severity: cap::Severity::Severe,
        certainty: cap::Certainty::Observed,
        area: cap::Area {
            area_desc: "Yeouido, Seoul".into(),
            polygons: vec![
                cap::Polygon::new(vec![
                    cap::LatLon {
                        lat: 37.52,
                        lon: 126.91,
                    },
                    cap::LatLon {
                        lat: 37.53,
                        lon: 126.94,
                    },
                    cap::LatLon {
                        lat: 37.51,
                        lon: 126.94,
                    },
                    cap::LatLon {
                        lat: 37.52,
                        lon: 126.91,
                    },
                ])
                .unwrap(),
            ],
            circles: vec![
                cap::Circle::new(
                    cap::LatLon {
                        lat: 37.52,
                        lon: 126.92,
                    },
                    1.5,
                )
                .unwrap(),
            ],
            ..cap::Area::default()
        },
        expires: Some(Timestamp::from_unix_ms(1_796_600_000_000)),
        language: "ko".into(),
    }
}

#[test]
fn the_feed_carries_valid_cap_alerts() {
    let entries: Vec<_> = (1..=3).map(warning).collect();
    let feed = Feed {
        id: "tag:seoul.police.example,2026:warnings".into(),
        title: "Public warnings".into(),
        self_url: "https://jikimi.example/api/warnings.atom".into(),
        author: "Seoul police".into(),
    };
    let atom = atom_feed(
        &feed,
        &entries,
        "seoul.police.example",
        "jikimi@seoul.police.example",
        Timestamp::from_unix_ms(0),
    )
    .unwrap();
    let root = xml::parse(&atom, xml::Limits::default()).unwrap();
    assert_eq!(
        (root.name.as_str(), root.ns.as_deref()),
        ("feed", Some("http://www.w3.org/2005/Atom"))
    );
    for required in ["id", "title", "updated", "author", "link"] {
        assert!(
            root.children.iter().any(|c| c.name == required),
            "{required}"
        );
    }
    let feed_entries: Vec<_> = root.children.iter().filter(|c| c.name == "entry").collect();
    assert_eq!(feed_entries.len(), 3);
    for required in ["id", "title", "updated", "content"] {
        assert!(
            feed_entries[0].children.iter().any(|c| c.name == required),
            "entry {required}"
        );
    }
    // Each inline alert is a standalone CAP document.
    let mut rest = atom.as_str();
    let mut n = 0;
    while let Some(start) = rest.find("<alert ") {
        let end = rest[start..].find("</alert>").unwrap() + start + "</alert>".len();
        let alert_xml = &rest[start..end];
        assert_valid_cap(alert_xml);
        let parsed = cap::parse(alert_xml).unwrap();
        n += 1;
        let expected = warning_to_cap(
            &warning(n),
            "seoul.police.example",
            "jikimi@seoul.police.example",
        )
        .unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(parsed.scope, cap::Scope::Public);
        rest = &rest[end..];
    }
    assert_eq!(n, 3);
}

#[test]
fn an_empty_feed_is_still_a_feed() {
    let feed = Feed {
        id: "tag:x,2026:w".into(),
        title: "t".into(),
        self_url: "https://x/w".into(),
        author: "a".into(),
    };
    let atom = atom_feed(&feed, &[], "x", "jikimi@x", Timestamp::from_unix_ms(0)).unwrap();
    assert!(atom.contains("<updated>1970-01-01T00:00:00.000Z</updated>"));
    assert!(xml::parse(&atom, xml::Limits::default()).is_ok());
}
