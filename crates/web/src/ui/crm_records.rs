//! CRM records as the rep pages show them: the link that opens a record in Dynamics, and the
//! picker that finds a contact or lead of the last sync by name or email (to correct a match or to
//! link an unassigned activity).
//!
//! The picker reads the mirror of the connected org and filters it here: the store has no search
//! over mirrored rows yet, so its cost grows with the org (bounded by `MAX_CANDIDATES` shown).

use domain::crm::{CrmContact, CrmLead};
use serde::Deserialize;
use store::{StoreError, TenantStore};
use uuid::Uuid;

use crate::ui::i18n::{Tr, has};

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

/// A match's explanation as the matcher keeps it (JSON): how it was found, and each field's part.
#[derive(Deserialize)]
struct ExplanationJson {
    method: String,
    #[serde(default)]
    fields: Vec<FieldJson>,
}

#[derive(Deserialize)]
struct FieldJson {
    field: String,
    agreement: String,
}

/// Why a person matched a CRM record, in the reader's language: how it was found, then which
/// fields were the same, close or different. Text that is not the matcher's JSON is shown as is.
pub fn explanation_text(t: Tr, raw: &str) -> String {
    let Ok(explanation) = serde_json::from_str::<ExplanationJson>(raw) else {
        return raw.to_owned();
    };
    let known = |key: String| has(&key).then(|| t.t(&key).into_owned());
    let mut parts =
        vec![known(format!("match.how.{}", explanation.method)).unwrap_or(explanation.method)];
    let groups: [(&str, &[&str]); 3] = [
        ("same", &["exact"]),
        ("close", &["equivalent", "similar", "partial"]),
        ("different", &["different"]),
    ];
    for (group, agreements) in groups {
        let fields: Vec<String> = explanation
            .fields
            .iter()
            .filter(|f| agreements.contains(&f.agreement.as_str()))
            .map(|f| {
                known(format!("match.field.{}", f.field))
                    .unwrap_or_else(|| f.field.replace('_', " "))
            })
            .collect();
        if !fields.is_empty() {
            parts.push(format!(
                "{}: {}",
                t.t(&format!("match.agree.{group}")),
                fields.join(", ")
            ));
        }
    }
    parts.join(" · ")
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
    }

    #[test]
    fn explanations_read_as_sentences_in_every_language() {
        use crate::ui::i18n::Lang;
        let raw = r#"{"method":"exact_key","score":36.0,"fields":[{"field":"last_name","agreement":"exact","weight":9.5},{"field":"first_name","agreement":"equivalent","detail":"nickname","weight":6.5},{"field":"country","agreement":"different","weight":-3.0}]}"#;
        assert_eq!(
            explanation_text(Tr::new(Lang::En), raw),
            "Found by the same e-mail address or profile · Same: last name · Close: first name · Different: country"
        );
        for lang in Lang::ALL {
            let text = explanation_text(Tr::new(lang), raw);
            assert!(!text.contains('{') && !text.contains("match."), "{text}");
        }
        assert_eq!(
            explanation_text(Tr::new(Lang::En), "same domain"),
            "same domain"
        );
        assert_eq!(parse_choice("contact"), None);
    }
}
