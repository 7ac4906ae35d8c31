//! Advanced Mobile Location (AML, ETSI TS 103 625) payload parser: the SMS text and the HTTPS form.
//!
//! The SMS rules follow the project's "Parsing contract" in `shared/reference/aml/README.md`
//! exactly, in its order of checks, because `cases.json` tests that the *first* failure decides
//! the error class. Hand-written syntax checks instead of a regex crate: each field is a tiny
//! fixed grammar, and the checks must never panic on any input (fuzzed).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Serialize, Serializer};

/// One GSM 7-bit SMS; longer messages are refused (project policy, see the README).
pub const MAX_SMS_LEN: usize = 160;

/// Keys every AML v1 SMS must carry (`ml` is checked first, as `Truncated`).
const REQUIRED: [&str; 10] = [
    "lt", "lg", "rd", "top", "lc", "pm", "si", "ei", "mcc", "mnc",
];

/// Error classes, named as in `cases.json` (`error_classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AmlErrorClass {
    Empty,
    NonAscii,
    TooLong,
    BadHeader,
    UnsupportedVersion,
    MalformedField,
    DuplicateField,
    Truncated,
    LengthMismatch,
    MissingField,
    BadEnum,
    BadNumber,
    OutOfRange,
    BadTimestamp,
}

impl AmlErrorClass {
    /// The class name as written in `cases.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::NonAscii => "NonAscii",
            Self::TooLong => "TooLong",
            Self::BadHeader => "BadHeader",
            Self::UnsupportedVersion => "UnsupportedVersion",
            Self::MalformedField => "MalformedField",
            Self::DuplicateField => "DuplicateField",
            Self::Truncated => "Truncated",
            Self::LengthMismatch => "LengthMismatch",
            Self::MissingField => "MissingField",
            Self::BadEnum => "BadEnum",
            Self::BadNumber => "BadNumber",
            Self::OutOfRange => "OutOfRange",
            Self::BadTimestamp => "BadTimestamp",
        }
    }
}

/// A refused payload: the class, the field concerned (when there is one) and a human detail.
///
/// The detail never echoes identifiers (IMSI, IMEI, phone number): errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}{}: {detail}", error.as_str(), field.as_deref().map(|f| format!(" [{f}]")).unwrap_or_default())]
pub struct AmlError {
    pub error: AmlErrorClass,
    pub field: Option<String>,
    pub detail: String,
}

impl AmlError {
    fn new(error: AmlErrorClass, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            error,
            field: field.map(str::to_owned),
            detail: detail.into(),
        }
    }
}

/// Positioning method (`pm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `G`: satellite positioning.
    Gnss,
    /// `W`: Wi-Fi.
    Wifi,
    /// `C`: cell.
    Cell,
    /// `N`: no location; the coordinates must not be used.
    None,
}

impl Method {
    /// The one-letter code used on the wire and in `cases.json`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Gnss => "G",
            Self::Wifi => "W",
            Self::Cell => "C",
            Self::None => "N",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// A parsed AML report. Serialises with the field names of `cases.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmlReport {
    pub version: u32,
    /// Latitude, `None` when the method is [`Method::None`].
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Radius of the uncertainty circle in metres; `None` without a location.
    pub radius_m: Option<f64>,
    #[serde(serialize_with = "ser_time")]
    pub time_utc: DateTime<Utc>,
    /// Confidence that the caller is inside the circle, %; absent in some HTTPS payloads.
    pub confidence_pct: Option<u8>,
    pub method: Method,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    /// Declared message length (SMS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ml: Option<u16>,
    /// Caller's number when the payload carries it (HTTPS `device_number`); for SMS it is the
    /// sender address of the transport, not part of the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<String>,
    /// Keys this parser does not know, kept for forward compatibility.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_fields: BTreeMap<String, String>,
}

impl AmlReport {
    /// The position as (lat, lon, radius_m) when the handset had one.
    pub fn position(&self) -> Option<(f64, f64, Option<f64>)> {
        match (self.method, self.lat, self.lon) {
            (Method::None, _, _) => None,
            (_, Some(lat), Some(lon)) => Some((lat, lon, self.radius_m)),
            _ => None,
        }
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn digits_between(s: &str, min: usize, max: usize) -> bool {
    all_digits(s) && (min..=max).contains(&s.len())
}

/// `[+-]?\d{1,int_max}\.\d{1,5}`
fn is_coordinate(s: &str, int_max: usize) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    match body.split_once('.') {
        Some((i, f)) => digits_between(i, 1, int_max) && digits_between(f, 1, 5),
        None => false,
    }
}

/// `\d{1,6}(\.\d{1,2})?`
fn is_radius(s: &str) -> bool {
    match s.split_once('.') {
        Some((i, f)) => digits_between(i, 1, 6) && digits_between(f, 1, 2),
        None => digits_between(s, 1, 6),
    }
}

fn parse_f64(s: &str, field: &str) -> Result<f64, AmlError> {
    s.parse::<f64>()
        .map_err(|_| AmlError::new(AmlErrorClass::BadNumber, Some(field), "not a number"))
}

/// `YYYYMMDDhhmmss`, a real calendar time (year 1..=9999, as Python's `strptime`).
fn parse_top(s: &str) -> Result<DateTime<Utc>, AmlError> {
    let bad = |d: &str| AmlError::new(AmlErrorClass::BadTimestamp, Some("top"), d);
    if !digits_between(s, 14, 14) {
        return Err(bad("expected 14 digits YYYYMMDDhhmmss"));
    }
    let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) =
        (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14))
    else {
        return Err(bad("expected 14 digits YYYYMMDDhhmmss"));
    };
    if y == 0 {
        return Err(bad("year 0000"));
    }
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, mo, d))
        .ok_or_else(|| bad("not a calendar date"))?;
    let dt = date
        .and_hms_opt(h, mi, se)
        .ok_or_else(|| bad("not a time of day"))?;
    Ok(Utc.from_utc_datetime(&dt))
}

fn parse_method(s: &str) -> Result<Method, AmlError> {
    match s {
        "G" => Ok(Method::Gnss),
        "W" => Ok(Method::Wifi),
        "C" => Ok(Method::Cell),
        "N" => Ok(Method::None),
        _ => Err(AmlError::new(
            AmlErrorClass::BadEnum,
            Some("pm"),
            "positioning method must be G, W, C or N",
        )),
    }
}

/// Parses the AML SMS text (already decoded from the GSM alphabet), strictly per the contract.
pub fn parse_sms(msg: &str) -> Result<AmlReport, AmlError> {
    use AmlErrorClass as C;
    if msg.is_empty() {
        return Err(AmlError::new(C::Empty, None, "empty message"));
    }
    // Bytes outside 0x20..=0x7E: any non-ASCII char is encoded with bytes >= 0x80, so a byte
    // check is the same as the contract's character check, and afterwards len() counts chars.
    if msg.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return Err(AmlError::new(
            C::NonAscii,
            None,
            "character outside printable ASCII",
        ));
    }
    if msg.len() > MAX_SMS_LEN {
        return Err(AmlError::new(
            C::TooLong,
            None,
            format!("{} characters, more than {MAX_SMS_LEN}", msg.len()),
        ));
    }
    let mut fields = msg.split(';');
    let head = fields.next().unwrap_or_default();
    let Some(version) = head.strip_prefix("A\"ML=") else {
        return Err(AmlError::new(C::BadHeader, None, "expected A\"ML=1"));
    };
    if version != "1" {
        return Err(if all_digits(version) {
            AmlError::new(
                C::UnsupportedVersion,
                None,
                "only AML version 1 is supported",
            )
        } else {
            AmlError::new(C::BadHeader, None, "expected A\"ML=<version>")
        });
    }
    let mut kv: BTreeMap<&str, &str> = BTreeMap::new();
    for f in fields {
        let Some((k, v)) = f.split_once('=') else {
            return Err(AmlError::new(
                C::MalformedField,
                None,
                format!("field without '=' ({} characters)", f.len()),
            ));
        };
        if k.is_empty() {
            return Err(AmlError::new(
                C::MalformedField,
                None,
                "field with empty key",
            ));
        }
        if kv.insert(k, v).is_some() {
            return Err(AmlError::new(
                C::DuplicateField,
                Some(k),
                "key occurs twice",
            ));
        }
    }
    let Some(ml) = kv.get("ml").copied() else {
        return Err(AmlError::new(
            C::Truncated,
            None,
            "no ml field: message cut short",
        ));
    };
    if !digits_between(ml, 1, 3) {
        return Err(AmlError::new(
            C::BadNumber,
            Some("ml"),
            "expected 1-3 digits",
        ));
    }
    let ml: u16 = ml
        .parse()
        .map_err(|_| AmlError::new(C::BadNumber, Some("ml"), "expected 1-3 digits"))?;
    if usize::from(ml) != msg.len() {
        return Err(AmlError::new(
            C::LengthMismatch,
            Some("ml"),
            format!("ml={ml} but the message has {} characters", msg.len()),
        ));
    }
    for k in REQUIRED {
        if !kv.contains_key(k) {
            return Err(AmlError::new(
                C::MissingField,
                Some(k),
                "required field absent",
            ));
        }
    }
    let get = |k: &str| kv.get(k).copied().unwrap_or_default();
    let method = parse_method(get("pm"))?;
    let (lt, lg) = (get("lt"), get("lg"));
    if !is_coordinate(lt, 2) {
        return Err(AmlError::new(
            C::BadNumber,
            Some("lt"),
            "expected [+-]DD.ddddd",
        ));
    }
    if !is_coordinate(lg, 3) {
        return Err(AmlError::new(
            C::BadNumber,
            Some("lg"),
            "expected [+-]DDD.ddddd",
        ));
    }
    let lat = parse_f64(lt, "lt")?;
    let lon = parse_f64(lg, "lg")?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(AmlError::new(
            C::OutOfRange,
            Some("lt"),
            "latitude beyond ±90",
        ));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(AmlError::new(
            C::OutOfRange,
            Some("lg"),
            "longitude beyond ±180",
        ));
    }
    let rd = get("rd");
    let radius = if rd == "N" {
        None
    } else if is_radius(rd) {
        Some(parse_f64(rd, "rd")?)
    } else {
        return Err(AmlError::new(
            C::BadNumber,
            Some("rd"),
            "expected metres (up to 2 decimals) or N",
        ));
    };
    let time_utc = parse_top(get("top"))?;
    let lc = get("lc");
    if !digits_between(lc, 1, 3) {
        return Err(AmlError::new(
            C::BadNumber,
            Some("lc"),
            "expected 1-3 digits",
        ));
    }
    let lc: u16 = lc
        .parse()
        .map_err(|_| AmlError::new(C::BadNumber, Some("lc"), "expected 1-3 digits"))?;
    let confidence = u8::try_from(lc)
        .ok()
        .filter(|c| *c <= 100)
        .ok_or_else(|| AmlError::new(C::OutOfRange, Some("lc"), "confidence above 100%"))?;
    for (k, min, max) in [("si", 6, 15), ("ei", 14, 16), ("mcc", 3, 3), ("mnc", 2, 3)] {
        if !digits_between(get(k), min, max) {
            return Err(AmlError::new(
                C::BadNumber,
                Some(k),
                format!("expected {min}-{max} digits"),
            ));
        }
    }
    let has_location = method != Method::None;
    let unknown_fields = kv
        .iter()
        .filter(|(k, _)| **k != "ml" && !REQUIRED.contains(k))
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Ok(AmlReport {
        version: 1,
        lat: has_location.then_some(lat),
        lon: has_location.then_some(lon),
        radius_m: if has_location { radius } else { None },
        time_utc,
        confidence_pct: Some(confidence),
        method,
        imsi: Some(get("si").to_owned()),
        imei: Some(get("ei").to_owned()),
        mcc: Some(get("mcc").to_owned()),
        mnc: Some(get("mnc").to_owned()),
        ml: Some(ml),
        msisdn: None,
        unknown_fields,
    })
}

/// Largest HTTPS form body accepted (bytes); real payloads are well under 2 KiB.
pub const MAX_FORM_LEN: usize = 8 * 1024;

/// Keys of the HTTPS form this parser understands (Android ELS style; project decision, since
/// the reference cases do not cover the HTTPS transport).
const FORM_KNOWN: [&str; 12] = [
    "v",
    "location_latitude",
    "location_longitude",
    "location_accuracy",
    "location_time",
    "location_source",
    "location_confidence",
    "device_imei",
    "device_imsi",
    "device_number",
    "cell_network_mcc",
    "cell_network_mnc",
];

/// Parses the HTTPS transport of AML: an `application/x-www-form-urlencoded` body with the
/// Android ELS key names (`location_latitude`, `location_longitude`, `location_accuracy` (m),
/// `location_time` (ms since the epoch), `location_source` (`gps`/`wifi`/`cell`/`none`),
/// `location_confidence` (%), `device_imei`, `device_imsi`, `device_number`,
/// `cell_network_mcc`, `cell_network_mnc`, `v`).
///
/// The same error classes as the SMS are used; `ml` does not exist here.
pub fn parse_form(body: &str) -> Result<AmlReport, AmlError> {
    use AmlErrorClass as C;
    if body.is_empty() {
        return Err(AmlError::new(C::Empty, None, "empty body"));
    }
    if body.len() > MAX_FORM_LEN {
        return Err(AmlError::new(
            C::TooLong,
            None,
            format!("more than {MAX_FORM_LEN} bytes"),
        ));
    }
    let mut kv: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        if k.is_empty() {
            return Err(AmlError::new(
                C::MalformedField,
                None,
                "field with empty key",
            ));
        }
        if v.chars().any(|c| c.is_control()) {
            return Err(AmlError::new(C::NonAscii, Some(&k), "control character"));
        }
        if kv.contains_key(k.as_ref()) {
            return Err(AmlError::new(
                C::DuplicateField,
                Some(&k),
                "key occurs twice",
            ));
        }
        kv.insert(k.into_owned(), v.into_owned());
    }
    if let Some(v) = kv.get("v")
        && !all_digits(v)
    {
        return Err(AmlError::new(
            C::BadHeader,
            Some("v"),
            "version must be digits",
        ));
    }
    for k in ["location_source", "location_time"] {
        if !kv.contains_key(k) {
            return Err(AmlError::new(
                C::MissingField,
                Some(k),
                "required field absent",
            ));
        }
    }
    let get = |k: &str| kv.get(k).map(String::as_str);
    let method = match get("location_source").unwrap_or_default() {
        "gps" | "gnss" => Method::Gnss,
        "wifi" => Method::Wifi,
        "cell" => Method::Cell,
        "none" => Method::None,
        _ => {
            return Err(AmlError::new(
                C::BadEnum,
                Some("location_source"),
                "expected gps, wifi, cell or none",
            ));
        }
    };
    let time_ms: i64 = get("location_time")
        .filter(|t| digits_between(t, 1, 15))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            AmlError::new(
                C::BadTimestamp,
                Some("location_time"),
                "expected milliseconds since the epoch",
            )
        })?;
    let time_utc = Utc.timestamp_millis_opt(time_ms).single().ok_or_else(|| {
        AmlError::new(C::BadTimestamp, Some("location_time"), "time out of range")
    })?;
    let number = |k: &str| -> Result<Option<f64>, AmlError> {
        match get(k) {
            None => Ok(None),
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| AmlError::new(C::BadNumber, Some(k), "not a number")),
        }
    };
    let (mut lat, mut lon, mut radius) = (None, None, None);
    if method != Method::None {
        for k in ["location_latitude", "location_longitude"] {
            if !kv.contains_key(k) {
                return Err(AmlError::new(
                    C::MissingField,
                    Some(k),
                    "required field absent",
                ));
            }
        }
        let la = number("location_latitude")?.unwrap_or_default();
        let lo = number("location_longitude")?.unwrap_or_default();
        if !(-90.0..=90.0).contains(&la) {
            return Err(AmlError::new(
                C::OutOfRange,
                Some("location_latitude"),
                "latitude beyond ±90",
            ));
        }
        if !(-180.0..=180.0).contains(&lo) {
            return Err(AmlError::new(
                C::OutOfRange,
                Some("location_longitude"),
                "longitude beyond ±180",
            ));
        }
        let r = number("location_accuracy")?;
        if r.is_some_and(|r| r < 0.0) {
            return Err(AmlError::new(
                C::OutOfRange,
                Some("location_accuracy"),
                "negative radius",
            ));
        }
        (lat, lon, radius) = (Some(la), Some(lo), r);
    }
    let confidence_pct = match get("location_confidence") {
        None => None,
        Some(s) => {
            let c: u16 = Some(s)
                .filter(|s| digits_between(s, 1, 3))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    AmlError::new(C::BadNumber, Some("location_confidence"), "expected 0-100")
                })?;
            Some(u8::try_from(c).ok().filter(|c| *c <= 100).ok_or_else(|| {
                AmlError::new(
                    C::OutOfRange,
                    Some("location_confidence"),
                    "confidence above 100%",
                )
            })?)
        }
    };
    let digits = |k: &str, min: usize, max: usize| -> Result<Option<String>, AmlError> {
        match get(k) {
            None => Ok(None),
            Some(s) if digits_between(s, min, max) => Ok(Some(s.to_owned())),
            Some(_) => Err(AmlError::new(
                C::BadNumber,
                Some(k),
                format!("expected {min}-{max} digits"),
            )),
        }
    };
    let msisdn = match get("device_number") {
        None => None,
        Some(s) => {
            let d = s.strip_prefix('+').unwrap_or(s);
            if !digits_between(d, 3, 15) {
                return Err(AmlError::new(
                    C::BadNumber,
                    Some("device_number"),
                    "expected an E.164 number",
                ));
            }
            Some(s.to_owned())
        }
    };
    let version = match get("v") {
        Some(v) => v.parse().map_err(|_| {
            AmlError::new(C::BadHeader, Some("v"), "version must be a small number")
        })?,
        None => 1,
    };
    let unknown_fields = kv
        .iter()
        .filter(|(k, _)| !FORM_KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(AmlReport {
        version,
        lat,
        lon,
        radius_m: radius,
        time_utc,
        confidence_pct,
        method,
        imsi: digits("device_imsi", 6, 15)?,
        imei: digits("device_imei", 14, 16)?,
        mcc: digits("cell_network_mcc", 3, 3)?,
        mnc: digits("cell_network_mnc", 2, 3)?,
        ml: None,
        msisdn,
        unknown_fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_grammar() {
        assert!(is_coordinate("+37.56650", 2));
        assert!(is_coordinate("-0.1", 2));
        assert!(!is_coordinate("+037.5", 2));
        assert!(!is_coordinate("37", 2));
        assert!(!is_coordinate("+37.123456", 2));
        assert!(!is_coordinate("+-37.1", 2));
    }

    #[test]
    fn radius_grammar() {
        assert!(is_radius("0"));
        assert!(is_radius("12.5"));
        assert!(!is_radius("12."));
        assert!(!is_radius("1234567"));
        assert!(!is_radius("-1"));
    }

    #[test]
    fn timestamp_rejects_impossible_times() {
        assert!(parse_top("20280229120000").is_ok());
        assert!(parse_top("20270229120000").is_err());
        assert!(parse_top("20260101240000").is_err());
        assert!(parse_top("20260101235960").is_err());
        assert!(parse_top("00000101000000").is_err());
    }

    #[test]
    fn form_variant_parses() -> Result<(), AmlError> {
        let r = parse_form(
            "v=3&location_latitude=37.5665&location_longitude=126.978&location_accuracy=8\
             &location_time=1773480413000&location_source=gps&location_confidence=68\
             &device_number=%2B821012345678&device_imei=350000000000014&cell_network_mcc=450\
             &cell_network_mnc=05&thunderbird_version=1",
        )?;
        assert_eq!(r.position(), Some((37.5665, 126.978, Some(8.0))));
        assert_eq!(r.msisdn.as_deref(), Some("+821012345678"));
        assert_eq!(r.mnc.as_deref(), Some("05"));
        assert_eq!(r.unknown_fields.len(), 1);
        assert_eq!(r.time_utc.timestamp_millis(), 1_773_480_413_000);
        Ok(())
    }

    #[test]
    fn form_variant_errors() {
        let err = |b: &str| parse_form(b).err().map(|e| e.error);
        assert_eq!(err(""), Some(AmlErrorClass::Empty));
        assert_eq!(
            err("location_time=1&location_source=sonar"),
            Some(AmlErrorClass::BadEnum)
        );
        assert_eq!(
            err("location_time=1&location_source=gps&location_latitude=91&location_longitude=0"),
            Some(AmlErrorClass::OutOfRange)
        );
        assert_eq!(
            err("location_time=x&location_source=none"),
            Some(AmlErrorClass::BadTimestamp)
        );
        assert_eq!(
            err("location_time=1&location_time=2&location_source=none"),
            Some(AmlErrorClass::DuplicateField)
        );
        assert_eq!(
            err("location_source=none"),
            Some(AmlErrorClass::MissingField)
        );
    }
}
