//! One-line civic addresses in each country's habit.
//!
//! Korean road-name addresses (도로명주소) run from the largest unit down: 시/도, 시군구, 도로명, 건물번호
//! ("서울특별시 중구 세종대로 110"), with the postcode apart. Finnish and most European addresses put the street
//! first: "Mannerheimintie 5, 00100 Helsinki". Korean order is used when the country is `KR` or, with no country,
//! when the street is written in Hangul.

use crate::CivicAddress;
use crate::text::has_hangul;

/// Whether `address` is formatted in Korean road-name order.
pub fn is_korean(address: &CivicAddress) -> bool {
    match address.country.as_deref() {
        Some(country) => country.eq_ignore_ascii_case("KR"),
        None => address.street.as_deref().is_some_and(has_hangul),
    }
}

/// The one-line form of `address` (empty when nothing is known).
pub fn format(address: &CivicAddress) -> String {
    if is_korean(address) {
        // A city that repeats the state (a metropolitan city holds both tags) is said once.
        let city = address
            .city
            .as_deref()
            .filter(|c| address.state.as_deref() != Some(*c));
        [
            address.state.as_deref(),
            city,
            address.district.as_deref(),
            address.street.as_deref(),
            address.house_number.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    } else {
        let street = [address.street.as_deref(), address.house_number.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let place = [address.postcode.as_deref(), address.city.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        [street, place]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn finnish_order() {
        let a = CivicAddress {
            street: s("Mannerheimintie"),
            house_number: s("5"),
            postcode: s("00100"),
            city: s("Helsinki"),
            country: s("FI"),
            ..CivicAddress::default()
        };
        assert_eq!(format(&a), "Mannerheimintie 5, 00100 Helsinki");
        let street_only = CivicAddress {
            street: s("Mannerheimintie"),
            ..CivicAddress::default()
        };
        assert_eq!(format(&street_only), "Mannerheimintie");
        assert_eq!(format(&CivicAddress::default()), "");
    }

    #[test]
    fn korean_road_name_order() {
        let a = CivicAddress {
            street: s("세종대로"),
            house_number: s("110"),
            postcode: s("04524"),
            city: s("서울특별시"),
            state: s("서울특별시"),
            district: s("중구"),
            country: s("KR"),
        };
        assert_eq!(format(&a), "서울특별시 중구 세종대로 110");
        // No country tag: Hangul in the street decides.
        let b = CivicAddress {
            street: s("중앙로"),
            house_number: s("1"),
            city: s("대전광역시"),
            district: s("중구"),
            ..CivicAddress::default()
        };
        assert_eq!(format(&b), "대전광역시 중구 중앙로 1");
        let c = CivicAddress {
            state: s("경기도"),
            city: s("수원시"),
            district: s("팔달구"),
            street: s("효원로"),
            house_number: s("241"),
            country: s("KR"),
            ..CivicAddress::default()
        };
        assert_eq!(format(&c), "경기도 수원시 팔달구 효원로 241");
    }
}
