//! The Dataverse Web API v9.2 client: the only part of leadbridge that speaks to Microsoft
//! Dynamics 365. It works against a real org unchanged; the emulator is how it is tested.
//!
//! - [`Client`]: Entra ID tokens ([`auth`]), one request path with impersonation and classified
//!   [`Error`]s.
//! - [`query`]: typed queries whose literals are always escaped; [`paging`]: page streams and counts.
//! - [`tracking`]: change tracking (initial read, deltas with deletes, enabling it per table).
//! - [`writes`]: create, update, upsert by key, delete, and many rows at once through the bulk
//!   messages or [`batch`].

pub mod auth;
pub mod batch;
mod client;
pub mod config;
pub mod error;
pub mod paging;
pub mod query;
pub mod rows;
pub mod tracking;
pub mod writes;

pub use auth::{Auth, Authority, AuthorizeRequest, ClientCredentials, UserSignIn};
pub use batch::{Batch, Operation, Outcome, Part};
pub use client::{API_PATH, Client, Request, Response};
pub use config::{ClientConfig, Timeouts, WriteChunks};
pub use error::{ApiFailure, AuthFailure, ConnectionMessage, Error, ErrorKind};
pub use paging::{Page, PageOptions, RecordCount};
pub use query::{Expand, Filter, Key, Literal, Order, Query};
pub use rows::Row;
pub use tracking::{Change, ChangePage, TableTracking};
pub use writes::{BulkMessage, Table, Upserted};
