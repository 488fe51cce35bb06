//! Unassigned Activities: the rep's InMails, messages and notes written open because the person
//! matched no CRM record, with the actions that resolve one — create the contact or the lead in
//! the CRM, or link an existing record — through `POST /api/v1/activities/{id}/resolve`'s handler.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::ids::PersonId;
use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::activities::{self as api, CrmTableWire, ResolveAction, ResolveBody};
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::PageQuery;
use crate::state::AppState;
use crate::ui::crm_records::{Candidate, MAX_QUERY_CHARS, org_url, parse_choice, search};
use crate::ui::error::{OrPage, UiError, describe_problem};
use crate::ui::i18n::Tr;
use crate::ui::person::{ActivityRow, activity_row};
use crate::ui::rep::path_id;
use crate::ui::session::{Form, RepViewer};
use crate::ui::{Chrome, with_notice};

/// Unassigned activities shown per page.
const PAGE_SIZE: u32 = 50;

pub struct UnassignedRow {
    pub row: ActivityRow,
    pub person_id: Option<Uuid>,
    pub person_name: Option<String>,
    pub since: String,
}

#[derive(Template)]
#[template(path = "ui/unassigned.html")]
struct UnassignedPage {
    t: Tr,
    c: Chrome,
    rows: Vec<UnassignedRow>,
    next_cursor: Option<String>,
    /// The activity whose "link an existing record" picker is open.
    linking: Option<Uuid>,
    q: String,
    candidates: Vec<Candidate>,
    error: Option<String>,
}

impl UnassignedPage {
    fn is_linking(&self, activity: &Uuid) -> bool {
        self.linking.as_ref() == Some(activity)
    }
}

#[derive(Deserialize)]
pub struct UnassignedQuery {
    cursor: Option<String>,
    notice: Option<String>,
    link: Option<String>,
    q: Option<String>,
}

async fn load(
    state: &AppState,
    rep: &RepViewer,
    cursor: Option<String>,
    linking: Option<Uuid>,
    q: String,
    error: Option<String>,
) -> Result<UnassignedPage, UiError> {
    let t = rep.viewer.t;
    let page = api::my_unassigned(
        rep.api(),
        State(state.clone()),
        StrictQuery(PageQuery {
            limit: Some(PAGE_SIZE),
            cursor,
        }),
    )
    .await
    .or_page(t)?
    .0;
    let mut tenant = rep.viewer.caller.tenant(state);
    let org = org_url(&mut tenant).await.or_page(t)?;
    let mut rows = Vec::with_capacity(page.items.len());
    for item in page.items {
        let person_name = match item.activity.person_id {
            Some(id) => tenant
                .person(PersonId(id))
                .await
                .or_page(t)?
                .map(|p| p.person.full_name),
            None => None,
        };
        rows.push(UnassignedRow {
            row: activity_row(t, org.as_deref(), &item.activity),
            person_id: item.activity.person_id,
            person_name,
            since: t.datetime(&item.since),
        });
    }
    let candidates = if linking.is_some() {
        search(&mut tenant, &q).await.or_page(t)?
    } else {
        Vec::new()
    };
    Ok(UnassignedPage {
        t,
        c: Chrome::of(&rep.viewer, "unassigned"),
        rows,
        next_cursor: page.next_cursor,
        linking,
        q,
        candidates,
        error,
    })
}

pub async fn page(
    State(state): State<AppState>,
    rep: RepViewer,
    Query(query): Query<UnassignedQuery>,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let linking = match query.link.as_deref() {
        Some(id) => Some(path_id(t, id)?),
        None => None,
    };
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect();
    let mut page = load(&state, &rep, query.cursor, linking, q, None).await?;
    page.c = page.c.notice(t, query.notice.as_deref());
    Ok(Html(page.render().or_page(t)?).into_response())
}

pub async fn resolve(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let body = match form.get("action") {
        Some("create_contact") => ResolveBody {
            action: ResolveAction::CreateContact,
            crm_table: None,
            crm_id: None,
        },
        Some("create_lead") => ResolveBody {
            action: ResolveAction::CreateLead,
            crm_table: None,
            crm_id: None,
        },
        Some("link") => match form.get("record").and_then(parse_choice) {
            Some((table, crm_id)) => ResolveBody {
                action: ResolveAction::Link,
                crm_table: Some(if table == "lead" {
                    CrmTableWire::Lead
                } else {
                    CrmTableWire::Contact
                }),
                crm_id: Some(crm_id),
            },
            None => {
                let q = form.text("q").unwrap_or_default();
                let error = Some(t.t("match.pick_one").into_owned());
                let page = load(&state, &rep, None, Some(id), q, error).await?;
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Html(page.render().or_page(t)?),
                )
                    .into_response());
            }
        },
        _ => {
            return Err(UiError::message(
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                "error.bad_request",
            ));
        }
    };
    match api::resolve(
        rep.api(),
        State(state.clone()),
        StrictPath(id),
        StrictJson(body),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&with_notice("/unassigned", "resolved")).into_response()),
        Err(problem) => {
            let error = Some(describe_problem(t, &problem));
            let page = load(&state, &rep, None, None, String::new(), None).await?;
            let page = UnassignedPage {
                error: error.map(|d| match d.next_step {
                    Some(next) => format!("{} {next}", d.message),
                    None => d.message,
                }),
                ..page
            };
            Ok((problem.status(), Html(page.render().or_page(t)?)).into_response())
        }
    }
}
