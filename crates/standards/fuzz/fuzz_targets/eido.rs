//! Fuzzes the EIDO reader and the referral mapping (which parses PIDF-LO XML): neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(eido) = jikimi_standards::eido::Eido::from_json(text)
    {
        let _ = jikimi_standards::mapping::eido_to_referral(&eido);
    }
});
