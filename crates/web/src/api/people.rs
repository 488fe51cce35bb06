//! The tenant-shared directory as reps read it (people and companies, by id, by page, by name),
//! and a person's match to a CRM contact or lead: see it, pin the right one, reject a wrong one.

use axum::Json;
use axum::extract::State;
use domain::crm::{CrmContact, CrmLead, CrmPersonRef};
use domain::directory::{Company, CompanyOrigin, Person, PersonOrigin};
use domain::ids::{CompanyId, PersonId};
use domain::matches::{MatchOrigin, PersonMatch};
use serde::{Deserialize, Serialize};
use store::TenantStore;
use store::directory::{CompanyRecord, PersonRecord};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Caller, SeatHolder};
use crate::directory::SizeBand;
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::{Page, PageQuery};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use crate::sync::SyncError;

#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub full_name: String,
    pub title: Option<String>,
    pub company_name: Option<String>,
    pub company_id: Option<Uuid>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub profile_url: Option<String>,
    /// Earlier employers, most recent first.
    pub past_companies: Vec<String>,
    /// Created by the import from a CRM contact no workspace person matched.
    pub created_from_crm: bool,
}

pub fn person_view(record: PersonRecord) -> PersonView {
    let Person {
        id,
        full_name,
        title,
        company_name,
        company,
        location,
        email,
        phone,
        profile_url,
        past_companies,
        origin,
        ..
    } = record.person;
    PersonView {
        id: id.as_uuid(),
        external_id: record.external_id,
        full_name,
        title,
        company_name,
        company_id: company.map(|c| c.as_uuid()),
        location,
        email,
        phone,
        profile_url,
        past_companies,
        created_from_crm: matches!(origin, PersonOrigin::CreatedFromCrm { .. }),
    }
}

#[derive(Serialize, ToSchema)]
pub struct CompanyView {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub size: Option<SizeBand>,
    /// Created by the import from a CRM account no workspace company matched.
    pub created_from_crm: bool,
}

pub fn company_view(record: CompanyRecord) -> CompanyView {
    let Company {
        id,
        name,
        website,
        domain,
        industry,
        location,
        size,
        origin,
        ..
    } = record.company;
    CompanyView {
        id: id.as_uuid(),
        external_id: record.external_id,
        name,
        website,
        domain,
        industry,
        location,
        size: size.map(SizeBand),
        created_from_crm: matches!(origin, CompanyOrigin::CreatedFromCrm { .. }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrmPersonTable {
    Contact,
    Lead,
}

/// A CRM record a person is matched to.
#[derive(Serialize, ToSchema)]
pub struct MatchView {
    pub crm_table: CrmPersonTable,
    pub crm_id: Uuid,
    /// 0 to 100.
    pub confidence: u8,
    /// `exact`, `scored`, `created_from_crm` or `by_rep` (a rep's pin).
    pub origin: &'static str,
    pub explanation: String,
}

pub fn match_parts(crm: CrmPersonRef) -> (CrmPersonTable, Uuid) {
    match crm {
        CrmPersonRef::Contact(id) => (CrmPersonTable::Contact, id.0),
        CrmPersonRef::Lead(id) => (CrmPersonTable::Lead, id.0),
    }
}

fn origin_word(origin: MatchOrigin) -> &'static str {
    match origin {
        MatchOrigin::Scored => "scored",
        MatchOrigin::Exact => "exact",
        MatchOrigin::CreatedFromCrm => "created_from_crm",
        MatchOrigin::ByRep => "by_rep",
    }
}

pub fn match_view(m: &PersonMatch) -> MatchView {
    let (crm_table, crm_id) = match_parts(m.crm);
    MatchView {
        crm_table,
        crm_id,
        confidence: m.confidence.percent(),
        origin: origin_word(m.origin),
        explanation: m.explanation.clone(),
    }
}

async fn person_or_404(tenant: &mut TenantStore, id: Uuid) -> Result<PersonRecord, Problem> {
    tenant
        .person(PersonId(id))
        .await?
        .ok_or_else(|| Problem::not_found("person"))
}

#[derive(Serialize, ToSchema)]
pub struct PersonDetail {
    pub person: PersonView,
    pub company: Option<CompanyView>,
    /// Matched to a CRM contact or lead.
    pub in_crm: bool,
    pub matches: Vec<MatchView>,
    /// Saved as a lead by the caller (always false without a seat).
    pub saved: bool,
}

/// A person of the directory, with company, CRM match and whether the caller saved them.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "directory",
    params(("id" = Uuid, Path, description = "The person's id")),
    responses((status = 200, description = "The person", body = PersonDetail)))]
pub(crate) async fn get_person(
    caller: Caller,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
) -> Result<Json<PersonDetail>, Problem> {
    let mut tenant = caller.tenant(&state);
    let person = person_or_404(&mut tenant, id).await?;
    let company = match person.person.company {
        Some(company) => tenant.company(company).await?.map(company_view),
        None => None,
    };
    let matches: Vec<MatchView> = tenant
        .person_matches(Some(person.person.id))
        .await?
        .iter()
        .map(match_view)
        .collect();
    let saved = match caller.user.seat {
        Some(seat) => {
            tenant
                .is_saved(seat, domain::saved::SavedTarget::Lead(person.person.id))
                .await?
        }
        None => false,
    };
    Ok(Json(PersonDetail {
        person: person_view(person),
        company,
        in_crm: !matches.is_empty(),
        matches,
        saved,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Part of the name, case-insensitive; without it, everyone page by page.
    #[param(min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (not with `q`: a search answers one page).
    pub cursor: Option<String>,
}

const MAX_QUERY_CHARS: usize = 200;

/// What a directory listing asks for: a name search, or a page after an id.
enum Listing {
    Search(String),
    After(Option<Uuid>),
}

fn listing(query: &DirectoryQuery) -> Result<(Listing, u32), Problem> {
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let listing = match (&query.q, &query.cursor) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(ProblemCode::InvalidQuery)
                .field("cursor", "a search answers one page; leave out the cursor"));
        }
        (Some(q), None) => {
            let q = q.trim();
            if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
                return Err(Problem::new(ProblemCode::InvalidQuery)
                    .field("q", format!("must have 1 to {MAX_QUERY_CHARS} characters")));
            }
            Listing::Search(q.to_owned())
        }
        (None, Some(cursor)) => Listing::After(Some(Uuid::parse_str(cursor).map_err(|_| {
            Problem::new(ProblemCode::InvalidQuery).field(
                "cursor",
                "not a cursor of this list; start again without one",
            )
        })?)),
        (None, None) => Listing::After(None),
    };
    Ok((listing, limit))
}

fn next_cursor(ids: &[Uuid], limit: u32, listing: &Listing) -> Option<String> {
    match listing {
        Listing::After(_) if ids.len() == usize::try_from(limit).unwrap_or(usize::MAX) => {
            ids.last().map(Uuid::to_string)
        }
        _ => None,
    }
}

/// The directory's people: a name search, or everyone page by page.
#[utoipa::path(get, path = "/api/v1/people", tag = "directory",
    params(DirectoryQuery),
    responses((status = 200, description = "People", body = Page<PersonView>)))]
pub(crate) async fn list_people(
    caller: Caller,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<DirectoryQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    let (listing, limit) = listing(&query)?;
    let mut tenant = caller.tenant(&state);
    let people = match &listing {
        Listing::Search(q) => tenant.search_people(q, limit).await?,
        Listing::After(after) => tenant.people_page(after.map(PersonId), limit).await?,
    };
    let ids: Vec<Uuid> = people.iter().map(|p| p.person.id.as_uuid()).collect();
    Ok(Json(Page {
        items: people.into_iter().map(person_view).collect(),
        next_cursor: next_cursor(&ids, limit, &listing),
    }))
}

/// A company of the directory.
#[utoipa::path(get, path = "/api/v1/companies/{id}", tag = "directory",
    params(("id" = Uuid, Path, description = "The company's id")),
    responses((status = 200, description = "The company", body = CompanyView)))]
pub(crate) async fn get_company(
    caller: Caller,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
) -> Result<Json<CompanyView>, Problem> {
    let company = caller
        .tenant(&state)
        .company(CompanyId(id))
        .await?
        .ok_or_else(|| Problem::not_found("company"))?;
    Ok(Json(company_view(company)))
}

/// The directory's companies: a name search, or all of them page by page.
#[utoipa::path(get, path = "/api/v1/companies", tag = "directory",
    params(DirectoryQuery),
    responses((status = 200, description = "Companies", body = Page<CompanyView>)))]
pub(crate) async fn list_companies(
    caller: Caller,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<DirectoryQuery>,
) -> Result<Json<Page<CompanyView>>, Problem> {
    let (listing, limit) = listing(&query)?;
    let mut tenant = caller.tenant(&state);
    let companies = match &listing {
        Listing::Search(q) => tenant.search_companies(q, limit).await?,
        Listing::After(after) => tenant.companies_page(after.map(CompanyId), limit).await?,
    };
    let ids: Vec<Uuid> = companies.iter().map(|c| c.company.id.as_uuid()).collect();
    Ok(Json(Page {
        items: companies.into_iter().map(company_view).collect(),
        next_cursor: next_cursor(&ids, limit, &listing),
    }))
}

/// The CRM record as the last sync read it.
#[derive(Serialize, ToSchema)]
pub struct CrmPersonView {
    pub full_name: String,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub company_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MatchEntry {
    #[serde(flatten)]
    pub matched: MatchView,
    /// From the mirror of the connected CRM; absent when it is not there (any more).
    pub crm_record: Option<CrmPersonView>,
}

#[derive(Serialize, ToSchema)]
pub struct PersonMatchView {
    pub person_id: Uuid,
    pub matches: Vec<MatchEntry>,
    /// Records a rep said this person is not; automatic matching never brings them back.
    pub rejected: Vec<RejectedView>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedView {
    pub crm_table: CrmPersonTable,
    pub crm_id: Uuid,
}

async fn crm_person(
    tenant: &mut TenantStore,
    crm: CrmPersonRef,
) -> Result<Option<CrmPersonView>, Problem> {
    let Some(live) = tenant.live_connection().await? else {
        return Ok(None);
    };
    let connection = live.connection.id;
    Ok(match crm {
        CrmPersonRef::Contact(id) => {
            tenant
                .crm_row::<CrmContact>(connection, id.0)
                .await?
                .map(|m| CrmPersonView {
                    full_name: m.row.full_name,
                    email: m.row.email,
                    job_title: m.row.job_title,
                    company_name: None,
                })
        }
        CrmPersonRef::Lead(id) => {
            tenant
                .crm_row::<CrmLead>(connection, id.0)
                .await?
                .map(|m| CrmPersonView {
                    full_name: m.row.full_name,
                    email: m.row.email,
                    job_title: m.row.job_title,
                    company_name: m.row.company_name,
                })
        }
    })
}

async fn match_state(
    tenant: &mut TenantStore,
    person: PersonId,
) -> Result<PersonMatchView, Problem> {
    let mut matches = Vec::new();
    for m in tenant.person_matches(Some(person)).await? {
        matches.push(MatchEntry {
            crm_record: crm_person(tenant, m.crm).await?,
            matched: match_view(&m),
        });
    }
    let rejected = tenant
        .person_rejections()
        .await?
        .into_iter()
        .filter(|(p, _)| *p == person)
        .map(|(_, crm)| {
            let (crm_table, crm_id) = match_parts(crm);
            RejectedView { crm_table, crm_id }
        })
        .collect();
    Ok(PersonMatchView {
        person_id: person.as_uuid(),
        matches,
        rejected,
    })
}

/// The person's match to the CRM: the record(s), confidence and explanation, and rejections.
#[utoipa::path(get, path = "/api/v1/people/{id}/match", tag = "directory",
    params(("id" = Uuid, Path, description = "The person's id")),
    responses((status = 200, description = "The match", body = PersonMatchView)))]
pub(crate) async fn get_match(
    caller: Caller,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
) -> Result<Json<PersonMatchView>, Problem> {
    let mut tenant = caller.tenant(&state);
    let person = person_or_404(&mut tenant, id).await?;
    Ok(Json(match_state(&mut tenant, person.person.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinMatch {
    pub crm_table: CrmPersonTable,
    pub crm_id: Uuid,
}

/// Corrects the match: this person is this CRM contact or lead (a rep's pin always wins).
#[utoipa::path(put, path = "/api/v1/people/{id}/match", tag = "directory",
    params(("id" = Uuid, Path, description = "The person's id")),
    request_body = PinMatch,
    responses((status = 200, description = "The match as it is now", body = PersonMatchView)))]
pub(crate) async fn put_match(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(pin): StrictJson<PinMatch>,
) -> Result<Json<PersonMatchView>, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let person = person_or_404(&mut tenant, id).await?;
    let crm = match pin.crm_table {
        CrmPersonTable::Contact => CrmPersonRef::Contact(pin.crm_id.into()),
        CrmPersonTable::Lead => CrmPersonRef::Lead(pin.crm_id.into()),
    };
    tenant
        .live_connection()
        .await?
        .ok_or(SyncError::NotConnected)?;
    if crm_person(&mut tenant, crm).await?.is_none() {
        return Err(Problem::new(ProblemCode::ValidationFailed)
            .field("crm_id", "no such record in the CRM as last synced"));
    }
    let explanation = format!("Set by {}.", rep.caller.user.display_name);
    tenant
        .pin_person_match(person.person.id, crm, &explanation)
        .await?;
    Ok(Json(match_state(&mut tenant, person.person.id).await?))
}

/// "Not this person": rejects every current match, so automatic matching never brings them back.
#[utoipa::path(delete, path = "/api/v1/people/{id}/match", tag = "directory",
    params(("id" = Uuid, Path, description = "The person's id")),
    responses((status = 200, description = "The match as it is now", body = PersonMatchView)))]
pub(crate) async fn delete_match(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
) -> Result<Json<PersonMatchView>, Problem> {
    let mut tenant = rep.caller.tenant(&state).begin().await?;
    let person = person_or_404(&mut tenant, id).await?;
    for m in tenant.person_matches(Some(person.person.id)).await? {
        tenant.reject_person_match(person.person.id, m.crm).await?;
    }
    let view = match_state(&mut tenant, person.person.id).await?;
    tenant.commit().await?;
    Ok(Json(view))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_person))
        .routes(routes!(list_people))
        .routes(routes!(get_company))
        .routes(routes!(list_companies))
        .routes(routes!(get_match, put_match, delete_match))
}
