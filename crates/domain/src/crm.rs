//! The CRM side as the workspace sees it: the connection and its state, and the local mirror of the
//! Dataverse rows we read (users, accounts, contacts, leads, opportunities) with their delta tokens.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::ids::{
    CrmAccountId, CrmConnectionId, CrmContactId, CrmCurrencyId, CrmLeadId, CrmOpportunityId,
    CrmTeamId, CrmUserId, TenantId,
};

/// A tenant's link to one Dataverse org. Secrets are not here: the store keeps them encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmConnection {
    pub id: CrmConnectionId,
    pub tenant: TenantId,
    /// The environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    pub auth: CrmAuth,
    pub companion_app: CompanionApp,
    /// Whether the connecting identity holds the delegate privilege (`prvActOnBehalfOfAnotherUser`),
    /// which lets writeback impersonate the rep so the rep shows as creator, not only as owner.
    pub can_act_on_behalf_of_reps: bool,
    pub status: ConnectionStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrmAuth {
    /// An admin signed in (authorization code with PKCE); a refresh token is kept.
    SignedInAdmin { admin_user_name: String },
    /// An application user (client credentials).
    ApplicationUser {
        entra_tenant: String,
        client_id: String,
    },
}

/// The "leadbridge for Dynamics" solution that holds our activity tables; writeback needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompanionApp {
    Missing,
    Installed { version: String },
}

impl CompanionApp {
    pub fn is_installed(&self) -> bool {
        matches!(self, CompanionApp::Installed { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Connected; the first sync may still be running (`last_sync` is then empty).
    Connected {
        since: DateTime<Utc>,
        last_sync: Option<DateTime<Utc>>,
        last_error: Option<String>,
    },
    Disconnected {
        at: DateTime<Utc>,
        purged: bool,
    },
}

/// The Dataverse tables we mirror, each with its own delta token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrmTable {
    Account,
    Contact,
    Lead,
    Opportunity,
    SystemUser,
}

impl CrmTable {
    pub const ALL: [CrmTable; 5] = [
        CrmTable::Account,
        CrmTable::Contact,
        CrmTable::Lead,
        CrmTable::Opportunity,
        CrmTable::SystemUser,
    ];

    pub fn logical_name(self) -> &'static str {
        match self {
            CrmTable::Account => "account",
            CrmTable::Contact => "contact",
            CrmTable::Lead => "lead",
            CrmTable::Opportunity => "opportunity",
            CrmTable::SystemUser => "systemuser",
        }
    }
}

/// The change-tracking token of one table, to read only what changed next time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaToken {
    pub table: CrmTable,
    pub token: String,
}

/// A Dataverse `systemuser`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmUser {
    pub id: CrmUserId,
    pub full_name: String,
    /// `internalemailaddress`, as stored.
    pub email: Option<String>,
    /// `isdisabled`.
    pub disabled: bool,
    /// Application users (`applicationid` set) and other non-interactive identities are not people
    /// and never get a seat.
    pub application_user: bool,
}

/// A Dataverse `account`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmAccount {
    pub id: CrmAccountId,
    pub name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub employees: Option<i64>,
}

/// A Dataverse `contact`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmContact {
    pub id: CrmContactId,
    pub full_name: String,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub location: Option<String>,
    /// `parentcustomerid` when it points at an account.
    pub account: Option<CrmAccountId>,
}

/// A Dataverse `lead`; used for matching and as a writeback target, never auto-saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmLead {
    pub id: CrmLeadId,
    pub full_name: String,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Opportunity `statecode`: 0 Open, 1 Won, 2 Lost (MS Learn, opportunity entity reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpportunityState {
    Open,
    Won,
    Lost,
}

impl OpportunityState {
    pub fn from_statecode(code: i32) -> Option<Self> {
        match code {
            0 => Some(OpportunityState::Open),
            1 => Some(OpportunityState::Won),
            2 => Some(OpportunityState::Lost),
            _ => None,
        }
    }
}

/// `ownerid` of a user-owned table: a user or a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrmOwner {
    User(CrmUserId),
    Team(CrmTeamId),
}

/// Logical names of the two standard money columns on opportunity.
pub const ACTUAL_VALUE: &str = "actualvalue";
pub const ESTIMATED_VALUE: &str = "estimatedvalue";

/// A Dataverse `opportunity`, reduced to what the import and revenue rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmOpportunity {
    pub id: CrmOpportunityId,
    pub name: String,
    pub state: OpportunityState,
    pub owner: CrmOwner,
    /// The `salesstage` option value, when set.
    pub sales_stage: Option<i32>,
    /// From `parentaccountid`, or `customerid` when it is an account.
    pub account: Option<CrmAccountId>,
    /// From `parentcontactid`, or `customerid` when it is a contact; no duplicates needed.
    pub contacts: Vec<CrmContactId>,
    pub currency: Option<CrmCurrencyId>,
    /// Money columns read, by logical name (`actualvalue`, `estimatedvalue`, custom ones).
    pub money: BTreeMap<String, Money>,
}

/// One option of the org's opportunity `salesstage` choice, in the org's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageOption {
    pub value: i32,
    pub label: String,
}

/// A reference to the CRM record a workspace person corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrmPersonRef {
    Contact(CrmContactId),
    Lead(CrmLeadId),
}

/// A Dataverse money amount, kept exactly in ten-thousandths (Dataverse money has at most four
/// decimals) rather than as a float that would lose cents when summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    ten_thousandths: i128,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a decimal amount")]
    NotADecimal(String),
    #[error("{0:?} has more than four decimals")]
    TooPrecise(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

impl Money {
    pub const ZERO: Money = Money { ten_thousandths: 0 };

    pub fn from_ten_thousandths(ten_thousandths: i128) -> Self {
        Money { ten_thousandths }
    }

    pub fn from_units(units: i64) -> Self {
        Money {
            ten_thousandths: i128::from(units) * 10_000,
        }
    }

    pub fn ten_thousandths(self) -> i128 {
        self.ten_thousandths
    }

    /// Sums saturate: a total past 10^34 is not a real revenue figure and must not wrap around.
    pub fn saturating_add(self, other: Money) -> Money {
        Money {
            ten_thousandths: self.ten_thousandths.saturating_add(other.ten_thousandths),
        }
    }

    /// Parses the decimal text of a JSON number as Dataverse sends it (`1234.5`, `-3`, `0.0001`).
    /// Exponents are refused rather than guessed at.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let not_decimal = || MoneyError::NotADecimal(text.to_owned());
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(not_decimal());
        }
        if digits.ends_with('.') {
            return Err(not_decimal());
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 4 {
            return Err(MoneyError::TooPrecise(text.to_owned()));
        }
        let too_large = || MoneyError::TooLarge(text.to_owned());
        let whole: i128 = whole.parse().map_err(|_| too_large())?;
        let mut fraction_value: i128 = 0;
        for position in 0..4 {
            let digit = fraction
                .as_bytes()
                .get(position)
                .map_or(0, |b| i128::from(b - b'0'));
            fraction_value = fraction_value * 10 + digit;
        }
        let magnitude = whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(fraction_value))
            .ok_or_else(too_large)?;
        Ok(Money {
            ten_thousandths: if negative { -magnitude } else { magnitude },
        })
    }
}

impl fmt::Display for Money {
    /// Two decimals at least, four when needed: `1234.50`, `0.0001`, `-3.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.ten_thousandths < 0 { "-" } else { "" };
        let magnitude = self.ten_thousandths.unsigned_abs();
        let whole = magnitude / 10_000;
        let fraction = format!("{:04}", magnitude % 10_000);
        let fraction = fraction.trim_end_matches('0');
        write!(f, "{sign}{whole}.{fraction:0<2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn statecodes_map_to_states() {
        assert_eq!(
            OpportunityState::from_statecode(0),
            Some(OpportunityState::Open)
        );
        assert_eq!(
            OpportunityState::from_statecode(1),
            Some(OpportunityState::Won)
        );
        assert_eq!(
            OpportunityState::from_statecode(2),
            Some(OpportunityState::Lost)
        );
        assert_eq!(OpportunityState::from_statecode(3), None);
        assert_eq!(OpportunityState::from_statecode(-1), None);
    }

    #[test]
    fn money_parses_dataverse_numbers() {
        let cases = [
            ("0", Ok(0)),
            ("1234.5", Ok(12_345_000)),
            ("1234.50", Ok(12_345_000)),
            ("-3", Ok(-30_000)),
            ("0.0001", Ok(1)),
            ("922337203685477.5807", Ok(9_223_372_036_854_775_807)),
            ("1.23450", Ok(12_345)),
            ("1.23456", Err(MoneyError::TooPrecise("1.23456".into()))),
            ("", Err(MoneyError::NotADecimal(String::new()))),
            ("-", Err(MoneyError::NotADecimal("-".into()))),
            ("1.", Err(MoneyError::NotADecimal("1.".into()))),
            (".5", Err(MoneyError::NotADecimal(".5".into()))),
            ("1e3", Err(MoneyError::NotADecimal("1e3".into()))),
            ("+1", Err(MoneyError::NotADecimal("+1".into()))),
            ("1,5", Err(MoneyError::NotADecimal("1,5".into()))),
            (
                "999999999999999999999999999999999999999",
                Err(MoneyError::TooLarge(
                    "999999999999999999999999999999999999999".into(),
                )),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Money::parse(text).map(Money::ten_thousandths),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn money_displays_with_two_to_four_decimals() {
        let cases = [
            (0, "0.00"),
            (12_345_000, "1234.50"),
            (1, "0.0001"),
            (-30_000, "-3.00"),
            (12_345, "1.2345"),
            (12_340, "1.234"),
        ];
        for (value, expected) in cases {
            assert_eq!(
                Money::from_ten_thousandths(value).to_string(),
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let max = Money::from_ten_thousandths(i128::MAX);
        assert_eq!(max.saturating_add(Money::from_units(1)), max);
    }

    proptest! {
        #[test]
        fn money_display_parses_back(value in -10_i128.pow(20)..10_i128.pow(20)) {
            let money = Money::from_ten_thousandths(value);
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = Money::parse(&text);
        }
    }
}
