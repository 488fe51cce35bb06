//! A person as the rep works with them: who they are and their CRM match (with the way to correct
//! it), the rep's notes, InMails and message threads with Copy to CRM / Copy message to CRM / Copy
//! thread to CRM and how each one's writeback is going. Writes go through the API handlers.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::activity::ActivityAbout;
use domain::ids::{PersonId, ThreadId};
use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::activities::{
    self as activities_api, ActivityKindWire, ActivityPatch, ActivityView, CrmTableWire,
    MessageBody, MessageKind, NoteBody, Threads, WritebackView,
};
use crate::api::people::{self as people_api, CrmPersonTable, PersonDetail, PinMatch};
use crate::api::saved::{self as saved_api, SaveLead};
use crate::json::{StrictJson, StrictPath};
use crate::problem::Problem;
use crate::state::AppState;
use crate::ui::crm_records::{
    Candidate, MAX_QUERY_CHARS, explanation_text, org_url, parse_choice, record_url, search,
};
use crate::ui::error::{OrPage, UiError, describe_problem};
use crate::ui::i18n::Tr;
use crate::ui::rep::{path_id, table_word};
use crate::ui::session::{Form, RepViewer};
use crate::ui::{Chrome, with_notice};

/// The most of the rep's activities a person page reads (newest first).
const MAX_ACTIVITIES: u32 = 2000;

/// One entry of a writeback's timeline, in words.
pub struct TimelineRow {
    pub at: String,
    pub what: String,
    pub reason: Option<String>,
}

/// How an item's writeback is going, in words.
pub struct WritebackRow {
    pub state_key: String,
    /// The badge's look: `in-crm`, `warn`, `bad` or `off`.
    pub class: &'static str,
    pub reason: Option<String>,
    pub record_url: Option<String>,
    pub timeline: Vec<TimelineRow>,
}

fn state_class(state: &str) -> &'static str {
    match state {
        "written" => "in-crm",
        "pending" | "removal_pending" | "unassigned" => "warn",
        "failed" => "bad",
        _ => "off",
    }
}

fn crm_table_word(table: CrmTableWire) -> &'static str {
    match table {
        CrmTableWire::Contact => "contact",
        CrmTableWire::Lead => "lead",
        CrmTableWire::Account => "account",
    }
}

/// A writeback in the page's language; the CRM record it went to linked when the org is known.
pub fn writeback_row(t: Tr, org: Option<&str>, view: &WritebackView) -> WritebackRow {
    WritebackRow {
        state_key: format!("writeback.state.{}", view.state),
        class: state_class(view.state),
        reason: view.reason.clone(),
        record_url: view
            .regarding
            .as_ref()
            .and_then(|r| org.map(|org| record_url(org, crm_table_word(r.table), r.id))),
        timeline: view
            .timeline
            .iter()
            .map(|entry| TimelineRow {
                at: t.datetime(&entry.at),
                what: t.t2(
                    "writeback.timeline_entry",
                    "event",
                    t.t(&format!(
                        "writeback.event.{}",
                        entry.event.unwrap_or("created")
                    )),
                    "state",
                    t.t(&format!("writeback.state.{}", entry.state)),
                ),
                reason: entry.reason.clone(),
            })
            .collect(),
    }
}

pub struct ActivityRow {
    pub id: Uuid,
    pub kind_key: &'static str,
    pub body: String,
    pub written_at: String,
    pub copied: bool,
    pub writeback: Option<WritebackRow>,
}

fn kind_key(kind: ActivityKindWire) -> &'static str {
    match kind {
        ActivityKindWire::Note => "kind.note",
        ActivityKindWire::Message => "kind.message",
        ActivityKindWire::InMail => "kind.inmail",
    }
}

pub fn activity_row(t: Tr, org: Option<&str>, view: &ActivityView) -> ActivityRow {
    ActivityRow {
        id: view.id,
        kind_key: kind_key(view.kind),
        body: view.body.clone(),
        written_at: t.datetime(&view.written_at),
        copied: view.copied_to_crm,
        writeback: view.writeback.as_ref().map(|w| writeback_row(t, org, w)),
    }
}

pub struct ThreadRow {
    pub id: Uuid,
    pub subject: Option<String>,
    pub copied: bool,
    /// Oldest first, as a conversation reads.
    pub messages: Vec<ActivityRow>,
}

/// A match to a CRM record, as the page shows it.
pub struct MatchRow {
    pub table_key: &'static str,
    pub name: Option<String>,
    pub detail: Option<String>,
    pub url: Option<String>,
    pub confidence: u8,
    pub explanation: String,
    pub by_rep: bool,
}

/// What the rep typed that did not go through, kept for the page.
#[derive(Default)]
pub struct Drafts {
    pub note: String,
    pub note_error: Option<String>,
    pub message_kind: String,
    pub subject: String,
    pub body: String,
    pub message_error: Option<String>,
    pub reply_thread: Option<Uuid>,
    pub reply: String,
    pub reply_error: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/person.html")]
struct PersonPage {
    t: Tr,
    c: Chrome,
    detail: PersonDetail,
    matches: Vec<MatchRow>,
    rejected: usize,
    notes: Vec<ActivityRow>,
    threads: Vec<ThreadRow>,
    copy_default: bool,
    drafts: Drafts,
    q: String,
    candidates: Vec<Candidate>,
    connected: bool,
}

impl PersonPage {
    fn reply_error(&self, thread: &Uuid) -> Option<&str> {
        (self.drafts.reply_thread.as_ref() == Some(thread))
            .then_some(self.drafts.reply_error.as_deref())
            .flatten()
    }

    fn reply_text(&self, thread: &Uuid) -> &str {
        if self.drafts.reply_thread.as_ref() == Some(thread) {
            &self.drafts.reply
        } else {
            ""
        }
    }
}

async fn load(
    state: &AppState,
    rep: &RepViewer,
    id: Uuid,
    drafts: Drafts,
    q: String,
) -> Result<PersonPage, UiError> {
    let t = rep.viewer.t;
    let detail = people_api::get_person(
        rep.viewer.caller.clone(),
        State(state.clone()),
        StrictPath(id),
    )
    .await
    .or_page(t)?
    .0;
    let found = people_api::get_match(
        rep.viewer.caller.clone(),
        State(state.clone()),
        StrictPath(id),
    )
    .await
    .or_page(t)?
    .0;
    let mut tenant = rep.viewer.caller.tenant(state);
    let org = org_url(&mut tenant).await.or_page(t)?;
    let matches = found
        .matches
        .iter()
        .map(|m| MatchRow {
            table_key: match m.matched.crm_table {
                CrmPersonTable::Contact => "crm_table.contact",
                CrmPersonTable::Lead => "crm_table.lead",
            },
            name: m.crm_record.as_ref().map(|r| r.full_name.clone()),
            detail: m
                .crm_record
                .as_ref()
                .and_then(|r| match (&r.job_title, &r.email) {
                    (Some(title), Some(email)) => Some(format!("{title} · {email}")),
                    (Some(one), None) | (None, Some(one)) => Some(one.clone()),
                    (None, None) => None,
                }),
            url: org
                .as_deref()
                .map(|org| record_url(org, table_word(m.matched.crm_table), m.matched.crm_id)),
            confidence: m.matched.confidence,
            explanation: explanation_text(t, &m.matched.explanation),
            by_rep: m.matched.origin == "by_rep",
        })
        .collect();

    let person = PersonId(id);
    let activities: Vec<_> = tenant
        .seat_activities(rep.seat, MAX_ACTIVITIES)
        .await
        .or_page(t)?
        .into_iter()
        .filter(|a| a.about == ActivityAbout::Person(person))
        .collect();
    let mut threads_cache = Threads::default();
    let mut notes = Vec::new();
    let mut by_thread: HashMap<Uuid, Vec<ActivityView>> = HashMap::new();
    let mut thread_order = Vec::new();
    for activity in activities {
        let view = activities_api::activity_view(&mut tenant, &mut threads_cache, activity)
            .await
            .or_page(t)?;
        match view.thread_id {
            Some(thread) => {
                if !by_thread.contains_key(&thread) {
                    thread_order.push(thread);
                }
                by_thread.entry(thread).or_default().push(view);
            }
            None => notes.push(activity_row(t, org.as_deref(), &view)),
        }
    }
    let mut threads = Vec::with_capacity(thread_order.len());
    for id in thread_order {
        let Some(thread) = tenant.thread(ThreadId(id)).await.or_page(t)? else {
            continue;
        };
        let mut messages: Vec<ActivityRow> = by_thread
            .remove(&id)
            .unwrap_or_default()
            .iter()
            .map(|v| activity_row(t, org.as_deref(), v))
            .collect();
        messages.reverse();
        threads.push(ThreadRow {
            id,
            subject: thread.subject,
            copied: thread.copy_to_crm,
            messages,
        });
    }
    let copy_default = tenant
        .copy_to_crm_default(rep.seat)
        .await
        .or_page(t)?
        .ticked;
    let candidates = search(&mut tenant, &q).await.or_page(t)?;
    Ok(PersonPage {
        t,
        c: Chrome::of(&rep.viewer, "people"),
        detail,
        matches,
        rejected: found.rejected.len(),
        notes,
        threads,
        copy_default,
        drafts,
        q,
        candidates,
        connected: org.is_some(),
    })
}

#[derive(Deserialize)]
pub struct PersonQuery {
    q: Option<String>,
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    Query(query): Query<PersonQuery>,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect();
    let mut page = load(&state, &rep, id, Drafts::default(), q).await?;
    page.c = page.c.notice(t, query.notice.as_deref());
    Ok(Html(page.render().or_page(t)?).into_response())
}

/// The page again with what was typed and why it was refused.
async fn again(
    state: &AppState,
    rep: &RepViewer,
    id: Uuid,
    drafts: Drafts,
    status: StatusCode,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let page = load(state, rep, id, drafts, String::new()).await?;
    Ok((status, Html(page.render().or_page(t)?)).into_response())
}

fn back_to(id: Uuid, notice: &str) -> Response {
    Redirect::to(&with_notice(&format!("/people/{id}"), notice)).into_response()
}

/// Why a text was refused, in the page's language (the API checks; the typed text tells which
/// of its two rules it broke).
fn text_error(t: Tr, typed: &str, problem: &Problem) -> String {
    if problem.errors.is_empty() {
        describe_problem(t, problem).message
    } else if typed.trim().is_empty() {
        t.t("activity.invalid.empty").into_owned()
    } else {
        t.t("activity.invalid.too_long").into_owned()
    }
}

pub async fn save(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    _form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    saved_api::save_lead(
        rep.api(),
        State(state),
        StrictJson(SaveLead { person_id: id }),
    )
    .await
    .or_page(t)?;
    Ok(back_to(id, "lead_saved"))
}

pub async fn unsave(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    _form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    saved_api::unsave_lead(rep.api(), State(state), StrictPath(id))
        .await
        .or_page(t)?;
    Ok(back_to(id, "lead_unsaved"))
}

pub async fn add_note(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let text = form.get("text").unwrap_or_default().to_owned();
    let body = NoteBody {
        text: text.clone(),
        copy_to_crm: Some(form.ticked("copy_to_crm")),
    };
    match activities_api::add_note(
        rep.api(),
        State(state.clone()),
        StrictPath(id),
        StrictJson(body),
    )
    .await
    {
        Ok(_) => Ok(back_to(id, "note_saved")),
        Err(problem) if problem.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let drafts = Drafts {
                note_error: Some(text_error(t, &text, &problem)),
                note: text,
                ..Drafts::default()
            };
            again(&state, &rep, id, drafts, problem.status()).await
        }
        Err(problem) => Err(UiError::problem(t, &problem)),
    }
}

pub async fn add_message(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let text = form.get("body").unwrap_or_default().to_owned();
    let thread = match form.text("thread_id") {
        Some(thread) => Some(path_id(t, &thread)?),
        None => None,
    };
    let kind = if form.get("kind") == Some("message") {
        MessageKind::Message
    } else {
        MessageKind::InMail
    };
    let subject = form.text("subject");
    // A reply left as its thread offered it follows the thread; a changed tick is its own choice.
    let ticked = form.ticked("copy_to_crm");
    let copy_to_crm = match (thread, form.get("copy_offered")) {
        (Some(_), Some(offered)) if (offered == "yes") == ticked => None,
        _ => Some(ticked),
    };
    let body = MessageBody {
        kind,
        subject: if thread.is_some() {
            None
        } else {
            subject.clone()
        },
        body: text.clone(),
        thread_id: thread,
        copy_to_crm,
    };
    match activities_api::add_message(
        rep.api(),
        State(state.clone()),
        StrictPath(id),
        StrictJson(body),
    )
    .await
    {
        Ok(_) => Ok(back_to(id, "message_saved")),
        Err(problem) if problem.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let error = Some(text_error(t, &text, &problem));
            let drafts = match thread {
                Some(thread) => Drafts {
                    reply_thread: Some(thread),
                    reply: text,
                    reply_error: error,
                    ..Drafts::default()
                },
                None => Drafts {
                    message_kind: form.get("kind").unwrap_or_default().to_owned(),
                    subject: subject.unwrap_or_default(),
                    body: text,
                    message_error: error,
                    ..Drafts::default()
                },
            };
            again(&state, &rep, id, drafts, problem.status()).await
        }
        Err(problem) => Err(UiError::problem(t, &problem)),
    }
}

/// Ticks or unticks Copy to CRM on one item; back to the page the item is on.
pub async fn set_copy(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let copy = form.get("copy") == Some("yes");
    let view = activities_api::update_activity(
        rep.api(),
        State(state),
        StrictPath(id),
        StrictJson(ActivityPatch {
            copy_to_crm: Some(copy),
            body: None,
        }),
    )
    .await
    .or_page(t)?
    .0;
    let notice = if copy { "copy_on" } else { "copy_off" };
    match (form.get("back"), view.person_id) {
        (Some("unassigned"), _) => {
            Ok(Redirect::to(&with_notice("/unassigned", notice)).into_response())
        }
        (_, Some(person)) => Ok(back_to(person, notice)),
        (_, None) => Ok(Redirect::to(&with_notice("/leads", notice)).into_response()),
    }
}

/// Corrects the match: this person is this CRM contact or lead.
pub async fn pin_match(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let Some((table, crm_id)) = form.get("record").and_then(parse_choice) else {
        let drafts = Drafts {
            error: Some(t.t("match.pick_one").into_owned()),
            ..Drafts::default()
        };
        return again(&state, &rep, id, drafts, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let pin = PinMatch {
        crm_table: if table == "lead" {
            CrmPersonTable::Lead
        } else {
            CrmPersonTable::Contact
        },
        crm_id,
    };
    match people_api::put_match(
        rep.api(),
        State(state.clone()),
        StrictPath(id),
        StrictJson(pin),
    )
    .await
    {
        Ok(_) => Ok(back_to(id, "match_set")),
        Err(problem) if problem.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let drafts = Drafts {
                error: Some(t.t("match.gone").into_owned()),
                ..Drafts::default()
            };
            again(&state, &rep, id, drafts, problem.status()).await
        }
        Err(problem) => Err(UiError::problem(t, &problem)),
    }
}

/// "Not this person": the current match goes and automatic matching never brings it back.
pub async fn reject_match(
    State(state): State<AppState>,
    rep: RepViewer,
    Path(id): Path<String>,
    _form: Form,
) -> Result<Response, UiError> {
    let t = rep.viewer.t;
    let id = path_id(t, &id)?;
    let _match = people_api::delete_match(rep.api(), State(state), StrictPath(id))
        .await
        .or_page(t)?;
    Ok(back_to(id, "match_rejected"))
}

#[cfg(test)]
mod tests {
    use crate::ui::i18n::has;

    /// The words the API describes writebacks with each have a text.
    #[test]
    fn every_writeback_word_has_a_text() {
        for state in [
            "pending",
            "written",
            "unassigned",
            "removal_pending",
            "failed",
            "removed",
            "dropped",
        ] {
            assert!(has(&format!("writeback.state.{state}")), "{state}");
        }
        for event in [
            "created",
            "edited",
            "matched",
            "written",
            "failed",
            "retried",
            "read",
            "deleted_in_crm",
            "resolved",
            "copy_ticked",
            "copy_unticked",
            "skipped",
            "removed",
        ] {
            assert!(has(&format!("writeback.event.{event}")), "{event}");
        }
        for key in [
            "kind.note",
            "kind.message",
            "kind.inmail",
            "crm_table.contact",
            "crm_table.lead",
            "crm_table.account",
        ] {
            assert!(has(key), "{key}");
        }
    }
}
