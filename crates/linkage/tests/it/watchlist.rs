//! Border watchlist: the Korean-name sample's file A as a watchlist, file B's linked records as travellers.

use std::collections::HashMap;

use jikimi_linkage::watchlist::{Query, Watchlist, split_full_name};

use crate::data::{TestResult, load, load_pairs};

#[test]
fn travellers_under_variant_spellings_are_found_on_the_watchlist() -> TestResult {
    let list = Watchlist::from_table(&load("korean_names/korean_a.csv")?)?;
    assert_eq!(list.len(), 200);
    let travellers = load("korean_names/korean_b.csv")?;
    let truth: HashMap<String, String> = load_pairs("korean_names/korean_true_links.csv")?
        .into_iter()
        .map(|(a, b)| (b, a))
        .collect();
    let col = |name: &str| {
        travellers
            .column_index(name)
            .ok_or(format!("no column {name}"))
    };
    let (g, s, d, n, p) = (
        col("given_name")?,
        col("surname")?,
        col("date_of_birth")?,
        col("nationality")?,
        col("passport_no")?,
    );
    let (mut found, mut top1) = (0, 0);
    for row in &travellers.rows {
        let Some(expected) = truth.get(&row[0]) else {
            continue;
        };
        let query = Query {
            given_name: Some(row[g].clone()),
            surname: Some(row[s].clone()),
            date_of_birth: Some(row[d].clone()),
            nationality: Some(row[n].clone()),
            passport_no: Some(row[p].clone()),
        };
        let hits = list.check(&query, 5, 0.0);
        found += usize::from(hits.iter().any(|h| &h.id == expected));
        top1 += usize::from(hits.first().is_some_and(|h| &h.id == expected));
        if let Some(best) = hits.first() {
            assert!(!best.evidence.is_empty(), "candidates are explained");
        }
    }
    println!("watchlist: listed travellers found in top 5: {found}/120, ranked first: {top1}/120");
    assert!(found >= 116, "{found}/120");
    assert!(top1 >= 112, "{top1}/120");
    Ok(())
}

#[test]
fn full_names_split_in_any_order_and_script() {
    assert_eq!(
        split_full_name("Lee Min-jun"),
        ("Min-jun".to_string(), "Lee".to_string())
    );
    assert_eq!(
        split_full_name("MINJUN LEE"),
        ("MINJUN".to_string(), "LEE".to_string())
    );
    assert_eq!(
        split_full_name("이민준"),
        ("민준".to_string(), "이".to_string())
    );
}

#[test]
fn a_hangul_query_finds_the_romanised_entry() -> TestResult {
    let list = Watchlist::from_table(&load("korean_names/korean_a.csv")?)?;
    // A00002 in the sample: Siu Kang, born 1951-01-24.
    let query = Query::new(
        Some("강시우"),
        None,
        None,
        Some("1951-01-24"),
        Some("KOR"),
        None,
    );
    let hits = list.check(&query, 3, 0.0);
    assert_eq!(
        hits.first().map(|h| h.id.as_str()),
        Some("A00002"),
        "{hits:#?}"
    );
    Ok(())
}
