//! Shared fixtures: the vendored OASIS files, an xmllint check against the CAP schema, and sample incidents.

use std::io::Write as _;
use std::process::{Command, Stdio};

use jikimi_respond::*;
use jikimi_standards::mapping::{CivicAddress, Detail, ExportContext};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cap");

pub fn oasis_examples() -> Vec<(String, String)> {
    (1..=4)
        .map(|i| {
            let name = format!("oasis-example-a{i}.xml");
            let text = std::fs::read_to_string(format!("{DATA}/{name}")).unwrap();
            (name, text)
        })
        .collect()
}

/// Validates `document` against the vendored OASIS CAP 1.2 schema with xmllint; a missing xmllint is a failure
/// (`.ci/setup-xmllint.sh` installs it).
pub fn assert_valid_cap(document: &str) {
    let mut child = Command::new("xmllint")
        .args([
            "--noout",
            "--nonet",
            "--schema",
            &format!("{DATA}/CAP-v1.2.xsd"),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint is needed (Debian: libxml2-utils; .ci/setup-xmllint.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "xmllint refused the document: {}\n{document}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ctx(detail: Detail) -> ExportContext {
    ExportContext {
        agency: "seoul.police.example".into(),
        sender: "jikimi@seoul.police.example".into(),
        element: "jikimi.seoul.police.example".into(),
        now: Timestamp::from_unix_ms(1_796_584_611_000),
        detail,
    }
}

pub fn civic() -> CivicAddress {
    CivicAddress {
        street: Some("Sejong-daero".into()),
        house_number: Some("110".into()),
        postcode: Some("04524".into()),
        city: Some("Seoul".into()),
        country: Some("KR".into()),
    }
}

/// An incident opened at Seoul City Hall with priority `code`, optionally located, acknowledged and closed.
pub fn incident(code: u8, located: bool, closed: Option<Outcome>) -> Incident {
    let t0 = Timestamp::from_unix_ms(1_796_584_000_000);
    let fix = located.then(|| {
        LocationFix::new(
            Coordinates::new(37.5663, 126.9779).unwrap(),
            25.0,
            FixMethod::Gnss,
            t0,
        )
        .unwrap()
    });
    let first = IncidentEvent {
        seq: 1,
        at: t0,
        actor: Actor::System,
        kind: EventKind::AlertReceived {
            alert_id: AlertId::new_v4(),
            device_id: DeviceId::new_v4(),
            subscriber_id: Some(SubscriberId::new_v4()),
            priority: Priority::new(code).unwrap(),
            fix,
            silent: true,
        },
    };
    let mut i = Incident::start(IncidentId::new_v4(), &first).unwrap();
    if let Some(outcome) = closed {
        i.apply(&IncidentEvent {
            seq: 2,
            at: Timestamp::from_unix_ms(1_796_584_100_000),
            actor: Actor::Staff("kim".into()),
            kind: EventKind::Closed { outcome },
        })
        .unwrap();
    }
    i
}
