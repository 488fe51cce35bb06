//! What reps write — notes, messages and InMails, each with its Copy to CRM choice — and how the
//! writeback of each is going (state and timeline), the rep's Unassigned Activities, and resolving
//! one. A rep only ever sees and changes their own: another rep's activity is "not found".

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::activity::{Activity, ActivityAbout, ActivityKind, CopyToCrm, Thread};
use domain::ids::{ActivityId, PersonId, ThreadId};
use domain::timeline::{Resolution, WritebackEvent, WritebackRecord, WritebackState};
use domain::writeback::Regarding;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use store::TenantStore;
use store::activities::{NewActivity, NewThread};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::SeatHolder;
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::{Page, PageQuery};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use crate::sync::Resolve;

/// Longest note or message accepted, in characters. The CRM's own limits are handled by the
/// writeback (the full text goes to an overflow note), so this only bounds abuse.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKindWire {
    Note,
    Message,
    #[serde(rename = "inmail")]
    InMail,
}

impl From<ActivityKind> for ActivityKindWire {
    fn from(kind: ActivityKind) -> Self {
        match kind {
            ActivityKind::Note => ActivityKindWire::Note,
            ActivityKind::Message => ActivityKindWire::Message,
            ActivityKind::InMail => ActivityKindWire::InMail,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrmTableWire {
    Contact,
    Lead,
    Account,
}

/// A CRM record an activity is (or is to be) linked to.
#[derive(Serialize, ToSchema)]
pub struct CrmRef {
    pub table: CrmTableWire,
    pub id: Uuid,
}

fn crm_ref(regarding: &Regarding) -> CrmRef {
    match regarding {
        Regarding::Contact(id) => CrmRef {
            table: CrmTableWire::Contact,
            id: id.0,
        },
        Regarding::Lead(id) => CrmRef {
            table: CrmTableWire::Lead,
            id: id.0,
        },
        Regarding::Account(id) => CrmRef {
            table: CrmTableWire::Account,
            id: id.0,
        },
    }
}

#[derive(Serialize, ToSchema)]
pub struct TimelineEntryView {
    pub at: DateTime<Utc>,
    /// What happened: `edited`, `matched`, `written`, `failed`, `retried`, `read`,
    /// `deleted_in_crm`, `resolved`, `copy_ticked`, `copy_unticked`, `skipped`, `removed`; absent
    /// on the first entry.
    pub event: Option<&'static str>,
    /// The state it led to.
    pub state: &'static str,
    /// Why, for a failure or a skip.
    pub reason: Option<String>,
    pub regarding: Option<CrmRef>,
}

#[derive(Serialize, ToSchema)]
pub struct WritebackView {
    /// `pending`, `written` (Completed, linked to `regarding`), `unassigned` (written Open, in
    /// Unassigned Activities), `removal_pending`, `failed`, `removed` or `dropped`.
    pub state: &'static str,
    pub crm_activity_id: Option<Uuid>,
    pub regarding: Option<CrmRef>,
    /// Why it failed or was dropped.
    pub reason: Option<String>,
    /// For a failure: whether it is tried again by itself.
    pub retriable: Option<bool>,
    pub timeline: Vec<TimelineEntryView>,
}

fn event_parts(event: &WritebackEvent) -> (&'static str, Option<String>, Option<CrmRef>) {
    match event {
        WritebackEvent::Edited => ("edited", None, None),
        WritebackEvent::Matched { regarding } => ("matched", None, Some(crm_ref(regarding))),
        WritebackEvent::Written { regarding, .. } => {
            ("written", None, regarding.as_ref().map(crm_ref))
        }
        WritebackEvent::Failed { reason, .. } => ("failed", Some(reason.clone()), None),
        WritebackEvent::Retried => ("retried", None, None),
        WritebackEvent::Read { regarding } => ("read", None, regarding.as_ref().map(crm_ref)),
        WritebackEvent::DeletedInCrm => ("deleted_in_crm", None, None),
        WritebackEvent::Resolved { regarding, .. } => ("resolved", None, Some(crm_ref(regarding))),
        WritebackEvent::CopyUnticked => ("copy_unticked", None, None),
        WritebackEvent::CopyTicked => ("copy_ticked", None, None),
        WritebackEvent::Skipped(why) => ("skipped", Some(why.to_string()), None),
        WritebackEvent::Removed => ("removed", None, None),
    }
}

pub(crate) fn writeback_view(record: &WritebackRecord) -> WritebackView {
    let (crm_activity_id, regarding, reason, retriable) = match &record.state {
        WritebackState::Written {
            crm_activity,
            regarding,
        } => (Some(crm_activity.0), Some(crm_ref(regarding)), None, None),
        WritebackState::Unassigned { crm_activity } => (Some(crm_activity.0), None, None, None),
        WritebackState::Failed {
            reason, retriable, ..
        } => (None, None, Some(reason.clone()), Some(*retriable)),
        WritebackState::Dropped { reason } => (None, None, Some(reason.clone()), None),
        WritebackState::Pending | WritebackState::RemovalPending | WritebackState::Removed => {
            (None, None, None, None)
        }
    };
    WritebackView {
        state: store::writeback::state_word(&record.state),
        crm_activity_id,
        regarding,
        reason,
        retriable,
        timeline: record
            .timeline
            .iter()
            .map(|entry| {
                let (event, reason, regarding) = match &entry.event {
                    Some(event) => {
                        let (word, reason, regarding) = event_parts(event);
                        (Some(word), reason, regarding)
                    }
                    None => (None, None, None),
                };
                TimelineEntryView {
                    at: entry.at,
                    event,
                    state: store::writeback::state_word(&entry.state),
                    reason,
                    regarding,
                }
            })
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    pub kind: ActivityKindWire,
    pub person_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub thread_id: Option<Uuid>,
    /// The thread's subject, for messages and InMails.
    pub subject: Option<String>,
    pub body: String,
    pub written_at: DateTime<Utc>,
    /// The item's own Copy to CRM choice; absent when it is left to its thread.
    pub copy_to_crm: Option<bool>,
    /// Whether it goes to the CRM: its own choice, or its thread's.
    pub copied_to_crm: bool,
    /// How its writeback is going; absent when it was never meant for the CRM.
    pub writeback: Option<WritebackView>,
}

/// Threads looked up once per request.
#[derive(Default)]
pub(crate) struct Threads(HashMap<ThreadId, Option<Thread>>);

impl Threads {
    async fn get(
        &mut self,
        tenant: &mut TenantStore,
        id: ThreadId,
    ) -> Result<Option<Thread>, Problem> {
        if let Some(thread) = self.0.get(&id) {
            return Ok(thread.clone());
        }
        let thread = tenant.thread(id).await?;
        self.0.insert(id, thread.clone());
        Ok(thread)
    }
}

pub(crate) async fn activity_view(
    tenant: &mut TenantStore,
    threads: &mut Threads,
    activity: Activity,
) -> Result<ActivityView, Problem> {
    let thread = match activity.thread {
        Some(id) => threads.get(tenant, id).await?,
        None => None,
    };
    let writeback = tenant.writeback_record(activity.id).await?;
    let (person_id, company_id) = match activity.about {
        ActivityAbout::Person(p) => (Some(p.as_uuid()), None),
        ActivityAbout::Company(c) => (None, Some(c.as_uuid())),
    };
    Ok(ActivityView {
        id: activity.id.as_uuid(),
        kind: activity.kind.into(),
        person_id,
        company_id,
        thread_id: activity.thread.map(|t| t.as_uuid()),
        subject: thread.as_ref().and_then(|t| t.subject.clone()),
        copied_to_crm: activity.copies_to_crm(thread.as_ref()),
        copy_to_crm: match activity.copy_to_crm {
            CopyToCrm::Item(ticked) => Some(ticked),
            CopyToCrm::AsThread => None,
        },
        body: activity.body,
        written_at: activity.written_at,
        writeback: writeback.as_ref().map(writeback_view),
    })
}

fn check_text(field: &str, text: &str, max: usize) -> Result<(), Problem> {
    if text.trim().is_empty() {
        Err(Problem::new(ProblemCode::ValidationFailed).field(field, "must not be empty"))
    } else if text.chars().count() > max {
        Err(Problem::new(ProblemCode::ValidationFailed)
            .field(field, format!("must be at most {max} characters")))
    } else {
        Ok(())
    }
}

async fn person_exists(tenant: &mut TenantStore, id: Uuid) -> Result<PersonId, Problem> {
    let person = PersonId(id);
    match tenant.person(person).await? {
        Some(_) => Ok(person),
        None => Err(Problem::not_found("person")),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub text: String,
    /// "Copy to CRM"; without it, the rep's remembered choice.
    pub copy_to_crm: Option<bool>,
}

/// Writes a note on a person. With Copy to CRM, its writeback starts in the same transaction.
#[utoipa::path(post, path = "/api/v1/people/{id}/notes", tag = "rep",
    params(("id" = Uuid, Path, description = "The person's id")),
    request_body = NoteBody,
    responses((status = 201, description = "Saved", body = ActivityView)))]
pub(crate) async fn add_note(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(body): StrictJson<NoteBody>,
) -> Result<(StatusCode, Json<ActivityView>), Problem> {
    check_text("text", &body.text, MAX_TEXT_CHARS)?;
    let mut tenant = rep.caller.tenant(&state);
    let person = person_exists(&mut tenant, id).await?;
    let ticked = match body.copy_to_crm {
        Some(ticked) => ticked,
        None => tenant.copy_to_crm_default(rep.seat).await?.ticked,
    };
    let activity = tenant
        .add_activity(NewActivity {
            seat: rep.seat,
            kind: ActivityKind::Note,
            about: ActivityAbout::Person(person),
            thread: None,
            body: body.text,
            copy_to_crm: CopyToCrm::Item(ticked),
        })
        .await?;
    let view = activity_view(&mut tenant, &mut Threads::default(), activity).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[serde(rename = "inmail")]
    InMail,
    Message,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    pub kind: MessageKind,
    /// The subject of a new thread (InMails usually have one); leave it out when replying.
    pub subject: Option<String>,
    pub body: String,
    /// Reply in this thread; without it, a new thread starts.
    pub thread_id: Option<Uuid>,
    /// "Copy message to CRM" for this message. Without it: a new thread takes the rep's
    /// remembered choice ("Copy thread to CRM"), a reply follows its thread.
    pub copy_to_crm: Option<bool>,
}

/// Records a message or InMail with a person, in a new thread or as a reply. With Copy to CRM,
/// its writeback starts in the same transaction as the message.
#[utoipa::path(post, path = "/api/v1/people/{id}/messages", tag = "rep",
    params(("id" = Uuid, Path, description = "The person's id")),
    request_body = MessageBody,
    responses((status = 201, description = "Saved", body = ActivityView)))]
pub(crate) async fn add_message(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(body): StrictJson<MessageBody>,
) -> Result<(StatusCode, Json<ActivityView>), Problem> {
    check_text("body", &body.body, MAX_TEXT_CHARS)?;
    if let Some(subject) = &body.subject {
        check_text("subject", subject, MAX_SUBJECT_CHARS)?;
    }
    let kind = match body.kind {
        MessageKind::InMail => ActivityKind::InMail,
        MessageKind::Message => ActivityKind::Message,
    };
    let mut tenant = rep.caller.tenant(&state).begin().await?;
    let person = person_exists(&mut tenant, id).await?;
    let (thread, copy_to_crm) = match body.thread_id {
        Some(thread_id) => {
            let thread = tenant
                .thread(ThreadId(thread_id))
                .await?
                .filter(|t| t.seat == rep.seat)
                .ok_or_else(|| Problem::not_found("thread"))?;
            if thread.person != person {
                return Err(Problem::new(ProblemCode::ValidationFailed)
                    .field("thread_id", "this thread is with another person"));
            }
            if body.subject.is_some() {
                return Err(Problem::new(ProblemCode::ValidationFailed).field(
                    "subject",
                    "the subject belongs to the thread; leave it out when replying",
                ));
            }
            let copy = body
                .copy_to_crm
                .map_or(CopyToCrm::AsThread, CopyToCrm::Item);
            (thread.id, copy)
        }
        None => {
            let ticked = match body.copy_to_crm {
                Some(ticked) => ticked,
                None => tenant.copy_to_crm_default(rep.seat).await?.ticked,
            };
            let thread = tenant
                .create_thread(NewThread {
                    seat: rep.seat,
                    person,
                    subject: body.subject,
                    copy_to_crm: ticked,
                })
                .await?;
            (thread.id, CopyToCrm::AsThread)
        }
    };
    let activity = tenant
        .add_activity(NewActivity {
            seat: rep.seat,
            kind,
            about: ActivityAbout::Person(person),
            thread: Some(thread),
            body: body.body,
            copy_to_crm,
        })
        .await?;
    let view = activity_view(&mut tenant, &mut Threads::default(), activity).await?;
    tenant.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The most activities one page may reach into; beyond, the list is cut.
const MAX_ACTIVITY_OFFSET: usize = 100_000;

/// The rep's notes, messages and InMails, newest first, each with its writeback and timeline.
#[utoipa::path(get, path = "/api/v1/me/activities", tag = "rep",
    params(PageQuery),
    responses((status = 200, description = "The rep's activities", body = Page<ActivityView>)))]
pub(crate) async fn my_activities(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictQuery(page): StrictQuery<PageQuery>,
) -> Result<Json<Page<ActivityView>>, Problem> {
    let limit = usize::try_from(page.limit()?).unwrap_or(usize::MAX);
    let start = match page.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= MAX_ACTIVITY_OFFSET)
            .ok_or_else(|| {
                Problem::new(ProblemCode::InvalidQuery).field(
                    "cursor",
                    "not a cursor of this list; start again without one",
                )
            })?,
    };
    let mut tenant = rep.caller.tenant(&state);
    let wanted = u32::try_from(start + limit + 1).unwrap_or(u32::MAX);
    let activities = tenant.seat_activities(rep.seat, wanted).await?;
    let more = activities.len() > start + limit;
    let mut threads = Threads::default();
    let mut items = Vec::with_capacity(limit);
    for activity in activities.into_iter().skip(start).take(limit) {
        items.push(activity_view(&mut tenant, &mut threads, activity).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: more.then(|| (start + limit).to_string()),
    }))
}

/// One of the caller's own activities; another rep's is not found, whatever its id.
async fn own_activity(
    tenant: &mut TenantStore,
    rep: &SeatHolder,
    id: Uuid,
) -> Result<Activity, Problem> {
    tenant
        .activity(ActivityId(id))
        .await?
        .filter(|a| a.seat == rep.seat)
        .ok_or_else(|| Problem::not_found("activity"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityPatch {
    /// Tick or untick Copy to CRM on this item: unticking one already written removes it from
    /// the CRM.
    pub copy_to_crm: Option<bool>,
    /// New text; a written item is rewritten in the CRM.
    pub body: Option<String>,
}

/// Changes Copy to CRM on one of the rep's items, or its text.
#[utoipa::path(patch, path = "/api/v1/activities/{id}", tag = "rep",
    params(("id" = Uuid, Path, description = "The activity's id")),
    request_body = ActivityPatch,
    responses((status = 200, description = "The activity as it is now", body = ActivityView)))]
pub(crate) async fn update_activity(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(patch): StrictJson<ActivityPatch>,
) -> Result<Json<ActivityView>, Problem> {
    if patch.copy_to_crm.is_none() && patch.body.is_none() {
        return Err(
            Problem::new(ProblemCode::ValidationFailed).detail("Send copy_to_crm, body, or both.")
        );
    }
    if let Some(body) = &patch.body {
        check_text("body", body, MAX_TEXT_CHARS)?;
    }
    let mut tenant = rep.caller.tenant(&state).begin().await?;
    let activity = own_activity(&mut tenant, &rep, id).await?;
    if let Some(body) = &patch.body {
        tenant.edit_activity(activity.id, body).await?;
    }
    if let Some(ticked) = patch.copy_to_crm {
        tenant
            .set_activity_copy_to_crm(activity.id, CopyToCrm::Item(ticked))
            .await?;
    }
    let activity = own_activity(&mut tenant, &rep, id).await?;
    let view = activity_view(&mut tenant, &mut Threads::default(), activity).await?;
    tenant.commit().await?;
    Ok(Json(view))
}

#[derive(Serialize, ToSchema)]
pub struct UnassignedView {
    pub activity: ActivityView,
    /// The Open activity in the CRM waiting to be linked.
    pub crm_activity_id: Uuid,
    pub since: DateTime<Utc>,
}

/// Unassigned Activities: the rep's items written Open because the person matched no CRM record.
#[utoipa::path(get, path = "/api/v1/me/unassigned", tag = "rep",
    params(PageQuery),
    responses((status = 200, description = "The rep's unassigned activities, oldest first", body = Page<UnassignedView>)))]
pub(crate) async fn my_unassigned(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictQuery(page): StrictQuery<PageQuery>,
) -> Result<Json<Page<UnassignedView>>, Problem> {
    let mut tenant = rep.caller.tenant(&state);
    let page = page.slice(tenant.unassigned_activities(Some(rep.seat)).await?)?;
    let mut threads = Threads::default();
    let mut items = Vec::with_capacity(page.items.len());
    for unassigned in page.items {
        if let Some(activity) = tenant.activity(unassigned.activity).await? {
            items.push(UnassignedView {
                activity: activity_view(&mut tenant, &mut threads, activity).await?,
                crm_activity_id: unassigned.crm_activity.0,
                since: unassigned.since,
            });
        }
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolveAction {
    /// Create the person as a contact in the CRM.
    CreateContact,
    /// Create the person as a lead in the CRM.
    CreateLead,
    /// Link to an existing CRM record (`crm_table` and `crm_id`).
    Link,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    pub action: ResolveAction,
    pub crm_table: Option<CrmTableWire>,
    pub crm_id: Option<Uuid>,
}

fn resolution(body: &ResolveBody) -> Result<Resolve, Problem> {
    match (body.action, body.crm_table, body.crm_id) {
        (ResolveAction::Link, Some(table), Some(id)) => Ok(Resolve::Link(match table {
            CrmTableWire::Contact => Regarding::Contact(id.into()),
            CrmTableWire::Lead => Regarding::Lead(id.into()),
            CrmTableWire::Account => Regarding::Account(id.into()),
        })),
        (ResolveAction::Link, _, _) => Err(Problem::new(ProblemCode::ValidationFailed)
            .field("crm_id", "linking needs crm_table and crm_id")),
        (_, None, None) => Ok(Resolve::Create(match body.action {
            ResolveAction::CreateContact => Resolution::CreatedContact,
            _ => Resolution::CreatedLead,
        })),
        _ => Err(Problem::new(ProblemCode::ValidationFailed)
            .field("crm_id", "creating a record takes no crm_table or crm_id")),
    }
}

/// Resolves an unassigned activity: create the contact or lead in the CRM, or link an existing
/// record; the activity is then linked and closed.
#[utoipa::path(post, path = "/api/v1/activities/{id}/resolve", tag = "rep",
    params(("id" = Uuid, Path, description = "The activity's id")),
    request_body = ResolveBody,
    responses((status = 202, description = "Being resolved; follow it on the activity's timeline")))]
pub(crate) async fn resolve(
    rep: SeatHolder,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(body): StrictJson<ResolveBody>,
) -> Result<StatusCode, Problem> {
    let resolve = resolution(&body)?;
    let mut tenant = rep.caller.tenant(&state);
    let activity = own_activity(&mut tenant, &rep, id).await?;
    let unassigned = tenant
        .writeback_record(activity.id)
        .await?
        .is_some_and(|r| matches!(r.state, WritebackState::Unassigned { .. }));
    if !unassigned {
        return Err(Problem::new(ProblemCode::Conflict)
            .detail("This activity is not in Unassigned Activities."));
    }
    state
        .sync
        .resolve_unassigned(rep.caller.user.tenant, activity.id, resolve)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_note))
        .routes(routes!(add_message))
        .routes(routes!(my_activities))
        .routes(routes!(update_activity))
        .routes(routes!(my_unassigned))
        .routes(routes!(resolve))
}
