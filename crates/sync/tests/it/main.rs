//! The sync engine end to end: the emulator over HTTPS and OAuth, SQLite and PostgreSQL.

// Fixtures are built by the tests themselves; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod chaos;
mod connect;
mod dynamics;
mod harness;
mod import;
mod purge;
mod telemetry;
mod workers;
mod writeback;
