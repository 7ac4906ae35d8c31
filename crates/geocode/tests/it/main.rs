//! Integration tests of jikimi-geocode: held points from the OSM data itself, forward round trips, Korean data.

mod common;
mod forward;
mod held;
mod korean;
