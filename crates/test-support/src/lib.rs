//! What the integration-test harnesses of the workspace share. Dev-only: no product crate depends
//! on it.
//!
//! - [`pg::TestDatabase`]: a PostgreSQL database of a test's own, created on the server named by
//!   `LEADBRIDGE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
//!   when the value is; `LEADBRIDGE_SKIP_PG=1` skips the PostgreSQL half of a test.
//! - [`emulator::Started`] (feature `emulator`): a Dataverse emulator on a loopback port with a
//!   state directory of its own, and an HTTPS client that trusts its CA.

#![allow(clippy::unwrap_used)] // test code: a failed step fails the test

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod pg;
