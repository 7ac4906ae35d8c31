//! The `jikimi link` command's file contract (issue 11 item 6): output columns, every record once, options.

use std::path::PathBuf;

use jikimi_linkage::cli::{KoreanMode, LinkArgs, run_link};
use jikimi_linkage::table::Table;

use crate::data::{TestResult, shared_data};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("jikimi-linkage-{}-{name}", std::process::id()))
}

fn args(out: PathBuf) -> LinkArgs {
    LinkArgs {
        left: None,
        right: None,
        dedupe: None,
        out,
        id: None,
        exclude: Vec::new(),
        map: Vec::new(),
        threshold: 0.5,
        many_to_many: false,
        korean: KoreanMode::Auto,
        phone_region: "KR".into(),
        max_block_pairs: 2_500,
        window: 4,
        u_sample_pairs: 20_000,
        labels: None,
        decisions: None,
        model_json: None,
        quiet: true,
    }
}

#[test]
fn link_writes_left_id_right_id_score_and_evidence() -> TestResult {
    let out = temp_path("links.csv");
    let data = shared_data().join("korean_names");
    let model = temp_path("model.json");
    let run = LinkArgs {
        left: Some(data.join("korean_a.csv")),
        right: Some(data.join("korean_b.csv")),
        exclude: vec!["nationality".into()],
        map: vec!["passport_no=identifier".into()],
        model_json: Some(model.clone()),
        ..args(out.clone())
    };
    run_link(&run)?;
    let links = Table::from_csv(std::fs::File::open(&out)?)?;
    assert_eq!(
        links.columns,
        ["left_id", "right_id", "weight", "probability", "evidence"]
    );
    assert!(links.len() >= 115 && links.len() <= 125, "{}", links.len());
    assert!(
        links
            .rows
            .iter()
            .all(|r| r[4].contains("date_of_birth:") && !r[4].contains("nationality"))
    );
    let model_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&model)?)?;
    assert!(
        model_json["fields"]
            .as_array()
            .is_some_and(|f| f.len() == 5)
    );
    std::fs::remove_file(out)?;
    std::fs::remove_file(model)?;
    Ok(())
}

#[test]
fn dedupe_writes_every_record_once_with_a_cluster_id() -> TestResult {
    let input = temp_path("people.csv");
    std::fs::write(
        &input,
        "name_col,pid,given_name,surname,date_of_birth,phone\n\
         x,p1,Minjun,Lee,1990-03-04,010-1234-5678\n\
         y,p2,MIN-JOON,YI,1990-04-03,+82 10 1234 5678\n\
         z,p3,Seoyeon,Kim,1985-12-01,010-2222-3333\n\
         w,p4,Jiho,Park,1970-01-20,\n",
    )?;
    let out = temp_path("clusters.csv");
    run_link(&LinkArgs {
        dedupe: Some(input.clone()),
        id: Some("pid".into()),
        exclude: vec!["name_col".into()],
        korean: KoreanMode::On,
        ..args(out.clone())
    })?;
    let clusters = Table::from_csv(std::fs::File::open(&out)?)?;
    assert_eq!(clusters.columns, ["id", "cluster_id"]);
    let ids: Vec<&str> = clusters.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["p1", "p2", "p3", "p4"]);
    assert_eq!(
        clusters.rows[0][1], clusters.rows[1][1],
        "Lee Minjun and YI MIN-JOON are one person"
    );
    assert_ne!(clusters.rows[2][1], clusters.rows[0][1]);
    std::fs::remove_file(input)?;
    std::fs::remove_file(out)?;
    Ok(())
}

#[test]
fn unknown_columns_are_reported() {
    let data = shared_data().join("korean_names");
    let run = LinkArgs {
        left: Some(data.join("korean_a.csv")),
        right: Some(data.join("korean_b.csv")),
        exclude: vec!["no_such_column".into()],
        ..args(temp_path("never.csv"))
    };
    let error = run_link(&run)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("no_such_column"), "{error}");
}
