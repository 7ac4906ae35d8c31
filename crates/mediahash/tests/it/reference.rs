//! PDQ against `shared/reference/pdq/pdq_expected.json` (made by `pdqhash` 0.2.8 over Meta's C++).
//!
//! With `Luma::Pdqhash` (the generator's luma) every hash, quality and dihedral hash must match, the
//! near-tie ("unstable") images included. With `Luma::Float32` (the official C++ CLI's luma) the stable
//! ones must match the JSON and the unstable ones the recorded C++ cross-check, where there is one.

use jikimi_mediahash::{
    DIHEDRAL_NAMES, DecodeLimits, Luma, RgbImage, decode_rgb8, pdq_dihedral, pdq_hash,
};
use serde_json::Value;
use std::path::PathBuf;

pub fn shared_dir() -> PathBuf {
    std::env::var_os("JIKIMI_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn expected() -> Value {
    let path = shared_dir().join("reference/pdq/pdq_expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

struct Computed {
    hash: String,
    quality: u32,
    dihedral: Vec<String>,
    dihedral_quality: u32,
}

fn compute(record: &Value, luma: Luma) -> Computed {
    let file = record["file"].as_str().unwrap();
    let bytes = std::fs::read(shared_dir().join("reference/pdq").join(file)).unwrap();
    let decoded = decode_rgb8(&bytes, DecodeLimits::default()).unwrap();
    assert_eq!(
        u64::from(decoded.width),
        record["width"].as_u64().unwrap(),
        "{file}"
    );
    assert_eq!(
        u64::from(decoded.height),
        record["height"].as_u64().unwrap(),
        "{file}"
    );
    let image = RgbImage::new(
        decoded.width as usize,
        decoded.height as usize,
        &decoded.rgb,
    )
    .unwrap();
    let single = pdq_hash(image, luma);
    let dihedral = pdq_dihedral(image, luma);
    Computed {
        hash: single.hash.to_hex(),
        quality: single.quality,
        dihedral: dihedral.hashes.iter().map(|h| h.to_hex()).collect(),
        dihedral_quality: dihedral.quality,
    }
}

#[test]
fn pdqhash_luma_matches_every_image_exactly() {
    let doc = expected();
    let images = doc["images"].as_array().unwrap();
    assert_eq!(images.len(), 14);
    for record in images {
        let file = record["file"].as_str().unwrap();
        let got = compute(record, Luma::Pdqhash);
        assert_eq!(got.hash, record["hash"].as_str().unwrap(), "{file} hash");
        assert_eq!(
            u64::from(got.quality),
            record["quality"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            u64::from(got.dihedral_quality),
            record["dihedral_quality"].as_u64().unwrap(),
            "{file}"
        );
        for (name, hex) in DIHEDRAL_NAMES.iter().zip(&got.dihedral) {
            assert_eq!(
                hex,
                record["dihedral"][name].as_str().unwrap(),
                "{file} {name}"
            );
        }
    }
}

#[test]
fn float32_luma_matches_stable_hashes_and_the_cpp_crosscheck() {
    let doc = expected();
    for record in doc["images"].as_array().unwrap() {
        let file = record["file"].as_str().unwrap();
        let got = compute(record, Luma::Float32);
        assert_eq!(
            u64::from(got.quality),
            record["quality"].as_u64().unwrap(),
            "{file}"
        );
        let cpp = &record["cpp_f32_crosscheck"];
        if record["stable"]["hash"].as_bool().unwrap() {
            assert_eq!(got.hash, record["hash"].as_str().unwrap(), "{file}");
        } else if let Some(h) = cpp["cpp_f32_hash"].as_str() {
            assert_eq!(got.hash, h, "{file} vs C++ float32");
        }
        for (name, hex) in DIHEDRAL_NAMES.iter().zip(&got.dihedral) {
            if record["stable"]["dihedral"][name].as_bool().unwrap() {
                assert_eq!(
                    hex,
                    record["dihedral"][name].as_str().unwrap(),
                    "{file} {name}"
                );
            } else if let Some(h) = cpp["cpp_f32_dihedral"][name].as_str() {
                assert_eq!(hex, h, "{file} {name} vs C++ float32");
            }
        }
    }
}
