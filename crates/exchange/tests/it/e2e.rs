//! Three real node processes on loopback (filled in below).
