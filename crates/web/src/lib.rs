//! leadbridge's HTTP surface: the REST API under `/api/v1` with its OpenAPI document, and the
//! pieces every handler shares (problem+json errors, strict JSON bodies, pagination).

pub mod api;
pub mod json;
pub mod page;
pub mod problem;
