//! The workspace directory: the people and companies reps prospect, and where each came from
//! (entered in the workspace, or created from a CRM row that matched nobody).

use crate::ids::{CompanyId, CrmAccountId, CrmConnectionId, CrmContactId, PersonId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub tenant: TenantId,
    pub full_name: String,
    pub title: Option<String>,
    /// The company as shown on the profile; `company` links it when we know the directory entry.
    pub company_name: Option<String>,
    pub company: Option<CompanyId>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub profile_url: Option<String>,
    /// Earlier employers, most recent first, as the profile's work history lists them: where a
    /// person who changed jobs is still on record in a CRM that has not caught up.
    pub past_companies: Vec<String>,
    pub origin: PersonOrigin,
}

/// Most earlier employers kept for a person: a career, not a CV.
pub const MAX_PAST_COMPANIES: usize = 20;

/// Earlier employers from text such as `"Acme Ltd; Globex"` (one per `;` or line): each trimmed
/// with its inner whitespace collapsed, blanks and repeats (ignoring case) dropped, at most
/// [`MAX_PAST_COMPANIES`] kept.
pub fn past_companies(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in text.split([';', '\n']) {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if !name.is_empty()
            && out.len() < MAX_PAST_COMPANIES
            && !out.iter().any(|n| n.to_lowercase() == name.to_lowercase())
        {
            out.push(name);
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonOrigin {
    Workspace,
    /// Made by the import from a CRM contact no workspace person matched, so that the contact can
    /// be saved as a lead. Purge removes it unless a rep's own work refers to it.
    CreatedFromCrm {
        connection: CrmConnectionId,
        contact: CrmContactId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Company {
    pub id: CompanyId,
    pub tenant: TenantId,
    pub name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub size: Option<CompanySize>,
    pub origin: CompanyOrigin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompanyOrigin {
    Workspace,
    /// Made by the import from a CRM account no workspace company matched.
    CreatedFromCrm {
        connection: CrmConnectionId,
        account: CrmAccountId,
    },
}

/// Head-count bands as prospecting tools show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompanySize {
    From1To10,
    From11To50,
    From51To200,
    From201To500,
    From501To1000,
    From1001To5000,
    From5001To10000,
    Over10000,
}

impl CompanySize {
    /// The band for a head count such as Dataverse's `account.numberofemployees`; none for zero or
    /// a negative count, which means "unknown" in practice.
    pub fn from_employee_count(count: i64) -> Option<Self> {
        Some(match count {
            i64::MIN..=0 => return None,
            1..=10 => CompanySize::From1To10,
            11..=50 => CompanySize::From11To50,
            51..=200 => CompanySize::From51To200,
            201..=500 => CompanySize::From201To500,
            501..=1000 => CompanySize::From501To1000,
            1001..=5000 => CompanySize::From1001To5000,
            5001..=10000 => CompanySize::From5001To10000,
            _ => CompanySize::Over10000,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            CompanySize::From1To10 => "1-10",
            CompanySize::From11To50 => "11-50",
            CompanySize::From51To200 => "51-200",
            CompanySize::From201To500 => "201-500",
            CompanySize::From501To1000 => "501-1,000",
            CompanySize::From1001To5000 => "1,001-5,000",
            CompanySize::From5001To10000 => "5,001-10,000",
            CompanySize::Over10000 => "10,001+",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_companies_are_split_cleaned_and_deduplicated() {
        assert_eq!(
            past_companies(" Acme  Ltd ;\nGlobex;;acme ltd;\t"),
            ["Acme Ltd", "Globex"]
        );
        assert!(past_companies(" ; ").is_empty());
        let many = (0..30)
            .map(|i| format!("Co {i}"))
            .collect::<Vec<_>>()
            .join(";");
        assert_eq!(past_companies(&many).len(), MAX_PAST_COMPANIES);
    }

    #[test]
    fn head_counts_fall_into_bands_at_their_edges() {
        let cases = [
            (-5, None),
            (0, None),
            (1, Some(CompanySize::From1To10)),
            (10, Some(CompanySize::From1To10)),
            (11, Some(CompanySize::From11To50)),
            (50, Some(CompanySize::From11To50)),
            (51, Some(CompanySize::From51To200)),
            (200, Some(CompanySize::From51To200)),
            (201, Some(CompanySize::From201To500)),
            (500, Some(CompanySize::From201To500)),
            (501, Some(CompanySize::From501To1000)),
            (1000, Some(CompanySize::From501To1000)),
            (1001, Some(CompanySize::From1001To5000)),
            (5000, Some(CompanySize::From1001To5000)),
            (5001, Some(CompanySize::From5001To10000)),
            (10000, Some(CompanySize::From5001To10000)),
            (10001, Some(CompanySize::Over10000)),
            (i64::MAX, Some(CompanySize::Over10000)),
        ];
        for (count, expected) in cases {
            assert_eq!(CompanySize::from_employee_count(count), expected, "{count}");
        }
    }

    #[test]
    fn bands_have_distinct_labels() {
        let labels: std::collections::BTreeSet<_> = [
            CompanySize::From1To10,
            CompanySize::From11To50,
            CompanySize::From51To200,
            CompanySize::From201To500,
            CompanySize::From501To1000,
            CompanySize::From1001To5000,
            CompanySize::From5001To10000,
            CompanySize::Over10000,
        ]
        .into_iter()
        .map(CompanySize::label)
        .collect();
        assert_eq!(labels.len(), 8);
    }
}
