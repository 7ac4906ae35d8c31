//! End-to-end tests of the `jikimi` binary as a real process: the crash test (kill -9 mid-burst, restart, every
//! alert answered 202 is there exactly once), `audit verify` catching a tampered row, and `serve` answering
//! `/healthz`; guardian notifications delivered after a kill -9 of the server; and three `jikimi serve` nodes
//! sharing cases under agreements (`exchange`); the partner-facing `federation serve` port gives records only to a
//! signed pull under an agreement, and key files readable by others are refused (`federation`); the documented exit codes
//! and `jikimi bench --help` (`exit_codes`); a freeze request's signed round trip across two `jikimi serve` nodes
//! (`freeze`); a joint operation of three `jikimi serve` nodes, pushed, partitioned and caught up (`operations`);
//! `staff add` refusing what the API refuses (`staff`); two nodes on one PostgreSQL and one NATS
//! JetStream, a node without NATS and a node killed before publishing (`cluster`); three nodes, Mosquitto and a
//! surge with one node killed mid-way, nothing lost, duplicated or notified twice (`cluster_e2e`); NATS and a private
//! PostgreSQL restarted mid-burst, and its primary failed over to a standby (`cluster_faults`); a node cut off
//! from NATS and PostgreSQL for 30 s in a network namespace (`cluster_partition`); the previous release and this one
//! running together, then the old node replaced (`cluster_upgrade`); `demo --disaster`
//! filling a disaster with answers (`demo`); a hash bank shared across three `jikimi serve` nodes, withdrawn at its
//! origin and reviewed two hops away (`bank_sharing`).

mod bank_sharing;
mod cluster;
mod cluster_e2e;
mod cluster_faults;
mod cluster_partition;
mod cluster_upgrade;
mod crash;
mod demo;
mod exchange;
mod exit_codes;
mod federation;
mod freeze;
mod notify;
mod operations;
mod process;
mod staff;
mod tls;
mod web;
