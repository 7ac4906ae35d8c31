//! Organisation tracing (placeholder until written).
