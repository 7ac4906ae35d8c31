//! JPEG against the reference: `tests/data/jpeg/*.jpg` (made by `make_jpeg_expected.py` from the shared
//! reference PNGs: qualities 50/75/95, 4:4:4, 4:2:2, 4:2:0, baseline and progressive, greyscale, CMYK,
//! EXIF-rotated, restart markers, tiny, and damaged files that libjpeg decodes with a warning) and `jpeg_expected.json` (pdqhash 0.2.8 over Pillow 13.0.0,
//! which bundles libjpeg-turbo 3.2.0).
//!
//! Every image must decode to the reference's pixels (SHA-256 of the RGB bytes) and give its PDQ hash,
//! quality and all eight dihedral hashes, near-ties included: equal pixels leave no room for rounding.
//! A second test recomputes the expected values with the reference itself, in the venv that
//! `.ci/setup-jpeg.sh` makes, so the committed JSON is checked rather than trusted; under `CI` a missing
//! venv fails it.

use jikimi_mediahash::{
    DIHEDRAL_NAMES, DecodeLimits, Luma, RgbImage, decode_rgb8, pdq_dihedral, pdq_hash,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jpeg"))
}

fn committed() -> Value {
    let path = data_dir().join("jpeg_expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// What jikimi computes for one file, in the JSON's shape.
fn ours(file: &str) -> Value {
    let bytes = std::fs::read(data_dir().join(file)).unwrap();
    let decoded =
        decode_rgb8(&bytes, DecodeLimits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(decoded.format, "jpeg");
    let image = RgbImage::new(
        decoded.width as usize,
        decoded.height as usize,
        &decoded.rgb,
    )
    .unwrap();
    let single = pdq_hash(image, Luma::Pdqhash);
    let dihedral = pdq_dihedral(image, Luma::Pdqhash);
    let names = DIHEDRAL_NAMES.iter().map(|n| n.to_string());
    let hexes = dihedral.hashes.iter().map(|h| Value::from(h.to_hex()));
    serde_json::json!({
        "width": decoded.width,
        "height": decoded.height,
        "pixel_sha256": format!("{:x}", Sha256::digest(&decoded.rgb)),
        "hash": single.hash.to_hex(),
        "quality": single.quality,
        "dihedral": names.zip(hexes).collect::<serde_json::Map<_, _>>(),
        "dihedral_quality": dihedral.quality,
    })
}

const COMPARED: [&str; 7] = [
    "width",
    "height",
    "pixel_sha256",
    "hash",
    "quality",
    "dihedral",
    "dihedral_quality",
];

/// Compares every field of [`COMPARED`]; returns (hashes equal, hashes compared, mismatch lines).
fn compare(expected: &[Value]) -> (usize, usize, Vec<String>) {
    let (mut equal, mut total, mut bad) = (0, 0, Vec::new());
    for record in expected {
        let file = record["file"].as_str().unwrap();
        let got = ours(file);
        for key in COMPARED {
            if key == "dihedral" {
                for name in DIHEDRAL_NAMES {
                    total += 1;
                    if got[key][name] == record[key][name] {
                        equal += 1;
                    } else {
                        bad.push(format!("{file} dihedral {name}"));
                    }
                }
            } else if got[key] != record[key] {
                bad.push(format!("{file} {key}: {} != {}", got[key], record[key]));
            } else if key == "hash" {
                equal += 1;
            }
            if key == "hash" {
                total += 1;
            }
        }
    }
    (equal, total, bad)
}

#[test]
fn every_jpeg_matches_the_committed_reference() {
    let doc = committed();
    let images = doc["images"].as_array().unwrap();
    assert!(images.len() >= 78, "{} images", images.len());
    for needed in ["4:4:4", "4:2:2", "4:2:0", "grey", "cmyk"] {
        assert!(
            images.iter().any(|r| r["subsampling"] == needed),
            "{needed}"
        );
    }
    assert!(images.iter().any(|r| r["progressive"] == true));
    let (equal, total, bad) = compare(images);
    eprintln!("jpeg: {equal} of {total} hashes equal the reference");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The venv of `.ci/setup-jpeg.sh` (pinned Pillow and pdqhash).
fn reference_python() -> Option<PathBuf> {
    let venv = std::env::var_os("JIKIMI_PDQ_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/jikimi-venvs/pdq-jpeg"))
        })?;
    let python = venv.join("bin/python");
    python.exists().then_some(python)
}

#[test]
fn the_reference_recomputed_now_agrees() {
    let Some(python) = reference_python() else {
        let how = "pdqhash venv absent: run .ci/setup-jpeg.sh";
        assert!(
            std::env::var_os("CI").is_none(),
            "{how} (CI must run this check)"
        );
        eprintln!("{how} to enable this check");
        return;
    };
    let out = std::process::Command::new(&python)
        .arg(data_dir().join("make_jpeg_expected.py"))
        .arg("--emit")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(live["versions"]["pillow"], "13.0.0", "pinned Pillow");
    let live_images = live["images"].as_array().unwrap();
    let doc = committed();
    // The committed JSON is what the reference says today...
    assert_eq!(live_images, doc["images"].as_array().unwrap());
    // ...and so is jikimi.
    let (equal, total, bad) = compare(live_images);
    eprintln!("jpeg (live reference): {equal} of {total} hashes equal");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// 600 damaged JPEGs: random bytes changed, inserted or cut in four of the test files (fixed seed).
fn mutants() -> Vec<Vec<u8>> {
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};
    let mut rng = SmallRng::seed_from_u64(19);
    let files = [
        "grad_diag_q75_420_base.jpg",
        "grad_diag_q50_444_prog.jpg",
        "rings_gray_q50_prog.jpg",
        "grad_diag_cmyk_q90_prog.jpg",
    ];
    let mut all = Vec::new();
    for file in files {
        let clean = std::fs::read(data_dir().join(file)).unwrap();
        for _ in 0..150 {
            let mut bytes = clean.clone();
            for _ in 0..rng.random_range(1..8usize) {
                let at = rng.random_range(2..bytes.len());
                match rng.random_range(0..3u8) {
                    0 => bytes[at] = rng.random(),
                    1 => bytes.insert(at, rng.random()),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            all.push(bytes);
        }
    }
    all
}

/// What jikimi makes of a file: "ok WxH sha256-of-pixels", or "err" (the reasons differ in wording).
fn verdict(bytes: &[u8]) -> String {
    match decode_rgb8(bytes, DecodeLimits::default()) {
        Ok(d) => {
            assert_eq!(d.rgb.len(), d.width as usize * d.height as usize * 3);
            let sha = Sha256::digest(&d.rgb);
            format!("ok {}x{} {sha:x}", d.width, d.height)
        }
        Err(_) => "err".into(),
    }
}

/// Damaged JPEGs go through libjpeg-turbo's C code: each must decode or give an error, never crash or panic.
#[test]
fn mutated_jpegs_decode_or_fail_cleanly() {
    let verdicts: Vec<String> = mutants().iter().map(|b| verdict(b)).collect();
    let decoded = verdicts.iter().filter(|v| v.starts_with("ok")).count();
    let refused = verdicts.len() - decoded;
    eprintln!("mutated jpegs: {decoded} decoded, {refused} refused");
    assert!(decoded > 0 && refused > 0);
}

/// The same damaged JPEGs through Pillow (the reference's decoder): jikimi decodes exactly the files Pillow
/// decodes, to the same pixels, and refuses the rest (bad markers, truncation). Needs libjpeg-turbo's SIMD
/// IDCT, as Pillow's build has: the C IDCT overflows differently on the garbage coefficients of damaged data.
#[test]
fn mutated_jpegs_decode_as_under_pillow() {
    let Some(python) = reference_python() else {
        let how = "pdqhash venv absent: run .ci/setup-jpeg.sh";
        assert!(
            std::env::var_os("CI").is_none(),
            "{how} (CI must run this check)"
        );
        eprintln!("{how} to enable this check");
        return;
    };
    if !jikimi_mediahash::jpeg_simd_idct() {
        // libjpeg-turbo was built without nasm: intact JPEGs still decode exactly (the other tests), but the
        // concealed areas of damaged ones differ from Pillow's SIMD build (see `jpeg_simd_idct`).
        let how =
            "libjpeg-turbo built without SIMD (nasm absent at build time: run .ci/setup-jpeg.sh)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{how} (CI must run this check)"
        );
        eprintln!("{how}; damaged JPEGs not compared with Pillow");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mutants = mutants();
    for (i, bytes) in mutants.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:04}.jpg")), bytes).unwrap();
    }
    let script = r#"
import hashlib, os, sys, warnings
from PIL import Image
warnings.simplefilter("ignore")
for name in sorted(os.listdir(sys.argv[1])):
    try:
        with Image.open(os.path.join(sys.argv[1], name)) as im:
            rgb = im.convert("RGB")
            print("ok %dx%d %s" % (rgb.size + (hashlib.sha256(rgb.tobytes()).hexdigest(),)))
    except Exception:
        print("err")
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pillow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pillow: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(pillow.len(), mutants.len());
    let differ: Vec<String> = mutants
        .iter()
        .zip(&pillow)
        .enumerate()
        .filter_map(|(i, (bytes, theirs))| {
            let ours = verdict(bytes);
            (&ours != theirs).then(|| format!("{i:04}.jpg: jikimi {ours}, pillow {theirs}"))
        })
        .collect();
    let decoded = pillow.iter().filter(|v| v.starts_with("ok")).count();
    eprintln!(
        "mutated jpegs vs pillow: {} of {} agree ({decoded} decoded by both)",
        mutants.len() - differ.len(),
        mutants.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
