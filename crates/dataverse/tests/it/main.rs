//! The client against the emulator over real HTTPS and OAuth: each test starts its own emulator
//! on a free port and uses the client exactly as the product does against Dynamics 365.

#![allow(clippy::unwrap_used)]

mod auth;
mod companion;
mod harness;
mod preflight;
mod queries;
mod records;
mod throttling;
mod tracking;
mod writes;
