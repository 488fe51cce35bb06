//! Admin → Seat Management: every seat with the In CRM badge (or why not) and Enable/Disable CRM
//! Sync in its "…" menu; Assign seats from CRM with search, select-all and bulk assign, and the
//! report of who got a seat. Every action calls the `/api/v1/admin/seats` handler that does it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::seats::{
    self as api, AssignFromCrm, CrmSyncChoice, CrmUserEntry, CrmUsersQuery, Reason, SeatPatch,
    SeatView,
};
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::PageQuery;
use crate::state::AppState;
use crate::ui::error::{OrPage, UiError};
use crate::ui::i18n::Tr;
use crate::ui::session::{AdminViewer, Form};
use crate::ui::{Chrome, with_notice};

/// Seats shown per page.
const PAGE_SIZE: u32 = 100;
/// The longest search accepted, in characters.
const MAX_SEARCH_CHARS: usize = 200;

/// A reason in the page's language when the catalogue has its code, else as the API said it.
pub fn reason_text(t: Tr, prefix: &str, reason: &Reason) -> String {
    let key = format!("{prefix}.{}", reason.code);
    if crate::ui::i18n::has(&key) {
        t.t(&key).into_owned()
    } else {
        reason.message.clone()
    }
}

pub struct SeatRow {
    pub seat: SeatView,
    /// The catalogue key of the seat's CRM sync choice.
    pub sync_key: &'static str,
    pub not_in_crm: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/seats.html")]
struct SeatsPage {
    t: Tr,
    c: Chrome,
    rows: Vec<SeatRow>,
    next_cursor: Option<String>,
    held: usize,
    seat_count: u32,
}

#[derive(Deserialize)]
pub struct SeatsQuery {
    cursor: Option<String>,
    notice: Option<String>,
}

fn sync_key(seat: &SeatView) -> &'static str {
    match (seat.crm_sync, seat.crm_sync_enabled) {
        (CrmSyncChoice::Enabled, _) => "seats.sync_enabled",
        (CrmSyncChoice::Disabled, _) => "seats.sync_disabled",
        (CrmSyncChoice::FollowTenant, true) => "seats.sync_auto_on",
        (CrmSyncChoice::FollowTenant, false) => "seats.sync_auto_off",
    }
}

pub async fn page(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(query): Query<SeatsQuery>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let seats = api::list_seats(
        admin.api(),
        State(state.clone()),
        StrictQuery(PageQuery {
            limit: Some(PAGE_SIZE),
            cursor: query.cursor,
        }),
    )
    .await
    .or_page(t)?
    .0;
    let mut tenant = admin.0.caller.tenant(&state);
    let seat_count = tenant.tenant_info().await.or_page(t)?.contract.seat_count;
    let held = tenant.seats().await.or_page(t)?.len();
    let rows = seats
        .items
        .into_iter()
        .map(|seat| SeatRow {
            sync_key: sync_key(&seat),
            not_in_crm: seat
                .not_in_crm
                .as_ref()
                .map(|r| reason_text(t, "seats.reason", r)),
            seat,
        })
        .collect();
    let page = SeatsPage {
        t,
        c: Chrome::of(&admin.0, "seats").notice(t, query.notice.as_deref()),
        rows,
        next_cursor: seats.next_cursor,
        held,
        seat_count,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

/// Enable CRM Sync / Disable CRM Sync (or back to the auto sync answer) from a seat's "…" menu.
pub async fn set_crm_sync(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(seat): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let seat = Uuid::parse_str(&seat).map_err(|_| UiError::not_found(t))?;
    let choice = match form.get("crm_sync") {
        Some("enabled") => CrmSyncChoice::Enabled,
        Some("disabled") => CrmSyncChoice::Disabled,
        Some("follow_tenant") => CrmSyncChoice::FollowTenant,
        _ => {
            return Err(UiError::message(
                t,
                StatusCode::UNPROCESSABLE_ENTITY,
                "error.bad_request",
            ));
        }
    };
    let _seat = api::update_seat(
        admin.api(),
        State(state),
        StrictPath(seat),
        StrictJson(SeatPatch { crm_sync: choice }),
    )
    .await
    .or_page(t)?;
    Ok(Redirect::to(&with_notice("/admin/seats", "seat_updated")).into_response())
}

/// Every CRM user of the org as last read, through the API's pages.
async fn all_crm_users(
    state: &AppState,
    admin: &AdminViewer,
    assignable: Option<bool>,
) -> Result<Vec<CrmUserEntry>, UiError> {
    let mut users = Vec::new();
    let mut cursor = None;
    loop {
        let page = api::crm_users(
            admin.api(),
            State(state.clone()),
            StrictQuery(CrmUsersQuery {
                assignable,
                limit: Some(crate::page::MAX_LIMIT),
                cursor,
            }),
        )
        .await
        .or_page(admin.0.t)?
        .0;
        users.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(users),
        }
    }
}

fn matches_search(user: &CrmUserEntry, q: &str) -> bool {
    let q = q.to_lowercase();
    user.full_name.to_lowercase().contains(&q)
        || user
            .email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(&q))
}

pub struct CrmUserRow {
    pub user: CrmUserEntry,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/seats_assign.html")]
struct AssignPage {
    t: Tr,
    c: Chrome,
    q: String,
    all_selected: bool,
    users: Vec<CrmUserRow>,
    seats_left: usize,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AssignQuery {
    q: Option<String>,
    select: Option<String>,
}

async fn assign_page(
    state: &AppState,
    admin: &AdminViewer,
    q: String,
    selected: impl Fn(&CrmUserEntry) -> bool,
    all_selected: bool,
    error: Option<String>,
) -> Result<AssignPage, UiError> {
    let t = admin.0.t;
    let users = all_crm_users(state, admin, Some(true)).await?;
    let mut tenant = admin.0.caller.tenant(state);
    let contract = tenant.tenant_info().await.or_page(t)?.contract;
    let held = tenant.seats().await.or_page(t)?.len();
    let users = users
        .into_iter()
        .filter(|u| q.is_empty() || matches_search(u, &q))
        .map(|user| CrmUserRow {
            selected: selected(&user),
            user,
        })
        .collect();
    Ok(AssignPage {
        t,
        c: Chrome::of(&admin.0, "seats"),
        q,
        all_selected,
        users,
        seats_left: contract.seats_left(held),
        error,
    })
}

/// Assign seats from CRM: the org's active users without a seat, searched; `select=all` ticks them
/// all (the list's top checkbox asks for that through htmx).
pub async fn assign(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(query): Query<AssignQuery>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_SEARCH_CHARS)
        .collect();
    let all = query.select.as_deref() == Some("all");
    let page = assign_page(&state, &admin, q, |_| all, all, None).await?;
    Ok(Html(page.render().or_page(t)?).into_response())
}

pub struct AssignedRow {
    pub full_name: String,
    pub email: String,
}

pub struct SkippedRow {
    pub full_name: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "ui/seats_assigned.html")]
struct AssignedPage {
    t: Tr,
    c: Chrome,
    assigned: Vec<AssignedRow>,
    skipped: Vec<SkippedRow>,
}

pub async fn assign_selected(
    State(state): State<AppState>,
    admin: AdminViewer,
    form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let picked = form.all("crm_user_id");
    let ids: Result<Vec<Uuid>, _> = picked.iter().map(|id| Uuid::parse_str(id)).collect();
    let ids = match ids {
        Ok(ids) if !ids.is_empty() => ids,
        _ => {
            let q = form.text("q").unwrap_or_default();
            let error = Some(t.t("seats.pick_someone").into_owned());
            let page = assign_page(&state, &admin, q, |_| false, false, error).await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(page.render().or_page(t)?),
            )
                .into_response());
        }
    };
    let names: HashMap<Uuid, String> = all_crm_users(&state, &admin, None)
        .await?
        .into_iter()
        .map(|u| (u.id, u.full_name))
        .collect();
    let report = api::assign_from_crm(
        admin.api(),
        State(state.clone()),
        StrictJson(AssignFromCrm { crm_user_ids: ids }),
    )
    .await
    .or_page(t)?
    .0;
    let page = AssignedPage {
        t,
        c: Chrome::of(&admin.0, "seats"),
        assigned: report
            .assigned
            .into_iter()
            .map(|a| AssignedRow {
                full_name: a.full_name,
                email: a.email,
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| SkippedRow {
                full_name: names
                    .get(&s.crm_user_id)
                    .cloned()
                    .unwrap_or_else(|| s.crm_user_id.to_string()),
                reason: reason_text(t, "seats.skip", &s.reason),
            })
            .collect(),
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

#[cfg(test)]
mod tests {
    use crate::ui::i18n::has;

    /// The codes the API gives reasons with: each has its text in the catalogues.
    #[test]
    fn every_reason_code_has_a_text() {
        for code in [
            "sync_off",
            "not_connected",
            "seat_has_no_email",
            "no_crm_user_with_email",
            "crm_user_disabled",
            "several_crm_users_share_email",
        ] {
            assert!(has(&format!("seats.reason.{code}")), "{code}");
        }
        for code in [
            "no_seats_left",
            "already_a_seat",
            "disabled_user",
            "not_a_person",
            "no_email",
            "unknown_user",
            "selected_twice",
            "email_in_use",
        ] {
            assert!(has(&format!("seats.skip.{code}")), "{code}");
        }
        for key in [
            "seats.sync_enabled",
            "seats.sync_disabled",
            "seats.sync_auto_on",
            "seats.sync_auto_off",
        ] {
            assert!(has(key), "{key}");
        }
    }
}
