//! End-to-end tests of the emulator over real HTTPS and OAuth: each test starts its own emulator
//! on a free port and talks to it as a client would. Section numbers refer to
//! `shared/reference/dataverse-webapi.md`.

#![allow(clippy::unwrap_used)]

mod aggregates;
mod associations;
mod auth;
mod harness;
mod navigation;
mod persistence;
mod queries;
mod records;
mod transactions;
