//! leadbridge's sync engine: connecting a tenant to its CRM (pre-flight first), importing the CRM
//! rows behind each rep's pipeline, writing activities back, and the workers that run it all.
//!
//! The engine works on the [`crm::Crm`] trait, never on a CRM's client directly; Microsoft
//! Dynamics 365 is [`crm::dynamics`]. [`SyncEngine`] is what the web layer and the workers call.

pub mod connect;
pub mod crm;
mod engine;
pub mod import;
pub mod jobs;
mod match_pass;
mod matcher;
mod purge;
pub mod settings;
pub mod status;
mod telemetry;
pub mod worker;
pub mod writeback;

pub use connect::{ApplicationUser, Connected};
pub use engine::{EngineConfig, Result, SyncEngine, SyncError};
pub use import::SyncRunResult;
pub use settings::StagePreview;
pub use status::{ConnectedStatus, CrmStatus, ShownError, SyncProgress};
