//! A faithful local emulator of the Microsoft Dataverse Web API v9.2 and the Microsoft Entra ID
//! endpoints it is reached through. It speaks only the public protocol: nothing here is shared
//! with the `dataverse` client crate, so the client is tested against the wire, not against us.

pub mod batch;
mod batch_exec;
pub mod entra;
mod entra_http;
pub mod error;
pub mod faults;
pub mod limits;
pub mod metadata;
pub mod odata;
pub mod org;
pub mod persist;
pub mod security;
pub mod seed;
pub mod server;
pub mod store;
pub mod tls;
pub mod value;
pub mod webapi;

pub use server::{EmulatorConfig, EmulatorInfo, RunningEmulator, start};
