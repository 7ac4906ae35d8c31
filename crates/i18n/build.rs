//! Embeds every `locales/<tag>/<domain>.ftl` file: generates a table of `include_str!`s, so a new domain file (say
//! another team's `twoway.ftl`) joins the catalogue without a code change, and the crate reads no file at run time.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    // The directory itself: a new language directory changes its listing.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    let mut languages: Vec<_> = std::fs::read_dir(&root)
        .expect("locales/ is readable")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    languages.sort_by_key(|e| e.file_name());
    for language in languages {
        let dir = language.path();
        // A new file in a language directory changes that directory's listing.
        println!("cargo:rerun-if-changed={}", dir.display());
        let tag = language.file_name().to_string_lossy().into_owned();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("a language directory is readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        entries.sort();
        for path in entries {
            println!("cargo:rerun-if-changed={}", path.display());
            let domain = path
                .file_stem()
                .expect("an .ftl file has a stem")
                .to_string_lossy()
                .into_owned();
            files.push((tag.clone(), domain, path.display().to_string()));
        }
    }
    let mut out = String::from("/// Every embedded Fluent file: (language tag, domain, source).\n");
    out.push_str("pub(crate) static FILES: &[(&str, &str, &str)] = &[\n");
    for (tag, domain, path) in &files {
        writeln!(out, "    ({tag:?}, {domain:?}, include_str!({path:?})),")
            .expect("write to a string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
