//! End-to-end tests of the `jikimi` binary as a real process: the crash test (kill -9 mid-burst, restart, every
//! alert answered 202 is there exactly once), `audit verify` catching a tampered row, and `serve` answering
//! `/healthz`; guardian notifications delivered after a kill -9 of the server; and three `jikimi serve` nodes
//! sharing cases under agreements (`exchange`).

mod crash;
mod exchange;
mod notify;
mod process;
mod tls;
mod web;
