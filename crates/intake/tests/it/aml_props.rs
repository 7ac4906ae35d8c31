//! Properties: the parsers never panic, and a well-formed message built from random valid
//! fields round-trips its values.

use jikimi_intake::{parse_form, parse_sms};
use proptest::prelude::*;

/// Builds a message with the right `ml` (the field counts itself, so iterate to a fixpoint).
fn with_ml(body: &str) -> String {
    let mut n = body.len() + 5;
    loop {
        let m = format!("{body};ml={n}");
        if m.len() == n {
            return m;
        }
        n = m.len();
    }
}

proptest! {
    #[test]
    fn sms_never_panics(s in "\\PC{0,200}") {
        let _ = parse_sms(&s);
    }

    #[test]
    fn sms_near_valid_never_panics(s in "A\"ML=1;[a-z]{1,3}=[-+0-9.N]{0,8}(;[a-z]{1,3}=[-+0-9.NGWC]{0,16}){0,14}") {
        let _ = parse_sms(&s);
    }

    #[test]
    fn form_never_panics(s in "[a-z_]{0,20}=[-+%0-9A-Fa-z.]{0,20}(&[a-z_]{0,20}=[-+%0-9A-Fa-z.]{0,20}){0,12}") {
        let _ = parse_form(&s);
    }

    #[test]
    fn valid_fields_round_trip(
        lat in -89_99999i32..=89_99999,
        lon in -179_99999i32..=179_99999,
        rd in 0u32..100_000,
        lc in 0u8..=100,
        pm in prop::sample::select(vec!["G", "W", "C"]),
    ) {
        let fmt = |v: i32, w: usize| format!("{}{:0w$}.{:05}", if v < 0 { '-' } else { '+' }, v.abs() / 100_000, v.abs() % 100_000);
        let body = format!(
            "A\"ML=1;lt={};lg={};rd={rd};top=20260314092653;lc={lc};pm={pm};si=450050000000000;ei=350000000000014;mcc=450;mnc=05",
            fmt(lat, 2), fmt(lon, 3)
        );
        let msg = with_ml(&body);
        let r = parse_sms(&msg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (la, lo, radius) = r.position().ok_or_else(|| TestCaseError::fail("no position"))?;
        prop_assert!((la - f64::from(lat) / 1e5).abs() < 1e-9);
        prop_assert!((lo - f64::from(lon) / 1e5).abs() < 1e-9);
        prop_assert_eq!(radius, Some(f64::from(rd)));
        prop_assert_eq!(r.confidence_pct, Some(lc));
    }
}
