//! How domain enums are spelled in the database: short stable words, so a row stays readable in
//! `psql` or `sqlite3` and a renamed Rust variant does not silently change stored data.

use domain::activity::ActivityKind;
use domain::crm::CrmTable;
use domain::directory::CompanySize;
use domain::matches::MatchOrigin;
use domain::tenant::SeatCrmSync;

use crate::error::{Result, StoreError};

/// A closed set of words both ways; reading an unknown word is [`StoreError::Corrupt`].
pub(crate) trait Word: Sized + Copy + 'static {
    const WHAT: &'static str;
    const ALL: &'static [(Self, &'static str)];

    fn word(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(value, _)| *value == self)
            .map_or("", |(_, word)| word)
    }

    fn from_word(word: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(_, w)| *w == word)
            .map(|(value, _)| *value)
            .ok_or_else(|| StoreError::corrupt(format!("{word:?} is not a {}", Self::WHAT)))
    }
}

impl Word for SeatCrmSync {
    const WHAT: &'static str = "seat CRM sync choice";
    const ALL: &'static [(Self, &'static str)] = &[
        (SeatCrmSync::FollowTenant, "follow_tenant"),
        (SeatCrmSync::Enabled, "enabled"),
        (SeatCrmSync::Disabled, "disabled"),
    ];
}

impl Word for ActivityKind {
    const WHAT: &'static str = "activity kind";
    const ALL: &'static [(Self, &'static str)] = &[
        (ActivityKind::Note, "note"),
        (ActivityKind::Message, "message"),
        (ActivityKind::InMail, "inmail"),
    ];
}

impl Word for CrmTable {
    const WHAT: &'static str = "CRM table";
    const ALL: &'static [(Self, &'static str)] = &[
        (CrmTable::Account, "account"),
        (CrmTable::Contact, "contact"),
        (CrmTable::Lead, "lead"),
        (CrmTable::Opportunity, "opportunity"),
        (CrmTable::SystemUser, "systemuser"),
    ];
}

impl Word for MatchOrigin {
    const WHAT: &'static str = "match origin";
    const ALL: &'static [(Self, &'static str)] = &[
        (MatchOrigin::Scored, "scored"),
        (MatchOrigin::Exact, "exact"),
        (MatchOrigin::CreatedFromCrm, "created_from_crm"),
        (MatchOrigin::ByRep, "by_rep"),
    ];
}

impl Word for CompanySize {
    const WHAT: &'static str = "company size";
    const ALL: &'static [(Self, &'static str)] = &[
        (CompanySize::From1To10, "1-10"),
        (CompanySize::From11To50, "11-50"),
        (CompanySize::From51To200, "51-200"),
        (CompanySize::From201To500, "201-500"),
        (CompanySize::From501To1000, "501-1000"),
        (CompanySize::From1001To5000, "1001-5000"),
        (CompanySize::From5001To10000, "5001-10000"),
        (CompanySize::Over10000, "10001+"),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<W: Word + PartialEq + std::fmt::Debug>() {
        let mut words = std::collections::BTreeSet::new();
        for (value, word) in W::ALL {
            assert_eq!(value.word(), *word);
            assert_eq!(W::from_word(word).unwrap(), *value);
            assert!(words.insert(*word), "{word} twice");
        }
        assert!(W::from_word("no such word").is_err());
    }

    #[test]
    fn every_word_reads_back_as_its_value() {
        round_trips::<SeatCrmSync>();
        round_trips::<ActivityKind>();
        round_trips::<CrmTable>();
        round_trips::<MatchOrigin>();
        round_trips::<CompanySize>();
    }
}
