//! What a rep follows: saved leads (people) and saved accounts (companies), whether the rep saved
//! them by hand or the CRM import did, the opportunities that brought them in, and tags.

use std::collections::BTreeSet;

use crate::ids::{CompanyId, CrmOpportunityId, PersonId, SeatId, TagId, TenantId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SavedTarget {
    Lead(PersonId),
    Account(CompanyId),
}

/// A rep saves a given person or company at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SavedKey {
    pub seat: SeatId,
    pub target: SavedTarget,
}

/// Why the import saved an item: an open opportunity of the rep, at the stage it was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CrmReason {
    pub opportunity: CrmOpportunityId,
    /// The opportunity's `salesstage` option value when the reason was recorded.
    pub stage: Option<i32>,
}

/// Shown on every saved item: did the rep save it, or did the CRM bring it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Manual,
    Crm,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedItem {
    pub key: SavedKey,
    /// Saved by the rep. Such an item is never unsaved by the import, even when it also has CRM
    /// reasons; only the rep can unsave it.
    pub by_hand: bool,
    pub crm_reasons: BTreeSet<CrmReason>,
    pub tags: BTreeSet<TagId>,
}

impl SavedItem {
    pub fn source(&self) -> Source {
        if self.by_hand {
            Source::Manual
        } else {
            Source::Crm
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub id: TagId,
    pub tenant: TenantId,
    pub name: String,
}

/// Longest tag name we accept, in characters.
pub const TAG_NAME_MAX_CHARS: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagNameError {
    #[error("A tag needs a name.")]
    Empty,
    #[error("A tag name can have at most {TAG_NAME_MAX_CHARS} characters.")]
    TooLong,
}

/// Tag names are trimmed with inner runs of whitespace collapsed, so "Q3  target" and "Q3 target"
/// are the same tag.
pub fn normalize_tag_name(name: &str) -> Result<String, TagNameError> {
    let normalized = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if normalized.is_empty() {
        Err(TagNameError::Empty)
    } else if normalized.chars().count() > TAG_NAME_MAX_CHARS {
        Err(TagNameError::TooLong)
    } else {
        Ok(normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_is_manual_whenever_the_rep_saved_it() {
        let item = SavedItem {
            key: SavedKey {
                seat: SeatId::new_random(),
                target: SavedTarget::Lead(PersonId::new_random()),
            },
            by_hand: true,
            crm_reasons: BTreeSet::from([CrmReason {
                opportunity: CrmOpportunityId::new_random(),
                stage: Some(1),
            }]),
            tags: BTreeSet::new(),
        };
        assert_eq!(item.source(), Source::Manual);
        let imported = SavedItem {
            by_hand: false,
            ..item
        };
        assert_eq!(imported.source(), Source::Crm);
    }

    #[test]
    fn tag_names_are_normalized_and_bounded() {
        let cases = [
            ("  Q3   target ", Ok("Q3 target".to_owned())),
            ("VIP", Ok("VIP".to_owned())),
            ("   ", Err(TagNameError::Empty)),
            ("", Err(TagNameError::Empty)),
            (&"é".repeat(50), Ok("é".repeat(50))),
            (&"é".repeat(51), Err(TagNameError::TooLong)),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_tag_name(input), expected, "{input:?}");
        }
    }
}
