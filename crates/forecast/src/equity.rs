//! Response-time equity across districts.
