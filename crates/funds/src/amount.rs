//! Exact money: amounts are unsigned integer counts of a currency's smallest unit (`10^-decimals`).
//!
//! Why integers and not a decimal crate: the haircut and FIFO policies divide taint pro rata, and the
//! result must be reproducible bit for bit by another tool (the Python cross-check). With integer units
//! the one rounding rule is "floor to the unit" on an exact product (`floor(a * b / c)`), which any language
//! with big integers computes identically; a decimal type rounds quotients to a number of significant digits
//! instead, whose rules differ between libraries. `u128` holds 3.4e38 units: every real amount at 18 decimals.

use crate::Error;

/// An amount in units of `10^-decimals` of its currency.
pub type Units = u128;

/// How many decimals a currency's amounts carry when nobody says otherwise (ISO 4217 minor units for fiat;
/// the token's on-chain decimals for the common stablecoins and coins; 2 for anything else).
pub fn default_decimals(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "KRW" | "JPY" | "VND" | "CLP" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" | "XPF" | "KMF"
        | "GNF" | "RWF" | "VUV" | "DJF" | "BIF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "USDT" | "USDC" | "TRX" => 6,
        "BTC" => 8,
        "ETH" | "DAI" | "BUSD" => 18,
        _ => 2,
    }
}

/// Why an amount text was refused (the caller adds the line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    Empty,
    Negative,
    NotANumber,
    TooManyDecimals { allowed: u32 },
    TooLarge,
}

impl std::fmt::Display for AmountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AmountError::Empty => f.write_str("amount is empty"),
            AmountError::Negative => {
                f.write_str("amount is negative (give transfers with a positive amount from payer to payee)")
            }
            AmountError::NotANumber => f.write_str(
                "amount is not a decimal number (digits, one '.', optional ',' thousands separators)",
            ),
            AmountError::TooManyDecimals { allowed } => write!(
                f,
                "amount has more than {allowed} decimal places for its currency (set --decimals)"
            ),
            AmountError::TooLarge => f.write_str("amount is too large"),
        }
    }
}

/// Parses a decimal text (`1234.56`, `1,234.56`, `+7`) into units of `10^-decimals`. A comma is accepted only
/// as a thousands separator in its proper places, so a European decimal comma (`12,5`) is refused rather than
/// read as 125.
pub fn parse_units(text: &str, decimals: u32) -> Result<Units, AmountError> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() {
        return Err(AmountError::Empty);
    }
    if t.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(AmountError::NotANumber);
    }
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::NotANumber);
    }
    // Validate the integer part without allocating (this runs once per transfer).
    if int_part.contains(',') {
        let mut groups = int_part.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !(first_ok && groups.all(|g| g.len() == 3)) {
            return Err(AmountError::NotANumber);
        }
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return Err(AmountError::NotANumber);
    }
    let int_digits = int_part.bytes().filter(|b| *b != b',');
    // Trailing zeros beyond the allowed decimals carry no value (`1.500` at 2 decimals is fine).
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > decimals as usize {
        return Err(AmountError::TooManyDecimals { allowed: decimals });
    }
    let mut units: Units = 0;
    for b in int_digits {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(Units::from(b - b'0')))
            .ok_or(AmountError::TooLarge)?;
    }
    for i in 0..decimals as usize {
        let digit = frac_trimmed.as_bytes().get(i).map_or(0, |b| b - b'0');
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(Units::from(digit)))
            .ok_or(AmountError::TooLarge)?;
    }
    Ok(units)
}

/// Formats units as a plain decimal with exactly `decimals` places (`12345` at 2 → `123.45`), the form every
/// output file uses so that two tools' outputs compare as text.
pub fn format_units(units: Units, decimals: u32) -> String {
    if decimals == 0 {
        return units.to_string();
    }
    let digits = units.to_string();
    let d = decimals as usize;
    if digits.len() <= d {
        format!("0.{}{}", "0".repeat(d - digits.len()), digits)
    } else {
        let (i, f) = digits.split_at(digits.len() - d);
        format!("{i}.{f}")
    }
}

/// `floor(a * b / c)` computed exactly: the pro-rata rule of both policies (`c > 0`, and callers guarantee
/// `b <= c`, so the result is at most `a`). Falls back to big integers only when `a * b` overflows `u128`.
pub fn mul_div_floor(a: Units, b: Units, c: Units) -> Result<Units, Error> {
    if c == 0 {
        return Err(Error::Arithmetic("division by a zero balance"));
    }
    match a.checked_mul(b) {
        // Most products and balances fit 64 bits, whose division is several times cheaper than 128 bits'.
        Some(p) if (p | c) >> 64 == 0 => Ok(Units::from(p as u64 / c as u64)),
        Some(p) => Ok(p / c),
        None => {
            let p = num_bigint::BigUint::from(a) * num_bigint::BigUint::from(b);
            let q = p / num_bigint::BigUint::from(c);
            Units::try_from(q).map_err(|_| Error::Arithmetic("pro-rata share exceeds 128 bits"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_units("1234.56", 2), Ok(123_456));
        assert_eq!(parse_units("1,234.5", 2), Ok(123_450));
        assert_eq!(parse_units("7", 0), Ok(7));
        assert_eq!(parse_units("1.500", 2), Ok(150));
        assert_eq!(parse_units(".5", 2), Ok(50));
        assert_eq!(parse_units("12,5", 2), Err(AmountError::NotANumber));
        assert_eq!(
            parse_units("1.234", 2),
            Err(AmountError::TooManyDecimals { allowed: 2 })
        );
        assert_eq!(parse_units("-1", 2), Err(AmountError::Negative));
        assert_eq!(parse_units("1e5", 2), Err(AmountError::NotANumber));
        assert_eq!(format_units(123_456, 2), "1234.56");
        assert_eq!(format_units(5, 3), "0.005");
        assert_eq!(format_units(0, 2), "0.00");
        assert_eq!(format_units(42, 0), "42");
    }

    #[test]
    fn mul_div_is_exact_beyond_u128() {
        let big = u128::MAX / 3;
        assert_eq!(mul_div_floor(big, big, big).ok(), Some(big));
        assert_eq!(mul_div_floor(10, 1, 3).ok(), Some(3));
        assert!(mul_div_floor(1, 1, 0).is_err());
    }
}
