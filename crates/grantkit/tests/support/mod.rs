//! Helpers shared by grantkit's own test binaries (those for any crate's tests are in
//! `grantkit-testkit`).

pub mod fixture_keys;
