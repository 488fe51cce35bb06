//! The workspace's domain: tenants, seats, people, companies, saved leads and accounts, activities,
//! CRM settings, and the import and writeback rules. No IO, no async.
//!
//! Plain data in, decisions out. The store persists these types; the sync engine and the web layer
//! call the rules and act on what they return. Time comes in as a parameter; nothing here reads a
//! clock, a file or the network.
//!
//! Decisions the seed guides leave open, each documented where it is made:
//! - "past the chosen stage" is strictly after it, in the org's order of `salesstage` options
//!   ([`settings::StageThreshold`]); a stage the org no longer lists stops the import instead of
//!   guessing ([`settings::stage_threshold`]).
//! - a seat can also be disabled individually under "Auto sync all seat holders: Yes"
//!   ([`tenant::SeatCrmSync`]); writeback needs the "In CRM" badge, not only a matched user.
//! - a disabled CRM user beside exactly one active user with the same email is ignored
//!   ([`seat_mapping::CrmUsersByEmail::map`]).
//! - an unmatched CRM contact or account becomes a workspace person or company created from the
//!   CRM, with a deterministic id ([`import`]); purge deletes it unless a rep's own work refers to
//!   it, in which case it stays without its CRM link ([`purge`]).
//! - "written open" and "unassigned" are one state, [`timeline::WritebackState::Unassigned`].
//! - Dataverse lengths are counted in UTF-16 units and texts are cut between graphemes; the whole
//!   text goes to an overflow note ([`writeback::activity_texts`]).

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
