//! Admin Settings → CRM Settings: the connection's state with the guide's texts (and a progress
//! bar that polls while a sync runs), Connect to CRM in both modes, the three questions with the
//! org's own choices and the what-if counts, writeback with Get it now, and Disconnect CRM Sync
//! with its purge receipt. Every action calls the `/api/v1/admin/crm` handler that does it.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::activity::ActivityKind;
use domain::settings::{PipelineStage, WonValueField, WritebackItems};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use crate::api::crm::{
    self as api, ConnectBody, ConnectMode, CrmState, CrmStatus, DisconnectBody, PurgeReceiptView,
    SignInCallback,
};
use crate::api::crm_settings::{
    self as settings_api, CrmSettingsBody, CrmSettingsView, ItemsAnswer, PreviewQuery, PreviewView,
    StageAnswer, WonAnswer, WritebackAnswer,
};
use crate::json::{SecretText, StrictJson, StrictQuery};
use crate::problem::{FieldError, Problem};
use crate::state::AppState;
use crate::ui::error::{Described, OrPage, UiError, describe_crm_message, describe_problem};
use crate::ui::i18n::Tr;
use crate::ui::session::{AdminViewer, Form, is_htmx};
use crate::ui::{Chrome, with_notice};

const NOT_SURE: &str = "not_sure";

/// The connection's state as the page shows it.
pub struct StatusView {
    pub connected: bool,
    pub syncing: bool,
    /// The first sync after connecting ("Successfully connected, sync in progress").
    pub first_sync: bool,
    pub org_url: Option<String>,
    pub connected_as: Option<String>,
    /// Who signed in, for a connection made by an admin's sign-in.
    pub signed_in_admin: Option<String>,
    /// The catalogue key of how leadbridge signs in.
    pub mode_key: &'static str,
    pub connected_at: Option<String>,
    pub last_sync: Option<String>,
    pub progress: Option<ProgressView>,
    pub error: Option<Described>,
    pub companion_installed: bool,
    pub companion_version: Option<String>,
    pub acts_for_reps: bool,
}

pub struct ProgressView {
    pub phase: String,
    pub done: u64,
    pub total: Option<u64>,
    pub percent: Option<u64>,
    pub eta: Option<String>,
}

fn eta_text(t: Tr, seconds: u64) -> String {
    if seconds < 60 {
        t.t("crm.eta_soon").into_owned()
    } else {
        t.t1("crm.eta_minutes", "minutes", seconds.div_ceil(60))
    }
}

fn status_view(t: Tr, status: &CrmStatus) -> StatusView {
    let connection = status.connection.as_ref();
    StatusView {
        connected: status.state != CrmState::NotConnected,
        syncing: status.state == CrmState::Syncing,
        first_sync: status.sync.as_ref().is_some_and(|s| s.trigger == "connect"),
        org_url: connection.map(|c| c.org_url.clone()),
        connected_as: connection.and_then(|c| c.connected_as.clone()),
        signed_in_admin: connection.and_then(|c| c.admin_user_name.clone()),
        mode_key: match connection.map(|c| c.mode) {
            Some(ConnectMode::Delegated) => "crm.mode_delegated",
            _ => "crm.mode_application",
        },
        connected_at: connection.map(|c| t.datetime(&c.connected_at)),
        last_sync: status.last_sync_at.as_ref().map(|at| t.datetime(at)),
        progress: status.sync.as_ref().map(|s| ProgressView {
            phase: s.phase.clone(),
            done: s.done,
            total: s.total,
            percent: s
                .total
                .filter(|total| *total > 0)
                .map(|total| (s.done.min(total) * 100) / total),
            eta: s.eta_seconds.map(|seconds| eta_text(t, seconds)),
        }),
        error: status
            .last_error
            .as_ref()
            .map(|e| describe_crm_message(t, &e.message, e.next_step.as_deref())),
        companion_installed: connection.is_some_and(|c| c.companion_app.installed),
        companion_version: connection.and_then(|c| c.companion_app.version.clone()),
        acts_for_reps: connection.is_some_and(|c| c.can_act_on_behalf_of_reps),
    }
}

/// What the admin typed into Connect to CRM (never the secret: it is typed again).
#[derive(Default)]
pub struct ConnectForm {
    pub delegated: bool,
    pub org_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub authority_url: String,
    pub ca_cert: String,
    pub errors: Vec<FieldError>,
}

impl ConnectForm {
    /// The form as the server's configuration starts it.
    fn prefilled(state: &AppState) -> ConnectForm {
        match &state.config.connect_defaults {
            Some(d) => ConnectForm {
                delegated: d.delegated,
                org_url: d.org_url.clone(),
                tenant_id: d.tenant_id.clone(),
                client_id: d.client_id.clone(),
                authority_url: d.authority_url.clone(),
                ..ConnectForm::default()
            },
            None => ConnectForm::default(),
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.path == field)
            .map(|e| e.message.as_str())
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The three questions and writeback, as answered or as being answered.
pub struct SettingsForm {
    pub answered: bool,
    pub auto_sync: bool,
    pub stage: String,
    pub stages: Vec<Choice>,
    pub won: String,
    pub money_columns: Vec<Choice>,
    pub writeback: bool,
    pub items_all: bool,
    pub inmail: bool,
    pub message: bool,
    pub note: bool,
    /// Why the org's own choices could not be read (only Not Sure is offered then).
    pub choices_error: Option<Described>,
    pub preview: Option<PreviewView>,
    pub errors: Vec<FieldError>,
}

impl SettingsForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.path == field)
            .map(|e| e.message.as_str())
    }
}

fn stage_word(stage: &StageAnswer) -> String {
    match stage.0 {
        PipelineStage::Stage(v) => v.to_string(),
        PipelineStage::NotSure => NOT_SURE.to_owned(),
    }
}

fn won_word(won: &WonAnswer) -> String {
    match &won.0 {
        WonValueField::Column(c) => c.clone(),
        WonValueField::NotSure => NOT_SURE.to_owned(),
    }
}

fn settings_form(view: &CrmSettingsView) -> SettingsForm {
    let chosen = |kind| match &view.writeback.items.0 {
        WritebackItems::All => true,
        WritebackItems::Chosen(kinds) => kinds.contains(&kind),
    };
    SettingsForm {
        answered: view.answered,
        auto_sync: view.auto_sync_all_seats,
        stage: stage_word(&view.pipeline_stage),
        stages: Vec::new(),
        won: won_word(&view.won_value_field),
        money_columns: Vec::new(),
        writeback: view.writeback.enabled,
        items_all: view.writeback.items.0 == WritebackItems::All,
        inmail: chosen(ActivityKind::InMail),
        message: chosen(ActivityKind::Message),
        note: chosen(ActivityKind::Note),
        choices_error: None,
        preview: None,
        errors: Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "ui/crm.html")]
struct CrmPage {
    t: Tr,
    c: Chrome,
    status: StatusView,
    connect: ConnectForm,
    settings: Option<SettingsForm>,
    /// What went wrong with the action just tried.
    error: Option<Described>,
}

#[derive(Template)]
#[template(path = "ui/crm_status.html")]
struct StatusFragment {
    t: Tr,
    status: StatusView,
}

#[derive(Template)]
#[template(path = "ui/crm_preview.html")]
struct PreviewFragment {
    t: Tr,
    preview: Option<PreviewView>,
}

/// What the page shows besides its forms' values.
struct Loaded {
    status: StatusView,
    settings: Option<SettingsForm>,
}

async fn load(state: &AppState, admin: &AdminViewer) -> Result<Loaded, UiError> {
    let t = admin.0.t;
    let status = api::status(admin.api(), State(state.clone()))
        .await
        .or_page(t)?
        .0;
    let status_view = status_view(t, &status);
    if !status_view.connected {
        return Ok(Loaded {
            status: status_view,
            settings: None,
        });
    }
    let view = settings_api::get_settings(admin.api(), State(state.clone()))
        .await
        .or_page(t)?
        .0;
    let mut form = settings_form(&view);
    fill_choices(state, admin, &mut form).await;
    Ok(Loaded {
        status: status_view,
        settings: Some(form),
    })
}

/// The org's stages and money columns, and the what-if counts of the stage shown.
async fn fill_choices(state: &AppState, admin: &AdminViewer, form: &mut SettingsForm) {
    let t = admin.0.t;
    // The org's choices (CRM reads) and the what-if counts (the mirror) at once.
    let stage = parse_stage(&form.stage).ok();
    let preview = async {
        match stage {
            Some(stage) => preview_of(state, admin, stage).await,
            None => None,
        }
    };
    let (choices, preview) = tokio::join!(
        settings_api::choices(admin.api(), State(state.clone())),
        preview
    );
    form.preview = preview;
    match choices {
        Ok(choices) => {
            form.stages = choices
                .0
                .stages
                .iter()
                .map(|s| Choice {
                    value: s.value.to_string(),
                    label: s.label.clone(),
                })
                .collect();
            form.money_columns = choices
                .0
                .money_columns
                .iter()
                .map(|c| Choice {
                    value: c.logical_name.clone(),
                    label: c.label.clone(),
                })
                .collect();
        }
        Err(problem) => form.choices_error = Some(describe_problem(t, &problem)),
    }
}

async fn preview_of(
    state: &AppState,
    admin: &AdminViewer,
    stage: StageAnswer,
) -> Option<PreviewView> {
    settings_api::preview(
        admin.api(),
        State(state.clone()),
        StrictQuery(PreviewQuery {
            pipeline_stage: stage,
        }),
    )
    .await
    .ok()
    .map(|json| json.0)
}

fn parse_stage(word: &str) -> Result<StageAnswer, ()> {
    if word == NOT_SURE {
        Ok(StageAnswer(PipelineStage::NotSure))
    } else {
        word.trim()
            .parse::<i32>()
            .map(|v| StageAnswer(PipelineStage::Stage(v)))
            .map_err(|_| ())
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn render(page: CrmPage, status: StatusCode) -> Result<Response, UiError> {
    let t = page.t;
    Ok((status, Html(page.render().or_page(t)?)).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let loaded = load(&state, &admin).await?;
    render(
        CrmPage {
            t,
            c: Chrome::of(&admin.0, "crm").notice(t, query.notice.as_deref()),
            status: loaded.status,
            connect: ConnectForm::prefilled(&state),
            settings: loaded.settings,
            error: None,
        },
        StatusCode::OK,
    )
}

/// The status block alone, for htmx to poll while a sync runs. When the sync has finished, the
/// whole page reloads: the org's choices and counts may have changed with it.
pub async fn status_fragment(
    State(state): State<AppState>,
    admin: AdminViewer,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let status = api::status(admin.api(), State(state.clone()))
        .await
        .or_page(t)?
        .0;
    let status = status_view(t, &status);
    let finished = !status.syncing;
    let fragment = StatusFragment { t, status };
    let mut response = Html(fragment.render().or_page(t)?).into_response();
    if finished && is_htmx(&headers) {
        response
            .headers_mut()
            .insert("hx-refresh", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The page again after a failed action, with what the admin typed and what went wrong.
async fn again(
    state: &AppState,
    admin: &AdminViewer,
    problem: &Problem,
    connect: ConnectForm,
    settings: Option<SettingsForm>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let loaded = load(state, admin).await?;
    let error = describe_problem(t, problem);
    render(
        CrmPage {
            t,
            c: Chrome::of(&admin.0, "crm"),
            status: loaded.status,
            connect,
            settings: settings.or(loaded.settings),
            error: Some(error),
        },
        problem.status(),
    )
}

/// A field's complaint in the page's language: the catalogue's hint for fields we know.
fn field_errors(t: Tr, prefix: &str, problem: &Problem) -> Vec<FieldError> {
    problem
        .errors
        .iter()
        .map(|e| {
            let key = format!("{prefix}.{}", e.path.replace('.', "_"));
            FieldError {
                path: e.path.clone(),
                message: if crate::ui::i18n::has(&key) {
                    t.t(&key).into_owned()
                } else {
                    e.message.clone()
                },
                line: None,
            }
        })
        .collect()
}

fn optional(text: Option<String>) -> Option<String> {
    text.filter(|s| !s.is_empty())
}

pub async fn connect(
    State(state): State<AppState>,
    admin: AdminViewer,
    form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let delegated = form.get("mode") == Some("delegated");
    let typed = ConnectForm {
        delegated,
        org_url: form.get("org_url").unwrap_or_default().to_owned(),
        tenant_id: form.get("tenant_id").unwrap_or_default().to_owned(),
        client_id: form.get("client_id").unwrap_or_default().to_owned(),
        authority_url: form.get("authority_url").unwrap_or_default().to_owned(),
        ca_cert: form.get("ca_cert").unwrap_or_default().to_owned(),
        errors: Vec::new(),
    };
    let body = ConnectBody {
        mode: if delegated {
            ConnectMode::Delegated
        } else {
            ConnectMode::Application
        },
        org_url: typed.org_url.clone(),
        tenant_id: typed.tenant_id.clone(),
        client_id: typed.client_id.clone(),
        client_secret: optional(form.get("client_secret").map(str::to_owned))
            .map(|s| SecretText(s.into())),
        authority_url: optional(form.text("authority_url")),
        ca_cert: optional(form.text("ca_cert")),
    };
    match api::connect(admin.api(), State(state.clone()), StrictJson(body)).await {
        Ok(response) => match response.0.sign_in_url {
            Some(url) => Ok(Redirect::to(&url).into_response()),
            None => Ok(Redirect::to(&with_notice("/admin/crm", "connected")).into_response()),
        },
        Err(problem) => {
            let typed = ConnectForm {
                errors: field_errors(t, "crm.invalid", &problem),
                ..typed
            };
            again(&state, &admin, &problem, typed, None).await
        }
    }
}

/// Where Microsoft Entra (or the emulator's authorize page) sends the admin back.
pub async fn connect_callback(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(callback): Query<SignInCallback>,
) -> Result<Response, UiError> {
    match api::connect_callback(admin.api(), State(state.clone()), StrictQuery(callback)).await {
        Ok(_) => Ok(Redirect::to(&with_notice("/admin/crm", "connected")).into_response()),
        Err(problem) => again(&state, &admin, &problem, ConnectForm::default(), None).await,
    }
}

pub async fn sync_now(
    State(state): State<AppState>,
    admin: AdminViewer,
    _form: Form,
) -> Result<Response, UiError> {
    match api::sync_now(admin.api(), State(state.clone())).await {
        Ok(_) => Ok(Redirect::to(&with_notice("/admin/crm", "sync_started")).into_response()),
        Err(problem) => again(&state, &admin, &problem, ConnectForm::default(), None).await,
    }
}

pub async fn install_app(
    State(state): State<AppState>,
    admin: AdminViewer,
    _form: Form,
) -> Result<Response, UiError> {
    match api::install_companion_app(admin.api(), State(state.clone())).await {
        Ok(_) => Ok(Redirect::to(&with_notice("/admin/crm", "app_installed")).into_response()),
        Err(problem) => again(&state, &admin, &problem, ConnectForm::default(), None).await,
    }
}

#[derive(Template)]
#[template(path = "ui/crm_disconnected.html")]
struct DisconnectedPage {
    t: Tr,
    c: Chrome,
    receipt: PurgeReceiptView,
}

pub async fn disconnect(
    State(state): State<AppState>,
    admin: AdminViewer,
    form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let purge = form.ticked("purge");
    match api::disconnect(
        admin.api(),
        State(state.clone()),
        StrictJson(DisconnectBody { purge }),
    )
    .await
    {
        Ok(done) => match done.0.purge_receipt {
            Some(receipt) => {
                let page = DisconnectedPage {
                    t,
                    c: Chrome::of(&admin.0, "crm"),
                    receipt,
                };
                Ok(Html(page.render().or_page(t)?).into_response())
            }
            None => Ok(Redirect::to(&with_notice("/admin/crm", "disconnected")).into_response()),
        },
        Err(problem) => again(&state, &admin, &problem, ConnectForm::default(), None).await,
    }
}

pub async fn save_settings(
    State(state): State<AppState>,
    admin: AdminViewer,
    form: Form,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let mut typed = SettingsForm {
        answered: true,
        auto_sync: form.get("auto_sync") == Some("yes"),
        stage: form.get("pipeline_stage").unwrap_or(NOT_SURE).to_owned(),
        stages: Vec::new(),
        won: form.get("won_value_field").unwrap_or(NOT_SURE).to_owned(),
        money_columns: Vec::new(),
        writeback: form.get("writeback") == Some("yes"),
        items_all: form.get("items") != Some("chosen"),
        inmail: form.ticked("item_inmail"),
        message: form.ticked("item_message"),
        note: form.ticked("item_note"),
        choices_error: None,
        preview: None,
        errors: Vec::new(),
    };
    let stage = match parse_stage(&typed.stage) {
        Ok(stage) => stage,
        Err(()) => {
            let problem = Problem::new(crate::problem::ProblemCode::ValidationFailed)
                .field("pipeline_stage", t.t("crm.invalid.pipeline_stage"));
            typed.errors = field_errors(t, "crm.invalid", &problem);
            fill_choices(&state, &admin, &mut typed).await;
            return again(
                &state,
                &admin,
                &problem,
                ConnectForm::default(),
                Some(typed),
            )
            .await;
        }
    };
    let won = WonAnswer(if typed.won == NOT_SURE {
        WonValueField::NotSure
    } else {
        WonValueField::Column(typed.won.clone())
    });
    let items = if typed.items_all {
        WritebackItems::All
    } else {
        let chosen = [
            (typed.inmail, ActivityKind::InMail),
            (typed.message, ActivityKind::Message),
            (typed.note, ActivityKind::Note),
        ];
        WritebackItems::Chosen(
            chosen
                .into_iter()
                .filter(|(ticked, _)| *ticked)
                .map(|(_, kind)| kind)
                .collect::<BTreeSet<_>>(),
        )
    };
    let body = CrmSettingsBody {
        auto_sync_all_seats: typed.auto_sync,
        pipeline_stage: stage,
        won_value_field: won,
        writeback: WritebackAnswer {
            enabled: typed.writeback,
            items: ItemsAnswer(items),
        },
    };
    match settings_api::put_settings(admin.api(), State(state.clone()), StrictJson(body)).await {
        Ok(_) => Ok(Redirect::to(&with_notice("/admin/crm", "settings_saved")).into_response()),
        Err(problem) => {
            typed.errors = field_errors(t, "crm.invalid", &problem);
            fill_choices(&state, &admin, &mut typed).await;
            again(
                &state,
                &admin,
                &problem,
                ConnectForm::default(),
                Some(typed),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct PreviewParams {
    pipeline_stage: Option<String>,
}

/// The what-if counts beside the stage question, refreshed by htmx when the choice changes.
pub async fn preview(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(params): Query<PreviewParams>,
) -> Result<Response, UiError> {
    let t = admin.0.t;
    let preview = match parse_stage(params.pipeline_stage.as_deref().unwrap_or(NOT_SURE)) {
        Ok(stage) => preview_of(&state, &admin, stage).await,
        Err(()) => None,
    };
    let fragment = PreviewFragment { t, preview };
    Ok(Html(fragment.render().or_page(t)?).into_response())
}
