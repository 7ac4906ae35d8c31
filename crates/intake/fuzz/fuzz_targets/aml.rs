//! Fuzz target: the AML SMS and HTTPS-form parsers must never panic, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = jikimi_intake::parse_sms(&text);
    let _ = jikimi_intake::parse_form(&text);
    // Valid header + fuzzed tail reaches the field checks more often than random bytes.
    let _ = jikimi_intake::parse_sms(&format!("A\"ML=1;{text}"));
});
