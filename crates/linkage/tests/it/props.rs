//! Property tests: normalisers never panic on any input; fast string measures agree with `strsim`.

use jikimi_linkage::compare::{self, NormaliseOptions, PartialDate};
use jikimi_linkage::korean;
use jikimi_linkage::schema::FieldKind;
use proptest::prelude::*;

proptest! {
    #[test]
    fn normalising_any_text_never_panics(text in "\\PC{0,24}") {
        let options = NormaliseOptions { korean_names: true, ..NormaliseOptions::default() };
        for kind in FieldKind::ALL {
            let _ = compare::normalise(kind, &text, &options);
        }
        let _ = PartialDate::parse(&text);
        let _ = korean::romanise_hangul(&text);
        let _ = korean::split_hangul_full_name(&text);
    }

    #[test]
    fn comparison_is_symmetric_and_reflexive(a in "[a-z]{1,10}", b in "[a-z]{1,10}") {
        let options = NormaliseOptions { korean_names: true, ..NormaliseOptions::default() };
        for kind in [FieldKind::GivenName, FieldKind::Surname, FieldKind::Text, FieldKind::Identifier] {
            if let (Some(x), Some(y)) = (compare::normalise(kind, &a, &options), compare::normalise(kind, &b, &options)) {
                prop_assert_eq!(compare::compare(kind, &x, &y), compare::compare(kind, &y, &x));
                prop_assert_eq!(compare::compare(kind, &x, &x) as usize, compare::n_levels(kind) - 1);
            }
        }
    }

    #[test]
    fn fast_measures_match_strsim(a in "[a-e0-9 ]{0,12}", b in "[a-e0-9 ]{0,12}") {
        prop_assert!((compare::jaro_winkler(&a, &b) - strsim::jaro_winkler(&a, &b)).abs() < 1e-9);
        prop_assert_eq!(compare::within_one_edit(&a, &b), strsim::osa_distance(&a, &b) <= 1);
    }

    #[test]
    fn fast_jaro_winkler_matches_strsim_on_longer_text(a in "[a-z0-9 ]{0,64}", b in "[a-z0-9 ]{0,64}") {
        prop_assert!((compare::jaro_winkler(&a, &b) - strsim::jaro_winkler(&a, &b)).abs() < 1e-9);
    }

    #[test]
    fn hangul_syllables_romanise_to_ascii(code in 0xAC00u32..=0xD7A3) {
        let syllable = char::from_u32(code).map(String::from).unwrap_or_default();
        let roman = korean::romanise_hangul(&syllable);
        prop_assert!(!roman.is_empty() && roman.is_ascii());
    }
}
