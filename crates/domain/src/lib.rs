//! The workspace's domain: tenants, seats, people, companies, saved leads and accounts, activities,
//! CRM settings, and the import and writeback rules. No IO, no async.
//!
//! Plain data in, decisions out. The store persists these types; the sync engine and the web layer
//! call the rules and act on what they return.

// Tests unwrap fixtures they built themselves; nothing from outside reaches those unwraps.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod activity;
pub mod crm;
pub mod directory;
pub mod ids;
pub mod import;
pub mod matches;
pub mod pipeline;
pub mod purge;
pub mod revenue;
pub mod saved;
pub mod seat_assignment;
pub mod seat_mapping;
pub mod settings;
pub mod tenant;
pub mod timeline;
pub mod writeback;
