//! Emergency data standards for jikimi: OASIS CAP 1.2 and NENA EIDO (NENA-STA-021), with the mappings between them
//! and the respond domain.
//!
//! - [`cap`]: the CAP 1.2 model, a strict reader ([`cap::parse`]: schema order and cardinality, errors naming the
//!   element, size/depth/count limits, no DOCTYPE so no external entities and no entity expansion) and a writer
//!   ([`cap::write`]) whose output validates against the OASIS schema. Areas are typed ([`cap::Polygon`] rings,
//!   [`cap::Circle`] centre and radius in km) for the disaster area that will consume them.
//! - [`eido`]: the EIDO JSON model (serde), the parts of NENA-STA-021 jikimi writes and reads.
//! - [`mapping`]: an incident as a CAP alert or an EIDO ([`mapping::incident_to_cap`],
//!   [`mapping::incident_to_eido`]) and an EIDO referral from another CAD back into jikimi's terms
//!   ([`mapping::eido_to_referral`]), each with an optional [`mapping::CivicAddress`] (the street address seam).
//! - [`atom`]: public warnings as public CAP alerts and an Atom feed carrying and linking them.
//!
//! Architecture Invariant: no I/O, no clock, no async; time and identities are parameters. Exports carry no
//! personal data (no subscriber or device ids, no notes); the caller decides how precise the location is.

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod atom;
pub mod cap;
pub mod eido;
pub mod mapping;
pub mod time;
pub mod xml;

/// Why a document was refused. Messages are lowercase, name the element, and never echo personal data beyond the
/// offending value of a structural field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is larger than the limit.
    #[error("document larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not well-formed XML, or a forbidden construct (DOCTYPE, unknown entity).
    #[error("xml at byte {offset}: {reason}")]
    Xml {
        /// Byte offset near the fault.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A count limit was passed (elements, depth, infos, areas, points).
    #[error("too many {what} (limit {limit})")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A required element is missing.
    #[error("<{parent}> is missing <{element}>")]
    Missing {
        /// The missing element.
        element: &'static str,
        /// Its parent.
        parent: &'static str,
    },
    /// An element the schema does not allow here.
    #[error("<{element}> is not allowed in <{parent}>")]
    Unexpected {
        /// The element found.
        element: String,
        /// Its parent.
        parent: &'static str,
    },
    /// An element out of the schema's order.
    #[error("<{element}> is out of order in <{parent}>")]
    Order {
        /// The element.
        element: &'static str,
        /// Its parent.
        parent: &'static str,
    },
    /// A non-repeating element given twice.
    #[error("<{element}> appears more than once in <{parent}>")]
    Duplicate {
        /// The element.
        element: &'static str,
        /// Its parent.
        parent: &'static str,
    },
    /// An element's value is not what the schema allows.
    #[error("<{element}>: {reason}")]
    Invalid {
        /// The element (or JSON field).
        element: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An EIDO document is not valid JSON of the expected shape.
    #[error("eido json: {0}")]
    Json(String),
}
