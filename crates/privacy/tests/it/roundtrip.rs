//! Sealing round trips through the storage encoding, across key rotation.

use jikimi_privacy::{Keyring, Sealed};

#[test]
fn seal_store_rotate_open() {
    let k1 = "11".repeat(32);
    let k2 = "22".repeat(32);
    let old = Keyring::from_spec(&format!("k1:{k1}")).unwrap();
    let stored = old
        .seal_str("subscriber/7", "address", "서울특별시 중구 세종대로 110")
        .unwrap()
        .to_bytes();
    let rotated = Keyring::from_spec(&format!("k2:{k2},k1:{k1}")).unwrap();
    let sealed = Sealed::from_bytes(&stored).unwrap();
    assert!(rotated.needs_rotation(&sealed));
    let plain = rotated
        .open_str("subscriber/7", "address", &sealed)
        .unwrap();
    assert_eq!(plain, "서울특별시 중구 세종대로 110");
    let resealed = rotated.seal_str("subscriber/7", "address", &plain).unwrap();
    assert_eq!(resealed.key_id, "k2");
}
