//! Behaviour of the matching engine through its public API: decisions, corrections,
//! incremental updates, determinism and quality on generated data.

#![allow(clippy::unwrap_used)]

mod companies;
mod corrections;
mod determinism;
mod people;
mod quality;

use matching::{CompanyRecord, PersonRecord};

pub fn person(id: &str, first: &str, last: &str) -> PersonRecord {
    PersonRecord {
        id: id.into(),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        ..Default::default()
    }
}

pub fn company(id: &str, name: &str) -> CompanyRecord {
    CompanyRecord {
        id: id.into(),
        name: Some(name.into()),
        ..Default::default()
    }
}
