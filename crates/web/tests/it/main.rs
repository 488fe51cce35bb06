//! The web crate over real HTTP: the real router on a loopback port over a real store (SQLite, and
//! PostgreSQL on 127.0.0.1:5432 for the tests that run on both), a plain HTTP client.

// Fixtures are built by the tests themselves; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod harness;

mod access;
mod admin;
mod api_basics;
mod auth;
mod directory;
mod rep;
mod ui;
