//! Handling marks that travel with every record: TLP 2.0, Europol-style handling codes (H0-H3) and
//! the 4x4 source/information grading (A/B/C/X, 1-4).
//!
//! Each scale is ordered from least to most restrictive (or least to most doubtful), so that
//! combining two markings is a component-wise maximum: the most restrictive marking wins.

use serde::{Deserialize, Serialize};

/// Traffic Light Protocol 2.0 (FIRST), ordered by restrictiveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "TLP:CLEAR")]
    Clear,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:RED")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];
    /// TLP:AMBER+STRICT stays inside the recipient organisation and TLP:RED with the named
    /// recipients, so neither may be passed on to a third agency.
    pub fn allows_onward(self) -> bool {
        self <= Tlp::Amber
    }
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
}

impl std::str::FromStr for Tlp {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        let u = s.to_ascii_uppercase();
        let u = u.strip_prefix("TLP:").unwrap_or(&u);
        match u {
            "CLEAR" | "WHITE" => Ok(Tlp::Clear),
            "GREEN" => Ok(Tlp::Green),
            "AMBER" => Ok(Tlp::Amber),
            "AMBER+STRICT" | "AMBER-STRICT" => Ok(Tlp::AmberStrict),
            "RED" => Ok(Tlp::Red),
            _ => Err(crate::Error::invalid(
                "tlp",
                "expected CLEAR, GREEN, AMBER, AMBER+STRICT or RED",
            )),
        }
    }
}

/// Europol-style handling codes.
/// H0: no restriction on use; H1: not to be used in judicial proceedings (court) without the
/// provider's permission; H2: not to be disseminated without the provider's permission;
/// H3: other restrictions set by the provider (treated as the most restrictive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HandlingCode {
    H0,
    H1,
    H2,
    H3,
}

impl HandlingCode {
    pub const ALL: [HandlingCode; 4] = [
        HandlingCode::H0,
        HandlingCode::H1,
        HandlingCode::H2,
        HandlingCode::H3,
    ];
    /// May the receiver put the record in a court bundle without asking the provider?
    pub fn allows_court(self) -> bool {
        self == HandlingCode::H0
    }
    /// May the receiver pass the record on to a third agency without asking the provider?
    pub fn allows_onward(self) -> bool {
        self <= HandlingCode::H1
    }
}

impl std::str::FromStr for HandlingCode {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "H0" => Ok(HandlingCode::H0),
            "H1" => Ok(HandlingCode::H1),
            "H2" => Ok(HandlingCode::H2),
            "H3" => Ok(HandlingCode::H3),
            _ => Err(crate::Error::invalid(
                "handling code",
                "expected H0, H1, H2 or H3",
            )),
        }
    }
}

/// Source reliability: A completely reliable ... C fairly reliable, X cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SourceGrade {
    A,
    B,
    C,
    X,
}

/// Information credibility: 1 known to be true ... 4 cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum InfoGrade {
    One,
    Two,
    Three,
    Four,
}

impl TryFrom<u8> for InfoGrade {
    type Error = crate::Error;
    fn try_from(v: u8) -> crate::Result<Self> {
        match v {
            1 => Ok(InfoGrade::One),
            2 => Ok(InfoGrade::Two),
            3 => Ok(InfoGrade::Three),
            4 => Ok(InfoGrade::Four),
            _ => Err(crate::Error::invalid(
                "information grade",
                "expected 1, 2, 3 or 4",
            )),
        }
    }
}
impl From<InfoGrade> for u8 {
    fn from(g: InfoGrade) -> u8 {
        match g {
            InfoGrade::One => 1,
            InfoGrade::Two => 2,
            InfoGrade::Three => 3,
            InfoGrade::Four => 4,
        }
    }
}

/// The marks on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Marking {
    pub tlp: Tlp,
    pub handling: HandlingCode,
    pub source: SourceGrade,
    pub information: InfoGrade,
}

impl Default for Marking {
    fn default() -> Self {
        Marking {
            tlp: Tlp::Amber,
            handling: HandlingCode::H0,
            source: SourceGrade::X,
            information: InfoGrade::Four,
        }
    }
}

impl Marking {
    /// Component-wise most restrictive of the two: the stricter TLP and handling code, the less
    /// reliable source and the less credible information grade.
    pub fn combine(self, other: Marking) -> Marking {
        Marking {
            tlp: self.tlp.max(other.tlp),
            handling: self.handling.max(other.handling),
            source: self.source.max(other.source),
            information: self.information.max(other.information),
        }
    }
    /// True if `self` is at least as restrictive as `other` in every component.
    pub fn at_least(self, other: Marking) -> bool {
        self.tlp >= other.tlp
            && self.handling >= other.handling
            && self.source >= other.source
            && self.information >= other.information
    }
}
