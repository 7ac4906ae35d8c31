//! Matching at the library boundary: an image's hash found in a hash list within radius 31, and a batch
//! with bad files that carries on and reports how many failed.

use crate::reference::shared_dir;
use clap::Parser;
use jikimi_mediahash::cli::{CliError, PdqArgs};
use jikimi_mediahash::index::HammingIndex;
use jikimi_mediahash::{DecodeLimits, Luma, hash_encoded, list};

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    args: PdqArgs,
}

#[test]
fn image_matches_a_list_entry_within_radius() {
    let png = std::fs::read(shared_dir().join("reference/pdq/smooth_rgb_1000x750.png")).unwrap();
    let hashes = hash_encoded(&png, DecodeLimits::default(), Luma::Pdqhash, true).unwrap();
    let mut near = hashes.pdq.hash;
    for bit in (0..256).step_by(9).take(25) {
        near.flip_bit(bit);
    }
    let far = !hashes.pdq.hash.0[0];
    let csv = format!(
        "signal_type,signal_str,collab,category,tags\npdq,{near},Sample,c,known\npdq,{far:016x}{},S,c,\n",
        "0".repeat(48)
    );
    let report = list::import(csv.as_bytes()).unwrap();
    assert_eq!(report.entries.len(), 2);
    let index = HammingIndex::from_hashes(report.entries.iter().map(|e| e.hash).collect()).unwrap();
    let hits = index.search(&hashes.pdq.hash, 31);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].id, hits[0].distance), (0, 25));
    assert_eq!(report.entries[0].tags, ["known"]);
    // The rotated copy matches through its dihedral hash, not the original.
    let dihedral = hashes.dihedral.unwrap();
    assert_eq!(dihedral.hashes[0], hashes.pdq.hash);
    assert!(index.search(&dihedral.hashes[1], 31).is_empty());
}

#[test]
fn a_batch_with_bad_files_goes_on_and_counts_failures() {
    let dir = tempfile::tempdir().unwrap();
    let good = shared_dir().join("reference/pdq/tiny_rgb_5x7.png");
    std::fs::copy(&good, dir.path().join("a_good.png")).unwrap();
    std::fs::write(dir.path().join("b_empty.jpg"), b"").unwrap();
    let png = std::fs::read(&good).unwrap();
    std::fs::write(dir.path().join("c_truncated.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(dir.path().join("d_notes.txt"), b"not an image").unwrap();
    let cli =
        TestCli::try_parse_from(["pdq", "hash", "--json", dir.path().to_str().unwrap()]).unwrap();
    match jikimi_mediahash::cli::run(cli.args) {
        Err(CliError::SomeFailed(n)) => assert_eq!(n, 3),
        other => panic!("expected three failures, got {other:?}"),
    }
}
