//! What a match decision says about itself: outcome, confidence and per-field evidence, as plain
//! data the UI and the API render (serde, no formatting here).

use serde::{Deserialize, Serialize};

/// A field that took part in a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FirstName,
    LastName,
    Email,
    ProfileUrl,
    Phone,
    Company,
    Title,
    Name,
    Website,
    Street,
    City,
    PostalCode,
    Region,
    Country,
    Industry,
    Employees,
}

/// How the two values of one field compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// Equal after normalisation.
    Exact,
    /// Different spellings of one value (nickname, reordered words, same domain label).
    Equivalent,
    /// Close enough to be the same value with a typo.
    Similar,
    /// One value is contained in the other (an initial, a double surname, a shorter name).
    Partial,
    /// Different values.
    Different,
}

/// Why a comparison landed where it did, when that is not obvious from the agreement alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    Nickname,
    Initial,
    Typo,
    Reordered,
    /// Same mailbox name at another domain (often a job change).
    SameLocalPart,
    /// Another address at the same organisation's domain.
    SameDomain,
    /// The company on one side is the domain of the other side's work email.
    EmailDomain,
    /// The website on one side spells the company name on the other.
    NameDomain,
    /// Only the trailing digits could be compared (country unknown on one side).
    TrailingDigits,
    /// Same name under another public suffix (acme.com and acme.it).
    DomainAlias,
    /// A shared team mailbox (info@, sales@), which says little about the person.
    RoleMailbox,
    /// A common value, so agreeing on it counts for less.
    CommonValue,
    /// A full name so rare that hardly anyone else should have it, which counts for more than
    /// the two names do separately.
    RareName,
    /// The company on one side is among the other side's earlier employers (a job change).
    PastEmployer,
}

/// One field's part in a score: how it compared and how much it counted, in bits of evidence
/// (log2 likelihood ratio; +1 doubles the odds of a match, −1 halves them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldEvidence {
    pub field: Field,
    pub agreement: Agreement,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<Detail>,
    pub weight: f32,
}

/// How the match was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A user pinned this pair; it wins regardless of the fields.
    Pinned,
    /// An exact key (email, profile URL) agreed and decided it.
    ExactKey,
    /// Weighed over the fields.
    Scored,
}

/// Why two records were (or were not) matched. Fields missing on either side are left out: they
/// neither helped nor hurt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub method: Method,
    /// Sum of the field weights, in bits.
    pub score: f32,
    pub fields: Vec<FieldEvidence>,
}

/// A CRM record that could be the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub right_id: String,
    /// Probability this candidate is the one, given the others (0 to 1).
    pub confidence: f32,
    pub explanation: Explanation,
}

/// The decision for one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MatchOutcome {
    Matched {
        right_id: String,
        confidence: f32,
        explanation: Explanation,
    },
    /// Several records fit about equally well; a person has to choose (or pin).
    Ambiguous {
        candidates: Vec<Candidate>,
    },
    NoMatch,
}

impl MatchOutcome {
    pub fn matched_id(&self) -> Option<&str> {
        match self {
            MatchOutcome::Matched { right_id, .. } => Some(right_id),
            _ => None,
        }
    }
}
