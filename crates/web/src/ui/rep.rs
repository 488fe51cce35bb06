//! The rep's lists: saved leads and accounts (where each came from, the opportunities that brought
//! it, the In CRM badge linking to the record) and the people directory to find anyone else. The
//! lists are the `/api/v1/me/*` and `/api/v1/people` answers, rendered.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use domain::crm::CrmOpportunity;
use serde::Deserialize;
use store::TenantStore;
use uuid::Uuid;

use crate::api::people::{self as people_api, CrmPersonTable, DirectoryQuery, PersonView};
use crate::api::saved::{self as saved_api, CrmReasonView, SavedSource};
use crate::json::StrictQuery;
use crate::page::PageQuery;
use crate::problem::Problem;
use crate::state::AppState;
use crate::ui::Chrome;
use crate::ui::crm_records::{explanation_text, org_url, record_url};
use crate::ui::error::{OrPage, UiError};
use crate::ui::i18n::Tr;
use crate::ui::session::RepViewer;

/// Items per page of the rep's lists.
const PAGE_SIZE: u32 = 50;

pub fn table_word(table: CrmPersonTable) -> &'static str {
    match table {
        CrmPersonTable::Contact => "contact",
        CrmPersonTable::Lead => "lead",
    }
}

/// A link to a CRM record, when the org is known.
pub struct CrmLink {
    /// The catalogue key of the record's table.
    pub table_key: &'static str,
    pub url: Option<String>,
    pub confidence: u8,
    pub explanation: String,
}

/// An opportunity that brought an item in.
pub struct ReasonRow {
    pub name: String,
    pub url: Option<String>,
}

async fn reason_rows(
    tenant: &mut TenantStore,
    org: Option<&str>,
    reasons: &[CrmReasonView],
    t: Tr,
) -> Result<Vec<ReasonRow>, UiError> {
    let Some(live) = tenant.live_connection().await.or_page(t)? else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::with_capacity(reasons.len());
    for reason in reasons {
        let name = tenant
            .crm_row::<CrmOpportunity>(live.connection.id, reason.opportunity_id)
            .await
            .or_page(t)?
            .map_or_else(|| reason.opportunity_id.to_string(), |m| m.row.name);
        rows.push(ReasonRow {
            name,
            url: org.map(|org| record_url(org, "opportunity", reason.opportunity_id)),
        });
    }
    Ok(rows)
}

pub struct LeadRow {
    pub person: PersonView,
    pub from_crm: bool,
    pub reasons: Vec<ReasonRow>,
    pub in_crm: bool,
    pub records: Vec<CrmLink>,
}

#[derive(Template)]
#[template(path = "ui/leads.html")]
struct LeadsPage {
    t: Tr,
    c: Chrome,
    rows: Vec<LeadRow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    notice: Option<String>,
}

pub async fn leads(
    State(state): State<AppState>,
    rep: RepViewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let page = saved_api::my_leads(
        rep.api(),
        State(state.clone()),
        StrictQuery(PageQuery {
            limit: Some(PAGE_SIZE),
            cursor: query.cursor,
        }),
    )
    .await
    .or_page(t)?
    .0;
    let mut tenant = rep.viewer.caller.tenant(&state);
    let org = org_url(&mut tenant).await.or_page(t)?;
    let mut rows = Vec::with_capacity(page.items.len());
    for lead in page.items {
        rows.push(LeadRow {
            from_crm: matches!(lead.source, SavedSource::Crm),
            reasons: reason_rows(&mut tenant, org.as_deref(), &lead.reasons, t).await?,
            in_crm: lead.in_crm,
            records: lead
                .crm_records
                .iter()
                .map(|m| CrmLink {
                    table_key: match m.crm_table {
                        CrmPersonTable::Contact => "crm_table.contact",
                        CrmPersonTable::Lead => "crm_table.lead",
                    },
                    url: org
                        .as_deref()
                        .map(|org| record_url(org, table_word(m.crm_table), m.crm_id)),
                    confidence: m.confidence,
                    explanation: explanation_text(t, &m.explanation),
                })
                .collect(),
            person: lead.person,
        });
    }
    let page = LeadsPage {
        t,
        c: Chrome::of(&rep.viewer, "leads").notice(t, query.notice.as_deref()),
        rows,
        next_cursor: page.next_cursor,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

pub struct AccountRow {
    pub name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub from_crm: bool,
    pub reasons: Vec<ReasonRow>,
    pub in_crm: bool,
    pub records: Vec<CrmLink>,
}

#[derive(Template)]
#[template(path = "ui/accounts.html")]
struct AccountsPage {
    t: Tr,
    c: Chrome,
    rows: Vec<AccountRow>,
    next_cursor: Option<String>,
}

/// A website as a link only when it is a web address (a directory import may hold anything).
fn web_link(website: Option<String>) -> Option<String> {
    website.filter(|w| w.starts_with("https://") || w.starts_with("http://"))
}

pub async fn accounts(
    State(state): State<AppState>,
    rep: RepViewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let page = saved_api::my_accounts(
        rep.api(),
        State(state.clone()),
        StrictQuery(PageQuery {
            limit: Some(PAGE_SIZE),
            cursor: query.cursor,
        }),
    )
    .await
    .or_page(t)?
    .0;
    let mut tenant = rep.viewer.caller.tenant(&state);
    let org = org_url(&mut tenant).await.or_page(t)?;
    let mut rows = Vec::with_capacity(page.items.len());
    for account in page.items {
        rows.push(AccountRow {
            from_crm: matches!(account.source, SavedSource::Crm),
            reasons: reason_rows(&mut tenant, org.as_deref(), &account.reasons, t).await?,
            in_crm: account.in_crm,
            records: account
                .crm_records
                .iter()
                .map(|m| CrmLink {
                    table_key: "crm_table.account",
                    url: org
                        .as_deref()
                        .map(|org| record_url(org, "account", m.account_id)),
                    confidence: m.confidence,
                    explanation: explanation_text(t, &m.explanation),
                })
                .collect(),
            name: account.company.name,
            website: web_link(account.company.website),
            industry: account.company.industry,
            location: account.company.location,
        });
    }
    let page = AccountsPage {
        t,
        c: Chrome::of(&rep.viewer, "accounts").notice(t, query.notice.as_deref()),
        rows,
        next_cursor: page.next_cursor,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

#[derive(Template)]
#[template(path = "ui/people.html")]
struct PeoplePage {
    t: Tr,
    c: Chrome,
    q: String,
    people: Vec<PersonView>,
    next_cursor: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PeopleQuery {
    q: Option<String>,
    cursor: Option<String>,
}

/// The directory: a name search, or everyone page by page.
pub async fn people(
    State(state): State<AppState>,
    rep: RepViewer,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let q = query.q.unwrap_or_default().trim().to_owned();
    let answer = people_api::list_people(
        rep.viewer.caller.clone(),
        State(state.clone()),
        StrictQuery(DirectoryQuery {
            q: (!q.is_empty()).then(|| q.clone()),
            limit: Some(PAGE_SIZE),
            cursor: if q.is_empty() { query.cursor } else { None },
        }),
    )
    .await;
    let (people, next_cursor, error) = match answer {
        Ok(page) => (page.0.items, page.0.next_cursor, None),
        Err(problem) => (Vec::new(), None, Some(search_error(t, &problem))),
    };
    let page = PeoplePage {
        t,
        c: Chrome::of(&rep.viewer, "people"),
        q,
        people,
        next_cursor,
        error,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

fn search_error(t: Tr, problem: &Problem) -> String {
    if problem.errors.iter().any(|e| e.path == "q") {
        t.t("people.search_too_long").into_owned()
    } else {
        crate::ui::error::describe_problem(t, problem).message
    }
}

/// The id in a path, or the page's "not found".
pub fn path_id(t: Tr, text: &str) -> Result<Uuid, UiError> {
    Uuid::parse_str(text).map_err(|_| UiError::not_found(t))
}
