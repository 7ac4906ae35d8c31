//! Fuzzes the CAP reader: it must never panic, and whatever it accepts must write and read back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(alert) = jikimi_standards::cap::parse(text)
    {
        let written = jikimi_standards::cap::write(&alert).expect("an accepted alert writes");
        let again = jikimi_standards::cap::parse(&written).expect("a written alert reads");
        assert_eq!(again, alert);
    }
});
