//! The exit codes of `jikimi`, one per outcome a script branches on (README "Exit codes", `jikimi --help`).
//!
//! Why a closed enum: a script must be able to tell "the audit chain is broken" or "a listed image matched"
//! from "the command failed", so those outcomes are values a command returns, not errors it prints.

use std::process::ExitCode;

/// How a `jikimi` process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked (including "checked, nothing found").
    Ok,
    /// 1: the command failed (bad input file, unreachable database, ...); the reason is on stderr.
    Error,
    /// 2: the command line was wrong (unknown flag, missing argument); clap prints the usage.
    Usage,
    /// 3: `audit verify` found the audit log's hash chain broken (it names the first bad seq).
    AuditChainBroken,
    /// 4: a match was found where a match is the signal: `border check` found a watchlist candidate, `pdq match`
    /// found a listed hash within the radius, `identify triage` found a file of the tree in a bank (the report is
    /// written all the same).
    MatchFound,
    /// 5: the command is not in this build: it needs a cargo feature (e.g. `pdq hash-video` needs `video`).
    Unavailable,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::AuditChainBroken => 3,
            Exit::MatchFound => 4,
            Exit::Unavailable => 5,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

impl From<jikimi_mediahash::cli::Outcome> for Exit {
    fn from(outcome: jikimi_mediahash::cli::Outcome) -> Exit {
        match outcome {
            jikimi_mediahash::cli::Outcome::Done => Exit::Ok,
            jikimi_mediahash::cli::Outcome::MatchFound => Exit::MatchFound,
        }
    }
}

impl From<jikimi_linkage::cli::Outcome> for Exit {
    fn from(outcome: jikimi_linkage::cli::Outcome) -> Exit {
        match outcome {
            jikimi_linkage::cli::Outcome::Done => Exit::Ok,
            jikimi_linkage::cli::Outcome::MatchFound => Exit::MatchFound,
        }
    }
}

/// The table printed after `jikimi --help`; keep it in step with [`Exit`] and the README.
pub const HELP: &str = "\
Exit codes:
  0  ok (including a check that found nothing)
  1  error (the reason is on stderr)
  2  usage: a wrong command line
  3  audit verify: the audit log's hash chain is broken
  4  a match found where a match is the signal: border check (a watchlist candidate), pdq match (a listed hash),
     identify triage (a file in a bank; the report is written all the same)
  5  unavailable: not in this build (pdq hash-video needs `cargo build --features video`)";
