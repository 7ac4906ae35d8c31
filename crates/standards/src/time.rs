//! Date-times as CAP and EIDO write them: CAP's `YYYY-MM-DDThh:mm:ss±hh:mm` (no fraction, no `Z`, as the schema's
//! pattern demands) and RFC 3339 for EIDO, both from and to [`Timestamp`] (milliseconds since the Unix epoch).
//! The calendar arithmetic is Howard Hinnant's days-from-civil, so the crate needs no date library.

use jikimi_respond::Timestamp;

use crate::Error;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn fields(t: Timestamp) -> (i64, i64, i64, i64, i64, i64, i64) {
    let ms = t.as_unix_ms();
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        y,
        mo,
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000),
    )
}

/// CAP's form in UTC: `2026-12-06T19:16:51+00:00` (milliseconds dropped; CAP has whole seconds).
pub fn cap_datetime(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s, _) = fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

/// RFC 3339 in UTC with milliseconds: `2026-12-06T19:16:51.123Z`.
pub fn rfc3339(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s, ms) = fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

fn digits(s: &[u8], what: &'static str) -> Result<i64, Error> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(Error::Invalid {
            element: what,
            reason: "expected digits in the date-time".into(),
        });
    }
    Ok(s.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Parses an RFC 3339 date-time (`Z` or `±hh:mm`, optional fraction) to a [`Timestamp`]. `strict_cap` demands
/// CAP's pattern: no fraction and an explicit `±hh:mm` offset. `element` names the field in errors.
pub fn parse_datetime(
    s: &str,
    strict_cap: bool,
    element: &'static str,
) -> Result<Timestamp, Error> {
    let bad = |reason: &str| Error::Invalid {
        element,
        reason: format!("{reason}: {s:?}"),
    };
    let b = s.trim().as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad("not a date-time of the form YYYY-MM-DDThh:mm:ss±hh:mm"));
    }
    let (y, mo, d) = (
        digits(&b[0..4], element)?,
        digits(&b[5..7], element)?,
        digits(&b[8..10], element)?,
    );
    let (h, mi, sec) = (
        digits(&b[11..13], element)?,
        digits(&b[14..16], element)?,
        digits(&b[17..19], element)?,
    );
    let mut rest = &b[19..];
    let mut ms = 0i64;
    if rest.first() == Some(&b'.') {
        if strict_cap {
            return Err(bad("CAP date-times have no fractional seconds"));
        }
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad("empty fraction"));
        }
        let frac = &rest[1..1 + n];
        let mut padded = [b'0'; 3];
        for (i, c) in frac.iter().take(3).enumerate() {
            padded[i] = *c;
        }
        ms = digits(&padded, element)?;
        rest = &rest[1 + n..];
    }
    let offset_min = match rest {
        b"Z" | b"z" if !strict_cap => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2], element)?;
            let om = digits(&[*m1, *m2], element)?;
            if oh > 23 || om > 59 {
                return Err(bad("offset out of range"));
            }
            let total = oh * 60 + om;
            if *sign == b'-' { -total } else { total }
        }
        _ => return Err(bad("missing or malformed offset")),
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return Err(bad("date or time out of range"));
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset_min * 60;
    Ok(Timestamp::from_unix_ms(secs * 1000 + ms))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_form_round_trips() {
        let t = Timestamp::from_unix_ms(1_796_584_611_000);
        let s = cap_datetime(t);
        assert_eq!(s, "2026-12-06T19:16:51+00:00");
        assert_eq!(parse_datetime(&s, true, "sent").unwrap(), t);
        assert_eq!(
            rfc3339(Timestamp::from_unix_ms(1_796_584_611_123)),
            "2026-12-06T19:16:51.123Z"
        );
    }

    #[test]
    fn offsets_and_fractions() {
        let a = parse_datetime("2003-04-02T14:39:01-05:00", true, "sent").unwrap();
        let b = parse_datetime("2003-04-02T19:39:01Z", false, "sent").unwrap();
        assert_eq!(a, b);
        let c = parse_datetime("2021-04-30T14:43:49.439-04:00", false, "t").unwrap();
        assert_eq!(c.as_unix_ms() % 1000, 439);
        assert!(parse_datetime("2003-04-02T19:39:01Z", true, "sent").is_err());
        assert!(parse_datetime("2003-02-30T19:39:01+00:00", true, "sent").is_err());
        assert!(parse_datetime("2003-04-02 19:39:01+00:00", true, "sent").is_err());
    }
}
