//! The Dataverse Web API v9.2 client: the only part of leadbridge that speaks to Microsoft
//! Dynamics 365. It works against a real org unchanged; the emulator is how it is tested.
//!
//! - [`Client`]: Entra ID tokens ([`auth`]), one request path with impersonation, classified
//!   [`Error`]s and [`throttle`] (adaptive concurrency, `Retry-After`, bounded safe retries).
//! - [`query`]: typed queries whose literals are always escaped; [`paging`]: page streams and counts.
//! - [`tracking`]: change tracking (initial read, deltas with deletes, enabling it per table).
//! - [`writes`]: create, update, upsert by key, delete, and many rows at once through the bulk
//!   messages or [`batch`].
//! - [`preflight`]: one call, one report of everything a connection needs; [`companion`]: the
//!   companion app's install, repair, upgrade and detection.

pub mod auth;
pub mod batch;
mod client;
pub mod companion;
pub mod config;
pub mod error;
pub mod paging;
pub mod preflight;
pub mod query;
pub mod rows;
pub mod throttle;
pub mod tracking;
pub mod writes;

pub use auth::{Auth, Authority, AuthorizeRequest, ClientCredentials, UserSignIn};
pub use batch::{Batch, Operation, Outcome, Part};
pub use client::{API_PATH, Client, Request, Response};
pub use companion::CompanionState;
pub use config::{ClientConfig, Throttling, Timeouts, WriteChunks};
pub use error::{ApiFailure, AuthFailure, ConnectionMessage, Error, ErrorKind};
pub use paging::{Page, PageOptions, RecordCount};
pub use preflight::Report;
pub use query::{Expand, Filter, Key, Literal, Order, Query};
pub use rows::Row;
pub use throttle::ThrottleStats;
pub use tracking::{Change, ChangePage, TableTracking};
pub use writes::{BulkMessage, Table, Upserted};
