//! The admins' sync dashboard: charts of records imported and activities written per day by
//! outcome, throttling and errors; recent sync runs with their errors; the job queue with its dead
//! letters (and requeueing one); writebacks that need attention, each with its timeline.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::activity::ActivityAbout;
use domain::ids::ActivityId;
use serde::Deserialize;
use store::jobs::{JobId, JobState};
use store::sync_runs::{SyncOutcome, SyncTrigger};
use uuid::Uuid;

use crate::api::activities::writeback_view;
use crate::state::AppState;
use crate::sync_stats::{ImportOutcome, WriteOutcome, daily_stats};
use crate::ui::charts::{Chart, stacked};
use crate::ui::crm_records::org_url;
use crate::ui::error::{OrPage, UiError};
use crate::ui::i18n::Tr;
use crate::ui::person::{WritebackRow, writeback_row};
use crate::ui::rep::path_id;
use crate::ui::session::{AdminViewer, Form};
use crate::ui::{Chrome, with_notice};

/// Days the charts cover, up to today.
const DAYS: usize = 14;
/// Sync runs listed.
const RUNS_SHOWN: u32 = 20;
/// Jobs listed per state.
const JOBS_SHOWN: u32 = 100;
/// Writebacks needing attention listed.
const ATTENTION_SHOWN: u32 = 50;

pub struct RunRow {
    pub trigger_key: &'static str,
    pub outcome_key: &'static str,
    pub started: String,
    pub finished: Option<String>,
    pub rows: u64,
    pub error: Option<String>,
    pub errors: Vec<String>,
}

pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub state_key: &'static str,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: String,
    pub last_error: Option<String>,
}

pub struct AttentionRow {
    pub activity: Uuid,
    pub state_key: String,
}

#[derive(Template)]
#[template(path = "ui/dashboard.html")]
struct DashboardPage {
    t: Tr,
    c: Chrome,
    charts: Vec<Chart>,
    runs: Vec<RunRow>,
    jobs: Vec<JobRow>,
    dead: Vec<JobRow>,
    attention: Vec<AttentionRow>,
}

fn trigger_key(trigger: SyncTrigger) -> &'static str {
    match trigger {
        SyncTrigger::Connect => "dashboard.trigger.connect",
        SyncTrigger::Schedule => "dashboard.trigger.schedule",
        SyncTrigger::SyncNow => "dashboard.trigger.sync_now",
    }
}

fn outcome_key(outcome: Option<SyncOutcome>) -> &'static str {
    match outcome {
        None => "dashboard.import.running",
        Some(SyncOutcome::Succeeded) => "dashboard.import.succeeded",
        Some(SyncOutcome::Failed) => "dashboard.import.failed",
        Some(SyncOutcome::Interrupted) => "dashboard.import.interrupted",
    }
}

fn job_state_key(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "dashboard.job.queued",
        JobState::Running => "dashboard.job.running",
        JobState::Dead => "dashboard.job.dead",
    }
}

fn job_row(t: Tr, job: store::jobs::JobInfo) -> JobRow {
    JobRow {
        id: job.id.0,
        kind: job.kind,
        state_key: job_state_key(job.state),
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        run_at: t.datetime(&job.run_at),
        last_error: job.last_error,
    }
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let mut tenant = admin.0.caller.tenant(&state);
    let stats = daily_stats(&mut tenant, state.store.now().date_naive(), DAYS)
        .await
        .or_page(t)?;
    let days: Vec<String> = stats.days.iter().map(|d| t.date(d)).collect();
    let charts = vec![
        stacked(
            "imported",
            t.t("dashboard.chart_imported").into_owned(),
            days.clone(),
            ImportOutcome::ALL
                .iter()
                .map(|o| {
                    (
                        t.t(&format!("dashboard.import.{}", o.word())).into_owned(),
                        stats.imported.get(o).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        ),
        stacked(
            "written",
            t.t("dashboard.chart_written").into_owned(),
            days.clone(),
            WriteOutcome::ALL
                .iter()
                .map(|o| {
                    (
                        t.t(&format!("dashboard.write.{}", o.word())).into_owned(),
                        stats.written.get(o).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        ),
        stacked(
            "problems",
            t.t("dashboard.chart_problems").into_owned(),
            days,
            vec![
                (
                    t.t("dashboard.throttled").into_owned(),
                    stats.throttled.clone(),
                ),
                (t.t("dashboard.errors").into_owned(), stats.errors.clone()),
            ],
        ),
    ];

    let mut runs = Vec::new();
    for run in tenant.sync_runs(RUNS_SHOWN).await.or_page(t)? {
        let errors = tenant
            .sync_run_errors(run.id)
            .await
            .or_page(t)?
            .into_iter()
            .map(|e| format!("{} · {}", t.datetime(&e.at), e.message))
            .collect();
        runs.push(RunRow {
            trigger_key: trigger_key(run.trigger),
            outcome_key: outcome_key(run.outcome),
            started: t.datetime(&run.started_at),
            finished: run.finished_at.as_ref().map(|at| t.datetime(at)),
            rows: run.rows_done,
            error: run.error,
            errors,
        });
    }
    let mut jobs = Vec::new();
    for state in [JobState::Running, JobState::Queued] {
        jobs.extend(
            tenant
                .jobs(Some(state), JOBS_SHOWN)
                .await
                .or_page(t)?
                .into_iter()
                .map(|j| job_row(t, j)),
        );
    }
    let dead = tenant
        .jobs(Some(JobState::Dead), JOBS_SHOWN)
        .await
        .or_page(t)?
        .into_iter()
        .map(|j| job_row(t, j))
        .collect();
    let attention = tenant
        .writebacks_in_state(
            &["failed", "pending", "removal_pending", "unassigned"],
            ATTENTION_SHOWN,
        )
        .await
        .or_page(t)?
        .into_iter()
        .map(|(activity, state)| AttentionRow {
            activity: activity.as_uuid(),
            state_key: format!("writeback.state.{}", store::writeback::state_word(&state)),
        })
        .collect();
    let page = DashboardPage {
        t,
        c: Chrome::of(&admin.0, "sync").notice(t, query.notice.as_deref()),
        charts,
        runs,
        jobs,
        dead,
        attention,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

/// Gives a dead-lettered job a fresh set of attempts.
pub async fn requeue(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<String>,
    _form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let id = path_id(t, &id)?;
    admin
        .0
        .caller
        .tenant(&state)
        .requeue_dead_job(JobId(id))
        .await
        .or_page(t)?;
    Ok(Redirect::to(&with_notice("/admin/sync", "job_requeued")).into_response())
}

#[derive(Template)]
#[template(path = "ui/timeline.html")]
struct TimelinePage {
    t: Tr,
    c: Chrome,
    kind_key: &'static str,
    body: String,
    written_at: String,
    holder: Option<String>,
    person: Option<(Uuid, String)>,
    writeback: Option<WritebackRow>,
}

/// One activity's writeback, with its whole timeline, for an admin.
pub async fn timeline(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let id = ActivityId(path_id(t, &id)?);
    let mut tenant = admin.0.caller.tenant(&state);
    let activity = tenant
        .activity(id)
        .await
        .or_page(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let org = org_url(&mut tenant).await.or_page(t)?;
    let writeback = tenant
        .writeback_record(id)
        .await
        .or_page(t)?
        .map(|record| writeback_row(t, org.as_deref(), &writeback_view(&record)));
    let holder = tenant
        .seat(activity.seat)
        .await
        .or_page(t)?
        .map(|s| s.holder_name);
    let person = match activity.about {
        ActivityAbout::Person(p) => tenant
            .person(p)
            .await
            .or_page(t)?
            .map(|r| (p.as_uuid(), r.person.full_name)),
        ActivityAbout::Company(_) => None,
    };
    let page = TimelinePage {
        t,
        c: Chrome::of(&admin.0, "sync"),
        kind_key: match activity.kind {
            domain::activity::ActivityKind::Note => "kind.note",
            domain::activity::ActivityKind::Message => "kind.message",
            domain::activity::ActivityKind::InMail => "kind.inmail",
        },
        body: activity.body,
        written_at: t.datetime(&activity.written_at),
        holder,
        person,
        writeback,
    };
    Ok(Html(page.render().or_page(t)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::has;

    #[test]
    fn every_dashboard_word_has_a_text() {
        for o in ImportOutcome::ALL {
            assert!(has(&format!("dashboard.import.{}", o.word())));
        }
        for o in WriteOutcome::ALL {
            assert!(has(&format!("dashboard.write.{}", o.word())));
        }
        for trigger in [
            SyncTrigger::Connect,
            SyncTrigger::Schedule,
            SyncTrigger::SyncNow,
        ] {
            assert!(has(trigger_key(trigger)));
        }
        for state in [JobState::Queued, JobState::Running, JobState::Dead] {
            assert!(has(job_state_key(state)));
        }
    }
}
