//! The store's behavioural suite: every test runs against SQLite and against PostgreSQL.

// Fixtures are built by the tests themselves; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod harness;

mod accounts;
mod activities;
mod batches;
mod crm;
mod directory;
mod isolation;
mod jobs;
mod purge;
mod saved_pages;
mod tenants;
