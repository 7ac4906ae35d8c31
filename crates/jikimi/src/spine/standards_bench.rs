//! `jikimi bench standards`: CAP and EIDO documents produced and parsed per second, single thread.
//!
//! Each round maps a synthetic located incident (with a civic address) to a CAP alert and writes it, and to an EIDO
//! and serialises it; then reads the CAP back with the strict reader and the EIDO back into a referral (which
//! parses its PIDF-LO location). The reference, measured in the same run on the same incidents: `serde_json` of
//! the incident projection itself, so the ratios say what the standard formats cost over jikimi's own wire form.

use std::time::Instant;

use jikimi_respond::{
    Actor, AlertId, Coordinates, DeviceId, EventKind, FixMethod, Incident, IncidentEvent,
    IncidentId, LocationFix, Priority, Timestamp,
};
use jikimi_standards::mapping::{CivicAddress, Detail, ExportContext};
use jikimi_standards::{cap, eido, mapping};
use serde_json::json;

/// `jikimi bench standards` options.
#[derive(Debug, clap::Args)]
pub struct StandardsArgs {
    /// Documents of each kind produced and parsed.
    #[arg(long, env = "JIKIMI_BENCH_DOCUMENTS", default_value_t = 20_000)]
    documents: usize,
    /// Print the result as one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

fn incidents(n: usize) -> anyhow::Result<Vec<Incident>> {
    (0..n)
        .map(|i| {
            let t = Timestamp::from_unix_ms(1_796_584_000_000 + i as i64 * 1000);
            let lat = 37.4 + (i % 1000) as f64 * 0.0003;
            let lon = 126.8 + (i / 1000 % 1000) as f64 * 0.0003;
            let fix = LocationFix::new(
                Coordinates::new(lat, lon)?,
                10.0 + (i % 90) as f64,
                FixMethod::Gnss,
                t,
            )?;
            let first = IncidentEvent {
                seq: 1,
                at: t,
                actor: Actor::System,
                kind: EventKind::AlertReceived {
                    alert_id: AlertId::new_v4(),
                    device_id: DeviceId::new_v4(),
                    subscriber_id: None,
                    priority: Priority::new((i % 5) as u8)?,
                    fix: Some(fix),
                    silent: true,
                },
            };
            Ok(Incident::start(IncidentId::new_v4(), &first)?)
        })
        .collect()
}

fn per_second(n: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        f64::INFINITY
    }
}

/// Runs the benchmark and prints its report.
pub fn standards(args: StandardsArgs) -> anyhow::Result<()> {
    let n = args.documents.max(1);
    let incidents = incidents(n)?;
    let civic = CivicAddress {
        street: Some("Sejong-daero".into()),
        house_number: Some("110".into()),
        postcode: Some("04524".into()),
        city: Some("Seoul".into()),
        country: Some("KR".into()),
    };
    let ctx = ExportContext {
        agency: "bench.police.example".into(),
        sender: "jikimi@bench.police.example".into(),
        element: "jikimi.bench.police.example".into(),
        now: Timestamp::from_unix_ms(1_796_584_611_000),
        detail: Detail::Full,
    };

    let start = Instant::now();
    let reference: Vec<String> = incidents
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    let reference_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut caps = Vec::with_capacity(n);
    for i in &incidents {
        caps.push(cap::write(&mapping::incident_to_cap(
            i,
            Some(&civic),
            &ctx,
        )?)?);
    }
    let cap_write_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let eidos: Vec<String> = incidents
        .iter()
        .map(|i| mapping::incident_to_eido(i, Some(&civic), &ctx).to_json())
        .collect();
    let eido_write_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    for doc in &caps {
        cap::parse(doc)?;
    }
    let cap_parse_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    for doc in &eidos {
        mapping::eido_to_referral(&eido::Eido::from_json(doc)?)?;
    }
    let eido_parse_s = start.elapsed().as_secs_f64();

    let reference_rate = per_second(n, reference_s);
    let rates = [
        ("cap_written_per_s", per_second(n, cap_write_s)),
        ("eido_written_per_s", per_second(n, eido_write_s)),
        ("cap_parsed_per_s", per_second(n, cap_parse_s)),
        ("eido_parsed_per_s", per_second(n, eido_parse_s)),
    ];
    let mean_bytes =
        |docs: &[String]| docs.iter().map(String::len).sum::<usize>() as f64 / n as f64;
    if args.json {
        let mut report = json!({
            "documents": n,
            "reference_incident_json_per_s": reference_rate.round(),
            "mean_bytes": {
                "cap": mean_bytes(&caps).round(),
                "eido": mean_bytes(&eidos).round(),
                "incident_json": mean_bytes(&reference).round(),
            },
        });
        for (name, rate) in rates {
            report[name] = json!(rate.round());
            report[format!("{name}_ratio_to_reference")] =
                json!((rate / reference_rate * 1000.0).round() / 1000.0);
        }
        println!("{report}");
    } else {
        println!("{n} documents of each kind, one thread");
        println!("reference: incident projection as serde_json  {reference_rate:>12.0}/s");
        for (name, rate) in rates {
            println!(
                "{name:<28} {rate:>12.0}/s  ({:.3} of reference)",
                rate / reference_rate
            );
        }
        println!(
            "mean bytes: CAP {:.0}, EIDO {:.0}, incident JSON {:.0}",
            mean_bytes(&caps),
            mean_bytes(&eidos),
            mean_bytes(&reference)
        );
    }
    Ok(())
}
