//! leadbridge's HTTP surface: the REST API under `/api/v1` with its OpenAPI document, who the
//! caller is and what they may do, and the pieces every handler shares (problem+json errors,
//! strict JSON bodies, pagination).
//!
//! Handlers are thin: parse (strict extractors) → call the store or the domain rules → render.

pub mod api;
pub mod auth;
pub mod directory;
pub mod json;
pub mod page;
pub mod problem;
pub mod server;
pub mod state;
pub mod sync;
pub mod sync_stats;
pub mod ui;

pub use server::{ServeConfig, ServeError, serve, serve_on, serve_tls_on};
pub use state::{AppState, ConnectDefaults, CookieSecurity, MetricsRender, WebConfig};
