//! No nationality, ethnicity or religion field is read anywhere in this crate's analytics: the only
//! code lines naming them are the refusal list and its error message.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
}

#[test]
fn source_never_reads_protected_fields() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5);
    let words = ["nationalit", "ethnic", "religio", "citizenship"];
    let mut offending = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let mut in_tests = false;
        let mut in_deny_list = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("#[cfg(test)]") {
                in_tests = true; // unit tests may name them to check the refusal
            }
            // The refusal list itself is the one place allowed to name them.
            if t.starts_with("pub const PROTECTED_COLUMNS") {
                in_deny_list = true;
            }
            let lower = t.to_lowercase();
            let code = !(t.starts_with("//") || in_tests || in_deny_list);
            if in_deny_list && t.contains("];") {
                in_deny_list = false;
            }
            if code && words.iter().any(|w| lower.contains(w)) {
                offending.push(format!("{}:{}: {}", f.display(), i + 1, t));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "protected fields named in code:\n{}",
        offending.join("\n")
    );
}

#[test]
fn loader_refuses_protected_columns() {
    for col in ["nationality", "Ethnicity", "religion"] {
        let csv = format!("incident_id,district,accepted_at,on_scene_at,{col}\n1,a,0,60,x\n");
        assert!(
            jikimi_forecast::equity::read_responses(csv.as_bytes(), "t").is_err(),
            "{col}"
        );
    }
}
