//! placeholder
pub struct MatchRecord;
