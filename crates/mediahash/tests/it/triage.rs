//! `identify triage` on a tree the test writes: images (PNG, JPEG, no or false extensions) in nested directories,
//! a duplicate, a rotated copy, a corrupt image, a text file, a video container and a path holding `<script>`;
//! two banks made from some of the images. Checks the report, resumption after a journal torn mid-line, a changed
//! file, and that the HTML page holds no image bytes and escapes paths.

use jikimi_mediahash::triage::journal;
use jikimi_mediahash::triage::report::{Report, VIDEO_NOT_BUILT};
use jikimi_mediahash::triage::{TriageOptions, TriageRun, triage};
use jikimi_mediahash::{DecodeLimits, Luma, hash_encoded};
use std::io::Cursor;
use std::path::{Path, PathBuf};

const SCRIPT_PATH: &str = "<script>alert(1)</script>.png";

/// An image of 8 x 8 random colour blocks (a simple LCG: no dependency needed), `side` pixels square.
fn pixels(seed: u64, side: u32) -> image::RgbImage {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u8
    };
    let blocks: Vec<[u8; 3]> = (0..64).map(|_| [next(), next(), next()]).collect();
    image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb(blocks[(y * 8 / side * 8 + x * 8 / side) as usize])
    })
}

fn encode(image: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn pdq_of(bytes: &[u8]) -> String {
    hash_encoded(bytes, DecodeLimits::default(), Luma::Pdqhash, false)
        .unwrap()
        .pdq
        .hash
        .to_hex()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Writes the seized tree and the two banks; returns (tree, bank specs).
fn scene(dir: &Path) -> (PathBuf, Vec<String>) {
    let root = dir.join("seized");
    let png = |seed| encode(&pixels(seed, 96), image::ImageFormat::Png);
    let (a, b, d, e, s) = (png(1), png(2), png(4), png(5), png(7));
    let c = encode(&pixels(3, 96), image::ImageFormat::Jpeg);
    let upright = pixels(6, 96);
    let rotated = encode(
        &image::imageops::rotate90(&upright),
        image::ImageFormat::Png,
    );
    write(&root, "a.png", &a);
    write(&root, "dup/a-copy.png", &a);
    write(&root, "nested/deeper/b", &b);
    write(&root, "nested/c.jpg", &c);
    write(&root, "nested/d.png", &d);
    write(&root, "e.dat", &e);
    write(&root, "rot.png", &rotated);
    write(&root, SCRIPT_PATH, &s);
    let mut broken = a.clone();
    broken.truncate(a.len() / 2);
    broken[40..60].fill(0xAB);
    write(&root, "broken.png", &broken);
    write(&root, "notes.txt", b"nothing to see here\n");
    let mut video = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2mp41".to_vec();
    video.resize(4096, 0);
    write(&root, "clip", &video);

    let bank1 = dir.join("agency.csv");
    std::fs::write(
        &bank1,
        format!(
            "signal_type,signal_str,collab,category,series\npdq,{},x,A,S1\npdq,{},x,A,S2\npdq,{},x,B,\n",
            pdq_of(&a),
            pdq_of(&b),
            pdq_of(&c)
        ),
    )
    .unwrap();
    let bank2 = dir.join("partner.txt");
    std::fs::write(
        &bank2,
        format!(
            "# jikimi-bank: name=partner dihedral=true\n{},111,222,2024-01-01,category:C series:S9\n",
            pdq_of(&encode(&upright, image::ImageFormat::Png))
        ),
    )
    .unwrap();
    (
        root,
        vec![
            format!("{}:distance=8", bank1.display()),
            bank2.display().to_string(),
        ],
    )
}

fn options(dir: &Path, root: &Path, banks: &[String]) -> TriageOptions {
    TriageOptions {
        root: root.to_owned(),
        banks: banks.to_vec(),
        default_distance: 31,
        out: dir.join("report.json"),
        html: Some(dir.join("report.html")),
        threads: Some(2),
        progress: false,
    }
}

fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(path).collect()
}

fn check_report(report: &Report) {
    let t = &report.totals;
    assert_eq!(t.files, 11, "{t:?}");
    assert_eq!((t.images_hashed, t.known, t.unknown), (8, 5, 3), "{t:?}");
    assert_eq!((t.not_media, t.duplicate_media_files), (1, 1), "{t:?}");
    assert!((t.share_precategorised - 5.0 / 8.0).abs() < 1e-12, "{t:?}");
    assert_eq!(
        paths(&report.known, |k| &k.path),
        [
            "a.png",
            "dup/a-copy.png",
            "nested/c.jpg",
            "nested/deeper/b",
            "rot.png"
        ]
    );
    assert_eq!(
        paths(&report.unknown, |u| &u.path),
        [SCRIPT_PATH, "e.dat", "nested/d.png"]
    );
    let rot = &report.known[4].matches;
    assert_eq!(rot.len(), 1);
    assert_eq!(
        (
            rot[0].bank.as_str(),
            rot[0].category.as_str(),
            rot[0].series.as_str()
        ),
        ("partner", "C", "S9")
    );
    assert_eq!(rot[0].variant, "rotate90");
    // The dihedral hashes approximate the rotated picture's own hash (28 bits apart for these blocks), within 31.
    assert!(rot[0].distance <= 31, "{rot:?}");
    assert_eq!(rot[0].entry, "111");
    type Row<'a> = (&'a str, &'a str, usize, Vec<(&'a str, usize)>);
    let cats: Vec<Row> = report
        .categories
        .iter()
        .map(|c| {
            let series = c
                .series
                .iter()
                .map(|s| (s.series.as_str(), s.files))
                .collect();
            (c.bank.as_str(), c.category.as_str(), c.files, series)
        })
        .collect();
    assert_eq!(
        cats,
        [
            ("agency.csv", "A", 3, vec![("S1", 2), ("S2", 1)]),
            ("agency.csv", "B", 1, vec![("(no series)", 1)]),
            ("partner", "C", 1, vec![("S9", 1)]),
        ]
    );
    assert_eq!(report.banks[0].distance, 8);
    assert_eq!(report.banks[0].files_matched, 4);
    assert_eq!(report.banks[1].files_matched, 1);
    // The corrupt PNG is unreadable with its reason; the video is either hashed or said not to be, never dropped.
    let broken = report.unreadable.iter().find(|u| u.path == "broken.png");
    assert!(
        broken.is_some_and(|b| b.reason.contains("corrupt")),
        "{:?}",
        report.unreadable
    );
    if cfg!(feature = "video") {
        // The container holds no stream: FFmpeg cannot decode it.
        assert!(
            report.unreadable.iter().any(|u| u.path == "clip"),
            "{:?}",
            report.unreadable
        );
        assert_eq!(t.unreadable, 2);
    } else {
        assert_eq!(t.videos_not_hashed, 1);
        assert_eq!(report.videos_not_hashed[0].path, "clip");
        assert_eq!(report.videos_not_hashed[0].reason, VIDEO_NOT_BUILT);
        assert_eq!(t.unreadable, 1);
    }
}

fn read_report(path: &Path) -> Report {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn report_sorts_the_tree_by_bank_category_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let (root, banks) = scene(dir.path());
    let run = triage(&options(dir.path(), &root, &banks)).unwrap();
    check_report(&run.report);
    assert_eq!(run.hashed_now, 11);
    assert_eq!(read_report(&dir.path().join("report.json")), run.report);
}

#[test]
fn an_interrupted_run_resumes_from_its_torn_journal_with_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let (root, banks) = scene(dir.path());
    let opts = options(dir.path(), &root, &banks);
    let whole: TriageRun = triage(&opts).unwrap();
    let bytes = std::fs::read(&whole.journal).unwrap();
    // Cut in the middle of a line, as a kill during a write leaves it.
    let mut cut = bytes.len() / 2;
    while bytes[cut - 1] == b'\n' || bytes[cut] == b'\n' {
        cut += 1;
    }
    let intact_lines = bytes[..cut].iter().filter(|&&b| b == b'\n').count();
    std::fs::write(&whole.journal, &bytes[..cut]).unwrap();
    std::fs::remove_file(&opts.out).unwrap();

    let resumed = triage(&opts).unwrap();
    assert_eq!(resumed.damaged_journal_lines, 1);
    assert_eq!(
        resumed.from_journal,
        intact_lines - 1,
        "the header is not a file"
    );
    assert_eq!(resumed.from_journal + resumed.hashed_now, 11);
    assert!(resumed.hashed_now > 0 && resumed.from_journal > 0);
    assert_eq!(resumed.report, whole.report);
    assert_eq!(read_report(&opts.out), whole.report);
    // The journal is whole again: every line parses, the torn one is gone.
    let parsed = journal::parse(&std::fs::read(&whole.journal).unwrap()).unwrap();
    assert_eq!(parsed.damaged_lines, 0);

    let again = triage(&opts).unwrap();
    assert_eq!((again.hashed_now, again.from_journal), (0, 11));
    assert_eq!(again.report, whole.report);

    // A changed file is hashed again (new content, new time), the rest comes from the journal.
    let changed = root.join("nested/d.png");
    std::fs::write(&changed, encode(&pixels(40, 96), image::ImageFormat::Png)).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&changed)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let after = triage(&opts).unwrap();
    assert_eq!((after.hashed_now, after.from_journal), (1, 10));
    let d = after
        .report
        .unknown
        .iter()
        .find(|u| u.path == "nested/d.png")
        .unwrap();
    let before = whole
        .report
        .unknown
        .iter()
        .find(|u| u.path == "nested/d.png")
        .unwrap();
    assert_ne!(d.sha256, before.sha256);
    assert_ne!(d.pdq, before.pdq);
}

#[test]
fn the_html_report_holds_no_image_bytes_and_escapes_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (root, banks) = scene(dir.path());
    let opts = options(dir.path(), &root, &banks);
    triage(&opts).unwrap();
    let html = std::fs::read(opts.html.as_ref().unwrap()).unwrap();
    let text = String::from_utf8(html.clone()).unwrap();
    assert!(!text.contains("<script"), "a path became markup");
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;.png"));
    for banned in ["<img", "data:", "src=", "href=", "url("] {
        assert!(!text.contains(banned), "{banned} in the page");
    }
    assert!(text.contains("default-src 'none'"));
    // No run of 12 bytes from any media file's body (after its header) is in the page.
    for rel in ["a.png", "nested/c.jpg", "rot.png", SCRIPT_PATH, "e.dat"] {
        let bytes = std::fs::read(root.join(rel)).unwrap();
        for start in (64..bytes.len().saturating_sub(12)).step_by(97) {
            let window = &bytes[start..start + 12];
            assert!(
                !html.windows(12).any(|w| w == window),
                "{rel} bytes at {start} in the page"
            );
        }
    }
    for signature in [&b"\x89PNG"[..], &[0xFF, 0xD8, 0xFF]] {
        assert!(!html.windows(signature.len()).any(|w| w == signature));
    }
    for section in [
        "Categories and series",
        "Unknown items (3)",
        "Share pre-categorised",
        "62.5%",
    ] {
        assert!(text.contains(section), "{section} missing");
    }
}
