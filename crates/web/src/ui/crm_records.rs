//! CRM records as the rep pages show them: the link that opens a record in Dynamics, and the
//! picker that finds a contact or lead of the last sync by name or email (to correct a match or to
//! link an unassigned activity).
//!
//! The picker reads the mirror of the connected org and filters it here: the store has no search
//! over mirrored rows yet, so its cost grows with the org (bounded by `MAX_CANDIDATES` shown).

use domain::crm::{CrmContact, CrmLead};
use store::{StoreError, TenantStore};
use uuid::Uuid;

/// The most candidates one search shows.
pub const MAX_CANDIDATES: usize = 25;
/// The longest search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The address of a record in the Dynamics web client (`main.aspx`, the documented deep link).
pub fn record_url(org_url: &str, table: &str, id: Uuid) -> String {
    format!(
        "{}/main.aspx?pagetype=entityrecord&etn={table}&id={id}",
        org_url.trim_end_matches('/')
    )
}

/// The connected org's address, for links to its records.
pub async fn org_url(tenant: &mut TenantStore) -> Result<Option<String>, StoreError> {
    Ok(tenant
        .live_connection()
        .await?
        .map(|live| live.connection.org_url))
}

/// A contact or lead a person could be.
pub struct Candidate {
    /// `contact` or `lead`, as the API names the table.
    pub table: &'static str,
    pub id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub company_name: Option<String>,
}

impl Candidate {
    /// The value a form posts for this record: `table:id`.
    pub fn value(&self) -> String {
        format!("{}:{}", self.table, self.id)
    }
}

/// Reads back a picker's `table:id`.
pub fn parse_choice(value: &str) -> Option<(&str, Uuid)> {
    let (table, id) = value.split_once(':')?;
    let id = Uuid::parse_str(id).ok()?;
    matches!(table, "contact" | "lead").then_some((table, id))
}

fn matches(q: &str, name: &str, email: Option<&str>) -> bool {
    name.to_lowercase().contains(q) || email.is_some_and(|e| e.to_lowercase().contains(q))
}

/// Contacts, then leads, of the last sync whose name or email contains `q` (case-insensitive).
pub async fn search(tenant: &mut TenantStore, q: &str) -> Result<Vec<Candidate>, StoreError> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let Some(live) = tenant.live_connection().await? else {
        return Ok(Vec::new());
    };
    let connection = live.connection.id;
    let mut found: Vec<Candidate> = tenant
        .crm_rows::<CrmContact>(connection)
        .await?
        .into_iter()
        .filter(|c| matches(&q, &c.full_name, c.email.as_deref()))
        .map(|c| Candidate {
            table: "contact",
            id: c.id.0,
            full_name: c.full_name,
            email: c.email,
            job_title: c.job_title,
            company_name: None,
        })
        .take(MAX_CANDIDATES)
        .collect();
    if found.len() < MAX_CANDIDATES {
        let room = MAX_CANDIDATES - found.len();
        found.extend(
            tenant
                .crm_rows::<CrmLead>(connection)
                .await?
                .into_iter()
                .filter(|l| matches(&q, &l.full_name, l.email.as_deref()))
                .map(|l| Candidate {
                    table: "lead",
                    id: l.id.0,
                    full_name: l.full_name,
                    email: l.email,
                    job_title: l.job_title,
                    company_name: l.company_name,
                })
                .take(room),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_links_and_choices() {
        let id = Uuid::from_u128(7);
        assert_eq!(
            record_url("https://contoso.crm4.dynamics.com/", "contact", id),
            format!(
                "https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=contact&id={id}"
            )
        );
        assert_eq!(parse_choice(&format!("lead:{id}")), Some(("lead", id)));
        assert_eq!(parse_choice(&format!("account:{id}")), None);
        assert_eq!(parse_choice("contact:nope"), None);
        assert_eq!(parse_choice("contact"), None);
    }
}
