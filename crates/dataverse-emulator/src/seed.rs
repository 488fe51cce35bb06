//! Deterministic generator of realistic Dataverse orgs (business units, reps, accounts, contacts,
//! leads, opportunities) from a seed number, in `small`, `medium` and `large` sizes.

mod companies;
mod locale;
mod org;
mod pipeline;
mod rng;
mod text;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use uuid::Uuid;

use rng::Rng;

/// The "today" the seeded pipeline is built around (estimated and actual close dates), fixed so
/// that the same seed gives the same dates whenever it runs.
pub const REFERENCE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 2) {
    Some(date) => date,
    None => panic!("the reference date is a valid calendar date"),
};

/// How big an org to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSize {
    /// For the demo: 8 users (an administrator, a manager, five reps, one leaver), 60 accounts,
    /// 250 contacts, 40 leads, 80 opportunities; every rep owns an open opportunity with a contact
    /// at each sales stage.
    Small,
    /// 120 users, 20,000 accounts, 100,000 contacts, 10,000 leads, 10,000 opportunities.
    Medium,
    /// 500 users, 200,000 accounts, 1,000,000 contacts, 100,000 leads, 100,000 opportunities.
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
    /// 1 New, 2 Contacted (open); 3 Qualified; 4 Lost, 5 Cannot Contact, 6 No Longer Interested,
    /// 7 Canceled (disqualified).
    pub status: i64,
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

/// Row counts of each size.
struct Counts {
    accounts: usize,
    contacts: usize,
    leads: usize,
    opportunities: usize,
}

fn counts(size: SeedSize) -> Counts {
    match size {
        SeedSize::Small => Counts {
            accounts: 60,
            contacts: 250,
            leads: 40,
            opportunities: 80,
        },
        SeedSize::Medium => Counts {
            accounts: 20_000,
            contacts: 100_000,
            leads: 10_000,
            opportunities: 10_000,
        },
        SeedSize::Large => Counts {
            accounts: 200_000,
            contacts: 1_000_000,
            leads: 100_000,
            opportunities: 100_000,
        },
    }
}

/// Microsoft's fictitious company names, on reserved `.example` domains (RFC 2606) so that no
/// seeded user address can reach a real mailbox.
const ORGS: &[(&str, &str)] = &[
    ("Contoso Ltd", "contoso.example"),
    ("Fabrikam, Inc.", "fabrikam.example"),
    ("Northwind Traders", "northwindtraders.example"),
    ("Adventure Works Cycles", "adventure-works.example"),
    ("Tailspin Toys", "tailspintoys.example"),
    ("Wide World Importers", "wideworldimporters.example"),
    ("Litware, Inc.", "litware.example"),
    ("Proseware, Inc.", "proseware.example"),
    ("Alpine Ski House", "alpineskihouse.example"),
    ("Fourth Coffee", "fourthcoffee.example"),
];

/// Separate random streams per part of the org (see `Rng::new`).
const STREAM_ORG: u64 = 1;
const STREAM_ACCOUNTS: u64 = 2;
const STREAM_CONTACTS: u64 = 3;
const STREAM_LEADS: u64 = 4;
const STREAM_OPPORTUNITIES: u64 = 5;

/// Generates an org. The same `(size, seed)` always gives the same org, ids included, on any
/// machine: the random stream is our own and only exactly-rounded arithmetic touches it.
pub fn generate(size: SeedSize, seed: u64) -> SeedOrg {
    let counts = counts(size);
    let mut org_rng = Rng::new(seed, STREAM_ORG);
    let (name, email_domain) = org_rng.pick(ORGS);
    let people = org::generate(size, name, email_domain, &mut org_rng);
    let user_ids: Vec<Uuid> = people.users.iter().map(|u| u.id).collect();
    let customers = companies::generate(
        counts.accounts,
        counts.contacts,
        &people.staff,
        &user_ids,
        &mut Rng::new(seed, STREAM_ACCOUNTS),
        &mut Rng::new(seed, STREAM_CONTACTS),
    );
    let leads = pipeline::leads(
        counts.leads,
        &customers,
        &people.staff,
        &user_ids,
        &mut Rng::new(seed, STREAM_LEADS),
    );
    let opportunities = pipeline::opportunities(
        counts.opportunities,
        &customers,
        &people.staff,
        &user_ids,
        size == SeedSize::Small,
        &mut Rng::new(seed, STREAM_OPPORTUNITIES),
    );
    SeedOrg {
        name: name.to_owned(),
        email_domain: email_domain.to_owned(),
        business_units: people.business_units,
        users: people.users,
        accounts: customers.accounts,
        contacts: customers.contacts,
        leads,
        opportunities,
    }
}
