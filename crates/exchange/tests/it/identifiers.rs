//! Identifier validation, data-driven: each case is input → normal form, or input → the reason
//! in the error message.

use jikimi_exchange::identifiers::{
    AccountNumber, Chain, Domain, Iban, PhoneE164, Sha256Hex, Wallet,
};

fn check_ok(got: Result<String, jikimi_exchange::Error>, want: &str) {
    match got {
        Ok(v) => assert_eq!(v, want),
        Err(e) => panic!("expected {want}, got error {e}"),
    }
}

fn check_err<T: std::fmt::Debug>(got: Result<T, jikimi_exchange::Error>, reason: &str) {
    match got {
        Ok(v) => panic!("expected an error containing {reason:?}, got {v:?}"),
        Err(e) => assert!(
            e.to_string().contains(reason),
            "error {e:?} lacks {reason:?}"
        ),
    }
}

#[test]
fn phones_normalise_to_e164() {
    for (input, region, want) in [
        ("010-1234-5678", Some("KR"), "+821012345678"),
        ("+82 10 1234 5678", None, "+821012345678"),
        ("02-312-3456", Some("KR"), "+8223123456"),
        ("081 234 5678", Some("TH"), "+66812345678"),
        ("+855 12 345 678", None, "+85512345678"),
    ] {
        check_ok(
            PhoneE164::parse(input, region).map(|p| p.as_str().to_string()),
            want,
        );
    }
    check_err(PhoneE164::parse("12345", None), "cannot parse");
    check_err(PhoneE164::parse("+82 10 1", None), "not a valid number");
    check_err(PhoneE164::parse("010", Some("ZZ")), "region");
}

#[test]
fn ibans_check_mod97_and_the_registry_layout() {
    check_ok(
        Iban::parse("gb82 west 1234 5698 7654 32").map(|i| i.as_str().to_string()),
        "GB82WEST12345698765432",
    );
    check_ok(
        Iban::parse("FR14 2004 1010 0505 0001 3M02 606").map(|i| i.as_str().to_string()),
        "FR1420041010050500013M02606",
    );
    check_err(Iban::parse("GB83WEST12345698765432"), "mod-97");
    // A registered country with the check digits right but its account part one digit short.
    check_err(
        Iban::parse("DE5137040044053201300"),
        "wrong length or layout for a DE IBAN",
    );
    check_err(Iban::parse("1282WEST12345698765432"), "country code");
    check_err(Iban::parse("GB8!WEST12345698765432"), "letters and digits");
    check_err(Iban::parse("GB82"), "length");
}

#[test]
fn wallets_check_their_chain_checksums() {
    for (chain, input, want) in [
        (
            Chain::Bitcoin,
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        ),
        (
            Chain::Bitcoin,
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        ),
        (
            Chain::Bitcoin,
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            Chain::Tron,
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        ),
    ] {
        check_ok(
            Wallet::parse(chain, input).map(|w| w.address().to_string()),
            want,
        );
    }
    // EIP-55 test vectors: lower case in, checksummed out.
    for want in [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    ] {
        check_ok(
            Wallet::parse(Chain::Ethereum, &want.to_ascii_lowercase())
                .map(|w| w.address().to_string()),
            want,
        );
        check_ok(
            Wallet::parse(Chain::Ethereum, want).map(|w| w.address().to_string()),
            want,
        );
    }
    check_err(
        Wallet::parse(
            Chain::Ethereum,
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        ),
        "EIP-55",
    );
    check_err(
        Wallet::parse(Chain::Ethereum, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"),
        "40 hex",
    );
    check_err(
        Wallet::parse(Chain::Ethereum, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        "0x",
    );
    check_err(
        Wallet::parse(Chain::Bitcoin, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
        "base58check",
    );
    check_err(
        Wallet::parse(Chain::Bitcoin, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr"),
        "bech32",
    );
    check_err(
        Wallet::parse(Chain::Tron, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        "0x41",
    );
    check_err(
        Wallet::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"),
        "base58check",
    );
    assert_eq!(
        Wallet::detect("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
            .unwrap()
            .chain(),
        Chain::Ethereum
    );
}

#[test]
fn domains_accounts_and_hashes() {
    check_ok(
        Domain::parse("HTTP://user@Shop.Example.COM:8080/path").map(|d| d.as_str().to_string()),
        "shop.example.com",
    );
    check_ok(
        Domain::parse("xn--9n2bp8q.xn--3e0b707e").map(|d| d.as_str().to_string()),
        "xn--9n2bp8q.xn--3e0b707e",
    );
    check_err(Domain::parse("예시.한국"), "punycode");
    check_err(Domain::parse("192.168.0.1"), "top-level");
    check_err(Domain::parse("bad_label.com"), "letters, digits");
    check_ok(
        AccountNumber::parse("110-123-456789").map(|a| a.as_str().to_string()),
        "110123456789",
    );
    check_err(AccountNumber::parse("12"), "length");
    check_err(Sha256Hex::parse("abc"), "64 hex");
}

#[test]
fn identifiers_are_revalidated_when_deserialised() {
    let bad = serde_json::json!({ "type": "iban", "id": uuid::Uuid::new_v4(), "iban": "GB83WEST12345698765432" });
    let e = serde_json::from_value::<jikimi_exchange::domain::Entity>(bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mod-97"), "{e}");
    let redacted = format!("{:?}", PhoneE164::parse("+821012345678", None).unwrap());
    assert!(
        !redacted.contains("1012345678"),
        "Debug must not print personal data"
    );
}
