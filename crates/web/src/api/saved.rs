//! A rep's saved leads and accounts: the list with where each came from (saved by hand or brought
//! by the CRM, and which opportunities brought it), the In CRM badge and the matched record; save
//! and unsave. Only the caller's own seat is ever read or changed.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::ids::{CompanyId, PersonId};
use domain::saved::{SavedItem, SavedTarget};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use store::saved::SavedCursor;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::people::{
    CompanyView, MatchView, PersonView, company_view, match_view, person_view,
};
use crate::auth::SeatHolder;
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::{Page, PageQuery};
use crate::problem::Problem;
use crate::state::AppState;

#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SavedSource {
    /// The rep saved it (it may also have CRM reasons; only the rep unsaves it).
    Manual,
    /// The CRM import saved it because of the opportunities in `reasons`.
    Crm,
}

/// An open opportunity past the pipeline stage that brought the item in.
#[derive(Serialize, ToSchema)]
pub struct CrmReasonView {
    pub opportunity_id: Uuid,
    /// The opportunity's sales stage when last read.
    pub stage: Option<i32>,
}

fn source(item: &SavedItem) -> SavedSource {
    match item.source() {
        domain::saved::Source::Manual => SavedSource::Manual,
        domain::saved::Source::Crm => SavedSource::Crm,
    }
}

fn reasons(item: &SavedItem) -> Vec<CrmReasonView> {
    item.crm_reasons
        .iter()
        .map(|r| CrmReasonView {
            opportunity_id: r.opportunity.0,
            stage: r.stage,
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct LeadView {
    pub person: PersonView,
    pub source: SavedSource,
    pub reasons: Vec<CrmReasonView>,
    pub tags: Vec<Uuid>,
    pub saved_at: DateTime<Utc>,
    /// Matched to a CRM contact or lead.
    pub in_crm: bool,
    /// The CRM record(s) it is matched to.
    pub crm_records: Vec<MatchView>,
}

#[derive(Serialize, ToSchema)]
pub struct CrmAccountMatchView {
    pub account_id: Uuid,
    pub confidence: u8,
    pub explanation: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub company: CompanyView,
    pub source: SavedSource,
    pub reasons: Vec<CrmReasonView>,
    pub tags: Vec<Uuid>,
    pub saved_at: DateTime<Utc>,
    /// Matched to a CRM account.
    pub in_crm: bool,
    pub crm_records: Vec<CrmAccountMatchView>,
}

/// The rep's saved leads, most recently saved first.
#[utoipa::path(get, path = "/api/v1/me/leads", tag = "rep",
    params(PageQuery),
    responses((status = 200, description = "The rep's saved leads", body = Page<LeadView>)))]
pub(crate) async fn my_leads(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictQuery(page): StrictQuery<PageQuery>,
) -> Result<Json<Page<LeadView>>, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let after = page.cursor(SavedCursor::parse)?;
    let page = tenant.saved_leads(rep.seat, after, page.limit()?).await?;
    let ids: Vec<PersonId> = page.items.iter().map(|l| l.person.person.id).collect();
    let mut matches: BTreeMap<PersonId, Vec<MatchView>> = BTreeMap::new();
    for m in tenant.person_matches_of(&ids).await? {
        matches.entry(m.person).or_default().push(match_view(&m));
    }
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|lead| {
                let crm_records = matches.remove(&lead.person.person.id).unwrap_or_default();
                LeadView {
                    source: source(&lead.item),
                    reasons: reasons(&lead.item),
                    tags: lead.item.tags.iter().map(|t| t.as_uuid()).collect(),
                    saved_at: lead.saved_at,
                    in_crm: !crm_records.is_empty(),
                    crm_records,
                    person: person_view(lead.person),
                }
            })
            .collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// The rep's saved accounts, most recently saved first.
#[utoipa::path(get, path = "/api/v1/me/accounts", tag = "rep",
    params(PageQuery),
    responses((status = 200, description = "The rep's saved accounts", body = Page<AccountView>)))]
pub(crate) async fn my_accounts(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictQuery(page): StrictQuery<PageQuery>,
) -> Result<Json<Page<AccountView>>, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let after = page.cursor(SavedCursor::parse)?;
    let page = tenant
        .saved_accounts(rep.seat, after, page.limit()?)
        .await?;
    let ids: Vec<CompanyId> = page.items.iter().map(|a| a.company.company.id).collect();
    let mut matches: BTreeMap<CompanyId, Vec<CrmAccountMatchView>> = BTreeMap::new();
    for m in tenant.company_matches_of(&ids).await? {
        matches
            .entry(m.company)
            .or_default()
            .push(CrmAccountMatchView {
                account_id: m.account.0,
                confidence: m.confidence.percent(),
                explanation: m.explanation,
            });
    }
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|account| {
                let crm_records = matches
                    .remove(&account.company.company.id)
                    .unwrap_or_default();
                AccountView {
                    source: source(&account.item),
                    reasons: reasons(&account.item),
                    tags: account.item.tags.iter().map(|t| t.as_uuid()).collect(),
                    saved_at: account.saved_at,
                    in_crm: !crm_records.is_empty(),
                    crm_records,
                    company: company_view(account.company),
                }
            })
            .collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveLead {
    pub person_id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveAccount {
    pub company_id: Uuid,
}

/// Saves a person as the rep's lead (a lead the CRM brought in becomes the rep's own).
#[utoipa::path(post, path = "/api/v1/me/leads", tag = "rep",
    request_body = SaveLead,
    responses((status = 204, description = "Saved")))]
pub(crate) async fn save_lead(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictJson(body): StrictJson<SaveLead>,
) -> Result<StatusCode, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let person = PersonId(body.person_id);
    if tenant.person(person).await?.is_none() {
        return Err(Problem::not_found("person"));
    }
    tenant
        .save_by_hand(rep.seat, SavedTarget::Lead(person))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unsaves one of the rep's leads, whoever saved it.
#[utoipa::path(delete, path = "/api/v1/me/leads/{person_id}", tag = "rep",
    params(("person_id" = Uuid, Path, description = "The saved person's id")),
    responses((status = 204, description = "Unsaved")))]
pub(crate) async fn unsave_lead(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(person): StrictPath<Uuid>,
) -> Result<StatusCode, Problem> {
    let unsaved = rep
        .caller
        .tenant(&state)
        .unsave(rep.seat, SavedTarget::Lead(PersonId(person)))
        .await?;
    if unsaved {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("saved lead"))
    }
}

/// Saves a company as the rep's account.
#[utoipa::path(post, path = "/api/v1/me/accounts", tag = "rep",
    request_body = SaveAccount,
    responses((status = 204, description = "Saved")))]
pub(crate) async fn save_account(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictJson(body): StrictJson<SaveAccount>,
) -> Result<StatusCode, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let company = CompanyId(body.company_id);
    if tenant.company(company).await?.is_none() {
        return Err(Problem::not_found("company"));
    }
    tenant
        .save_by_hand(rep.seat, SavedTarget::Account(company))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unsaves one of the rep's accounts, whoever saved it.
#[utoipa::path(delete, path = "/api/v1/me/accounts/{company_id}", tag = "rep",
    params(("company_id" = Uuid, Path, description = "The saved company's id")),
    responses((status = 204, description = "Unsaved")))]
pub(crate) async fn unsave_account(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(company): StrictPath<Uuid>,
) -> Result<StatusCode, Problem> {
    let unsaved = rep
        .caller
        .tenant(&state)
        .unsave(rep.seat, SavedTarget::Account(CompanyId(company)))
        .await?;
    if unsaved {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("saved account"))
    }
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_leads, save_lead))
        .routes(routes!(unsave_lead))
        .routes(routes!(my_accounts, save_account))
        .routes(routes!(unsave_account))
}
