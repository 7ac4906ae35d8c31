//! Forward geocoding: every addressed feature is found by what a dispatcher would type, in full, by prefix, and
//! regardless of case and diacritics; the hit's point reverse-geocodes back to the same address.

use jikimi_geocode::index::ReverseOptions;
use jikimi_geocode::text::normalise;

use crate::common::helsinki;

#[test]
fn every_address_round_trips() {
    let index = helsinki();
    let (mut checked, mut same_back) = (0, 0);
    for f in index.features() {
        let (Some(street), Some(number)) = (&f.address.street, &f.address.house_number) else {
            continue;
        };
        let hits = index.search(&format!("{street} {number}"), 10);
        let hit = hits
            .iter()
            .find(|h| {
                h.address.street.as_ref() == Some(street)
                    && h.address.house_number.as_ref() == Some(number)
            })
            .unwrap_or_else(|| panic!("{street} {number}: {hits:?}"));
        // Back again: the pin of the hit is inside or at a feature with the same address.
        let back = index
            .reverse(hit.point, ReverseOptions::default())
            .expect("an address at the pin");
        let same = (
            back.address.street.as_ref(),
            back.address.house_number.as_ref(),
        ) == (Some(street), Some(number));
        // Outlines overlap in OSM (a block relation around its buildings, a centroid of an L-shaped building
        // inside its neighbour): then the pin is inside the other feature too, at distance zero.
        assert!(
            same || back.distance_m == 0.0,
            "{street} {number}: {back:?}"
        );
        same_back += usize::from(same);
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
    assert!(same_back * 100 >= checked * 95, "{same_back} of {checked}");
}

#[test]
fn typing_finds_by_prefix_case_and_diacritics() {
    let index = helsinki();
    let with_umlaut = index
        .features()
        .iter()
        .filter_map(|f| f.address.street.as_ref())
        .find(|s| s.contains(['ä', 'ö', 'å']))
        .cloned();
    let street = index
        .features()
        .iter()
        .find_map(|f| f.address.street.clone())
        .expect("a street");
    for typed in [
        street.to_uppercase(),
        street.chars().take(5).collect::<String>().to_lowercase(),
    ] {
        let hits = index.search(&typed, 8);
        assert!(!hits.is_empty(), "{typed}");
        for h in &hits {
            assert!(
                normalise(&h.label).contains(&normalise(&typed)),
                "{typed}: {}",
                h.label
            );
        }
    }
    if let Some(s) = with_umlaut {
        let plain: String = s
            .chars()
            .map(|c| match c {
                'ä' | 'å' => 'a',
                'ö' => 'o',
                c => c,
            })
            .collect();
        assert!(!index.search(&plain, 5).is_empty(), "{plain}");
    }
    // Numbers in natural order: "katu 2" before "katu 10".
    let hits = index.search(&street, 50);
    let numbers: Vec<u32> = hits
        .iter()
        .filter(|h| h.address.street.as_ref() == Some(&street))
        .filter_map(|h| h.address.house_number.as_deref()?.parse().ok())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
    assert!(index.search("", 5).is_empty() && index.search("zzzzqqq", 5).is_empty());
}
