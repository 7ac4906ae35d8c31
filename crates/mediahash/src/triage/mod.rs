//! Evidence triage (`jikimi identify triage`): hash a seized directory tree, match it against hash banks, and sort
//! it into known material (by bank, category and series), unknown material (what an investigator must look at:
//! where unidentified victims are), unreadable files and videos not hashed, with the share pre-categorised.
//!
//! Pure cores: [`sniff`] (kind by content), [`bank`] (lists with distance, dihedral option and labels; lookups in
//! the exact index), [`journal`] (the resumable append-only journal's format), [`report`] (the report model) and
//! [`html`] (the report page, no image content). Edges: [`run`] (walks, reads, hashes in parallel, writes the
//! journal and reports), [`cli`] and [`bench`].

pub mod bank;
pub mod bench;
pub mod cli;
pub mod html;
pub mod journal;
pub mod report;
pub mod run;
pub mod sniff;

pub use run::{Progress, TriageError, TriageOptions, TriageRun, triage, triage_with_banks};
