//! Shared fixtures: locating `shared/` and indexing the Helsinki extract once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use jikimi_geocode::AddressIndex;

pub fn shared() -> PathBuf {
    std::env::var("JIKIMI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

pub fn helsinki_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = shared().join("data/osm/helsinki.osm.pbf");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

pub fn helsinki() -> &'static AddressIndex {
    static INDEX: OnceLock<AddressIndex> = OnceLock::new();
    INDEX.get_or_init(
        || match jikimi_geocode::import::import_bytes(helsinki_bytes()) {
            Ok(data) => AddressIndex::new(data),
            Err(e) => panic!("importing Helsinki: {e}"),
        },
    )
}
