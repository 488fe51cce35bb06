//! leadbridge's wiring as a library: how the sync engine is built from its settings, the web
//! layer's view of it, and the demo, so that integration tests start them exactly as the binary.

pub mod demo;
pub mod engine_args;
pub mod sync_control;
