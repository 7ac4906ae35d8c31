//! The written forms the three former implementations (privacy's blind index, exchange's identifiers, linkage's
//! comparison) disagreed on, and the foreign numbers and garbage each caller sees.

use super::*;
use proptest::prelude::*;

const KR: Option<Region> = Some(Region::KR);

#[track_caller]
fn check_phone(text: &str, region: Option<Region>, expected: Result<&str, Error>) {
    assert_eq!(
        phone_e164(text, region).as_deref().map_err(Clone::clone),
        expected,
        "{text:?} in {region:?}"
    );
}

#[test]
fn korean_numbers_in_every_written_form_agree() {
    for text in [
        "010-1234-5678",
        "01012345678",
        " (010) 1234.5678 ",
        "010/1234/5678",
        "+82 10 1234 5678",
        "+82-10-1234-5678",
        "+821012345678",
        "(+82) 10-1234-5678",
        // The trunk 0 after the country code: the old blind index kept it ("+8201012345678").
        "+82 010-1234-5678",
        "+82 (0)10 1234 5678",
        "0082-10-1234-5678",
        "0082 010 1234 5678",
    ] {
        check_phone(text, KR, Ok("+821012345678"));
    }
    // A Seoul landline.
    check_phone("02-312-3456", KR, Ok("+8223123456"));
    check_phone("+82 2 312 3456", None, Ok("+8223123456"));
}

#[test]
fn foreign_numbers_keep_their_country() {
    for (text, expected) in [
        ("+84 91 234 56 78", "+84912345678"),
        ("+84 091 234 5678", "+84912345678"),
        ("+66 81 234 5678", "+66812345678"),
        ("+66 081 234 5678", "+66812345678"),
        ("+998 90 123 45 67", "+998901234567"),
        ("+855 12 345 678", "+85512345678"),
        ("+63 917 555 0101", "+639175550101"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("001-1-212-555-1234", "+12125551234"),
    ] {
        check_phone(text, KR, Ok(expected));
        if !text.starts_with("00") {
            check_phone(text, None, Ok(expected));
        }
    }
    // A national number is read in the region given.
    check_phone("081 234 5678", Some(Region::TH), Ok("+66812345678"));
}

#[test]
fn garbage_is_refused() {
    for text in [
        "",
        "   ",
        "-",
        "hello",
        "010-abcd-5678",
        "1-800-FLOWERS",
        "010#1234#5678",
    ] {
        check_phone(text, KR, Err(Error::PhoneCharacters));
    }
    for text in [
        "12345",
        "+82 1",
        "+0101234567",
        "+1234567890123456",
        "010-1234",
        "+999 1234 5678",
    ] {
        assert!(phone_e164(text, KR).is_err(), "{text:?}");
    }
    // National numbers need a region.
    assert!(phone_e164("010-1234-5678", None).is_err());
}

#[test]
fn unchecked_reads_numbers_the_plan_does_not_know() {
    // Too long for a Korean mobile, but the same number written two ways still agrees.
    assert_eq!(phone_e164("010-1234-56789", KR), Err(Error::PhoneInvalid));
    assert_eq!(
        phone_e164_unchecked("010-1234-56789", KR).as_deref(),
        Ok("+8210123456789")
    );
    assert_eq!(
        phone_e164_unchecked("010-1234-56789", KR),
        phone_e164_unchecked("+82 10 1234 56789", None)
    );
    assert_eq!(
        phone_e164_unchecked("010-1234-5678", KR).as_deref(),
        Ok("+821012345678")
    );
    assert!(phone_e164_unchecked("hello", KR).is_err());
}

#[test]
fn regions_parse_case_insensitively() {
    assert_eq!(region("kr"), Ok(Region::KR));
    assert_eq!(region(" TH "), Ok(Region::TH));
    assert_eq!(region("XX"), Err(Error::UnknownRegion));
}

#[test]
fn ibans() {
    for (text, expected) in [
        ("GB82 WEST 1234 5698 7654 32", Ok("GB82WEST12345698765432")),
        ("gb82west12345698765432", Ok("GB82WEST12345698765432")),
        ("DE89 3704 0044 0532 0130 00", Ok("DE89370400440532013000")),
        (
            "FR14 2004 1010 0505 0001 3M02 606",
            Ok("FR1420041010050500013M02606"),
        ),
        ("GB82 WEST 1234 5698 7654 33", Err(Error::IbanChecksum)),
        ("GB82-WEST-1234-5698-7654-32", Err(Error::IbanCharacters)),
        ("GB8!WEST12345698765432", Err(Error::IbanCharacters)),
        ("1282WEST12345698765432", Err(Error::IbanFormat)),
        ("GBX2WEST12345698765432", Err(Error::IbanFormat)),
        ("nonsense", Err(Error::IbanLength(8))),
        ("", Err(Error::IbanLength(0))),
        // One digit short: the checksum cannot hold and the German layout would not either.
        ("DE8937040044053201300", Err(Error::IbanChecksum)),
    ] {
        assert_eq!(
            iban(text).as_deref().map_err(Clone::clone),
            expected,
            "{text:?}"
        );
    }
}

#[test]
fn iban_layout_and_country_are_named() {
    // Check digits recomputed for a wrong-length German BBAN and an unregistered country: mod-97 holds, the registry
    // does not.
    let with_check_digits = |country: &str, bban: &str| {
        let rearranged = format!("{bban}{country}00");
        let mut remainder = 0u32;
        for c in rearranged.chars() {
            let value = c.to_digit(36).unwrap();
            remainder = if value >= 10 {
                (remainder * 100 + value) % 97
            } else {
                (remainder * 10 + value) % 97
            };
        }
        format!("{country}{:02}{bban}", 98 - remainder)
    };
    assert_eq!(
        iban(&with_check_digits("DE", "3704004405320130")),
        Err(Error::IbanLayout("DE".into()))
    );
    assert_eq!(
        iban(&with_check_digits("XQ", "3704004405320130")),
        Err(Error::IbanCountry("XQ".into()))
    );
    assert_eq!(
        iban(&with_check_digits("DE", "370400440532013000")).as_deref(),
        Ok("DE89370400440532013000")
    );
}

proptest! {
    #[test]
    fn parsers_never_panic(text in "\\PC{0,40}") {
        let _ = phone_e164(&text, KR);
        let _ = phone_e164_unchecked(&text, None);
        let _ = iban(&text);
    }

    #[test]
    fn normal_forms_are_fixed_points(national in "010[0-9]{8}") {
        if let Ok(e164) = phone_e164(&national, KR) {
            prop_assert_eq!(phone_e164(&e164, None), Ok(e164.clone()));
            prop_assert_eq!(phone_e164(&e164, KR), Ok(e164));
        }
    }
}
