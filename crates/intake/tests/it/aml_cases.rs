//! Data-driven: every case of `shared/reference/aml/cases.json` through the SMS parser and the CLI.

use std::path::PathBuf;

use jikimi_intake::parse_sms;
use serde_json::Value;

fn cases() -> Value {
    let shared = std::env::var("JIKIMI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let path = shared.join("reference/aml/cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("case without string {k}: {v}"))
}

#[test]
fn valid_cases_parse_to_expected_fields() {
    let cases = cases();
    let valid = cases["valid"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(valid.len(), 10);
    for case in valid {
        let msg = str_of(case, "message");
        let report = parse_sms(msg)
            .unwrap_or_else(|e| panic!("{}: unexpected error {e}", case["description"]));
        let got = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(got, case["expected"], "{}", case["description"]);
    }
}

#[test]
fn malformed_cases_give_expected_class_and_field() {
    let cases = cases();
    let classes: Vec<&str> = cases["error_classes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let malformed = cases["malformed"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(malformed.len(), 15);
    for case in malformed {
        let msg = str_of(case, "message");
        let err = match parse_sms(msg) {
            Ok(r) => panic!("{}: parsed although malformed: {r:?}", case["description"]),
            Err(e) => e,
        };
        assert!(classes.contains(&err.error.as_str()));
        assert_eq!(
            err.error.as_str(),
            str_of(case, "expected_error"),
            "{}",
            case["description"]
        );
        assert_eq!(
            err.field.as_deref(),
            case["field"].as_str(),
            "{}",
            case["description"]
        );
    }
}

#[test]
fn cli_prints_one_json_line_per_input_line() {
    let cases = cases();
    let mut input = String::new();
    let mut expected = Vec::new();
    for case in cases["valid"].as_array().into_iter().flatten() {
        input.push_str(str_of(case, "message"));
        input.push('\n');
        expected.push(case["expected"].clone());
    }
    for case in cases["malformed"].as_array().into_iter().flatten() {
        input.push_str(str_of(case, "message"));
        input.push_str("\r\n");
        expected.push(serde_json::json!({
            "error": case["expected_error"],
            "field": case["field"],
        }));
    }
    let mut out = Vec::new();
    jikimi_intake::cli::aml_lines(false, input.as_bytes(), &mut out).expect("in-memory I/O");
    let text = String::from_utf8(out).expect("JSON output is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for (line, want) in lines.iter().zip(&expected) {
        let mut got: Value = serde_json::from_str(line).expect("each line is JSON");
        if want.get("error").is_some() {
            assert!(got["detail"].is_string(), "{line}");
            if let Some(o) = got.as_object_mut() {
                o.remove("detail");
            }
        }
        assert_eq!(&got, want);
    }
}
