//! People ↔ CRM contacts/leads and companies ↔ CRM accounts: normalisation, blocking, scoring and
//! explanations. No IO, deterministic.
//!
//! Build a [`PeopleIndex`] or [`CompanyIndex`] over the CRM side, keep it current with
//! [`MatchIndex::upsert`] / [`MatchIndex::remove`], record users' corrections with
//! [`MatchIndex::pin`] / [`MatchIndex::reject`], and ask [`MatchIndex::best_match`] for each
//! workspace record. See docs/matching.md for the scoring model and its benchmark.

// Tests may unwrap (house rule); library code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench_data;
pub mod companies;
pub mod company_name;
pub mod country;
pub mod email;
pub mod evaluate;
pub mod explain;
mod fields;
pub mod index;
mod keys;
mod paged;
pub mod people;
pub mod person_name;
pub mod phone;
mod postings;
pub mod profile_url;
pub mod record;
pub mod text;

pub use companies::{Companies, CompanyIndex};
pub use explain::{
    Agreement, Candidate, Detail, Explanation, Field, FieldEvidence, MatchOutcome, Method,
};
pub use index::{Entity, MatchConfig, MatchIndex};
pub use people::{People, PeopleIndex};
pub use record::{CompanyRecord, PersonRecord};
