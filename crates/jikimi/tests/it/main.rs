//! End-to-end tests of the `jikimi` binary as a real process: the crash test (kill -9 mid-burst, restart, every
//! alert answered 202 is there exactly once), `audit verify` catching a tampered row, and `serve` answering
//! `/healthz`; and three `jikimi serve` nodes sharing cases under agreements (`exchange`).

mod crash;
mod exchange;
mod process;
