//! Accuracy against the shared reference data: FEBRL4 linking (issue 11 acceptance: F1 >= 0.999 without
//! `soc_sec_id`), FEBRL3 de-duplication, and the Korean-name sample with and without Korean normalisation.

use jikimi_linkage::compare::NormaliseOptions;
use jikimi_linkage::engine::{self, LinkOptions, NoProgress, Quality};
use jikimi_linkage::schema::{self, SchemaOptions};

use crate::data::{TestResult, load, load_pairs};

/// Link two shared files and score the links against the truth; `rec_id`/`id` is read only for scoring.
fn link_quality(
    left: &str,
    right: &str,
    truth: &str,
    exclude: &[&str],
    korean_names: bool,
) -> Result<Quality, Box<dyn std::error::Error>> {
    let (a, b) = (load(left)?, load(right)?);
    let options = SchemaOptions {
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        ..SchemaOptions::default()
    };
    let schema = schema::infer_schema(&a, Some(&b), &options)?;
    let link_options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names,
            ..NormaliseOptions::default()
        },
        ..LinkOptions::default()
    };
    let run = engine::run(&a, Some(&b), &schema, &link_options, &NoProgress);
    let predicted: Vec<(String, String)> = run
        .links
        .iter()
        .map(|p| {
            (
                run.prepared.left_ids[p.left as usize].clone(),
                run.prepared.right_id(p.right as usize).to_string(),
            )
        })
        .collect();
    Ok(engine::quality(&predicted, &load_pairs(truth)?, false))
}

#[test]
fn febrl4_links_with_f1_at_least_0_999_without_soc_sec_id() -> TestResult {
    let q = link_quality(
        "febrl/febrl4_a.csv",
        "febrl/febrl4_b.csv",
        "febrl/febrl4_true_links.csv",
        &["soc_sec_id"],
        false,
    )?;
    println!("FEBRL4 link: {q:?}");
    assert!(q.f1 >= 0.999, "{q:?}");
    Ok(())
}

#[test]
fn febrl3_dedupe_reports_precision_recall_f1() -> TestResult {
    let table = load("febrl/febrl3.csv")?;
    let options = SchemaOptions {
        exclude: vec!["soc_sec_id".into()],
        ..SchemaOptions::default()
    };
    let schema = schema::infer_schema(&table, None, &options)?;
    let run = engine::run(&table, None, &schema, &LinkOptions::default(), &NoProgress);
    let clusters = run.clusters();
    assert_eq!(clusters.len(), table.len(), "every record appears once");
    let q = engine::quality(
        &engine::cluster_pairs(&clusters),
        &load_pairs("febrl/febrl3_true_links.csv")?,
        true,
    );
    println!("FEBRL3 dedupe (pairwise over clusters): {q:?}");
    assert!(q.f1 >= 0.995, "{q:?}");
    Ok(())
}

#[test]
fn korean_romanisation_variants_link_better_with_normalisation() -> TestResult {
    let (a, b, t) = (
        "korean_names/korean_a.csv",
        "korean_names/korean_b.csv",
        "korean_names/korean_true_links.csv",
    );
    let all_on = link_quality(a, b, t, &[], true)?;
    let all_off = link_quality(a, b, t, &[], false)?;
    // Without phone and passport, names and date of birth carry the decision: the hard setting.
    let names_on = link_quality(a, b, t, &["phone", "passport_no"], true)?;
    let names_off = link_quality(a, b, t, &["phone", "passport_no"], false)?;
    println!(
        "korean, all fields:      with normalisation {all_on:?}\n                         without {all_off:?}"
    );
    println!(
        "korean, names+dob+nat.:  with normalisation {names_on:?}\n                         without {names_off:?}"
    );
    assert!(all_on.f1 >= 0.99, "{all_on:?}");
    assert!(all_on.f1 >= all_off.f1);
    assert!(names_on.f1 > names_off.f1, "{names_on:?} vs {names_off:?}");
    Ok(())
}

#[test]
fn labelled_pairs_give_m_directly() -> TestResult {
    let (a, b) = (
        load("korean_names/korean_a.csv")?,
        load("korean_names/korean_b.csv")?,
    );
    let schema = schema::infer_schema(&a, Some(&b), &SchemaOptions::default())?;
    let options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names: true,
            ..NormaliseOptions::default()
        },
        ..LinkOptions::default()
    };
    // Half of the true links as labels; the other half is held out for scoring.
    let truth = load_pairs("korean_names/korean_true_links.csv")?;
    let (labels, held_out) = truth.split_at(60);
    let run = engine::run_with_labels(&a, Some(&b), &schema, &options, labels, &NoProgress);
    let dob = run
        .model
        .fields
        .iter()
        .find(|f| f.name == "date_of_birth")
        .ok_or("no dob field")?;
    assert!(
        dob.m[4] > 0.8,
        "most labelled matches agree exactly on date of birth: {:?}",
        dob.m
    );
    let predicted: Vec<(String, String)> = run
        .links
        .iter()
        .map(|p| {
            (
                run.prepared.left_ids[p.left as usize].clone(),
                run.prepared.right_id(p.right as usize).to_string(),
            )
        })
        .collect();
    let held: std::collections::HashSet<&(String, String)> = held_out.iter().collect();
    let found = predicted.iter().filter(|p| held.contains(p)).count();
    assert!(found >= 58, "{found}/60 held-out links found");
    Ok(())
}

#[test]
fn analyst_decisions_are_respected_by_a_later_run() -> TestResult {
    use jikimi_linkage::engine::{Decision, Verdict};
    let (a, b) = (
        load("korean_names/korean_a.csv")?,
        load("korean_names/korean_b.csv")?,
    );
    let schema = schema::infer_schema(&a, Some(&b), &SchemaOptions::default())?;
    let options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names: true,
            ..NormaliseOptions::default()
        },
        ..LinkOptions::default()
    };
    let mut run = engine::run(&a, Some(&b), &schema, &options, &NoProgress);
    let ids = |run: &engine::LinkRun| -> Vec<(String, String)> {
        run.links
            .iter()
            .map(|p| {
                (
                    run.prepared.left_ids[p.left as usize].clone(),
                    run.prepared.right_id(p.right as usize).to_string(),
                )
            })
            .collect()
    };
    let before = ids(&run);
    let (rejected_left, rejected_right) = before.first().cloned().ok_or("no links")?;
    // Confirm a pair the model did not link: a record of A with a B record of another person.
    let linked_right: std::collections::HashSet<&String> = before.iter().map(|(_, r)| r).collect();
    let free_right = b
        .rows
        .iter()
        .map(|r| &r[0])
        .find(|id| !linked_right.contains(id))
        .ok_or("no free B record")?;
    let (confirmed_left, _) = before.get(1).cloned().ok_or("one link only")?;
    let decisions = vec![
        Decision {
            left_id: rejected_left.clone(),
            right_id: rejected_right.clone(),
            verdict: Verdict::Rejected,
        },
        Decision {
            left_id: confirmed_left.clone(),
            right_id: free_right.clone(),
            verdict: Verdict::Confirmed,
        },
    ];
    run.apply_decisions(&decisions, &options);
    let after = ids(&run);
    assert!(
        !after.contains(&(rejected_left, rejected_right)),
        "rejected pair is not linked"
    );
    assert!(
        after.contains(&(confirmed_left.clone(), free_right.clone())),
        "confirmed pair is linked"
    );
    assert_eq!(
        after.iter().filter(|(l, _)| *l == confirmed_left).count(),
        1,
        "still one-to-one"
    );
    Ok(())
}
