//! Deterministic generator of realistic Dataverse orgs (business units, reps, accounts, contacts,
//! leads, opportunities) from a seed number, in `small`, `medium` and `large` sizes.

use chrono::NaiveDate;
use uuid::Uuid;

/// How big an org to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSize {
    /// For the demo: a handful of reps, a few hundred accounts and contacts.
    Small,
    Medium,
    /// 1,000,000 contacts, 200,000 accounts, 100,000 opportunities.
    Large,
}

#[derive(Debug, Clone)]
pub struct SeedOrg {
    /// The organization's friendly name ("Contoso Ltd").
    pub name: String,
    /// The e-mail domain of the org's users (`contoso.example`).
    pub email_domain: String,
    /// The first business unit is the root.
    pub business_units: Vec<SeedBusinessUnit>,
    pub users: Vec<SeedUser>,
    pub accounts: Vec<SeedAccount>,
    pub contacts: Vec<SeedContact>,
    pub leads: Vec<SeedLead>,
    pub opportunities: Vec<SeedOpportunity>,
}

#[derive(Debug, Clone)]
pub struct SeedBusinessUnit {
    pub id: Uuid,
    pub name: String,
    pub parent: Option<Uuid>,
}

/// The security roles the seed hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedRole {
    SystemAdministrator,
    SalesManager,
    Salesperson,
}

#[derive(Debug, Clone)]
pub struct SeedUser {
    pub id: Uuid,
    /// The user's Entra object id (`azureactivedirectoryobjectid`).
    pub entra_object_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// `internalemailaddress`; also the sign-in name (`domainname`).
    pub email: String,
    pub title: Option<String>,
    pub business_unit: Uuid,
    pub roles: Vec<SeedRole>,
    pub is_disabled: bool,
}

#[derive(Debug, Clone)]
pub struct SeedAccount {
    pub id: Uuid,
    pub name: String,
    pub account_number: Option<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    /// `industrycode` choice value.
    pub industry_code: Option<i64>,
    pub employees: Option<i64>,
    pub owner: Uuid,
}

#[derive(Debug, Clone)]
pub struct SeedContact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub parent_account: Option<Uuid>,
    pub owner: Uuid,
}

#[derive(Debug, Clone)]
pub struct SeedLead {
    pub id: Uuid,
    /// The lead's topic (`subject`).
    pub subject: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// 0 Open, 1 Qualified, 2 Disqualified.
    pub state: i64,
    pub owner: Uuid,
}

#[derive(Debug, Clone)]
pub struct SeedOpportunity {
    pub id: Uuid,
    pub name: String,
    /// `customerid` (account).
    pub account: Uuid,
    /// `parentcontactid`.
    pub contact: Option<Uuid>,
    pub owner: Uuid,
    /// 0 Open, 1 Won, 2 Lost.
    pub state: i64,
    /// 1 In Progress, 2 On Hold (open); 3 Won; 4 Canceled, 5 Out-Sold (lost).
    pub status: i64,
    /// `salesstage`: 0 Qualify, 1 Develop, 2 Propose, 3 Close.
    pub sales_stage: i64,
    /// `stepname`, e.g. "2-Develop".
    pub step_name: String,
    pub estimated_value: f64,
    pub actual_value: Option<f64>,
    pub close_probability: i64,
    pub estimated_close_date: NaiveDate,
    pub actual_close_date: Option<NaiveDate>,
}

/// Generates an org. The same `(size, seed)` always gives the same org, ids included.
pub fn generate(_size: SeedSize, _seed: u64) -> SeedOrg {
    SeedOrg {
        name: String::new(),
        email_domain: String::new(),
        business_units: Vec::new(),
        users: Vec::new(),
        accounts: Vec::new(),
        contacts: Vec::new(),
        leads: Vec::new(),
        opportunities: Vec::new(),
    }
}
