//! Admin, CRM connection: its state (org, identity, last sync, a running sync's progress, the last
//! error with its next step), connect (application user, or an admin's sign-in), disconnect with
//! the purge receipt, sync now, and the companion app.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::crm::{CompanionApp, CrmAuth};
use domain::purge::PurgeReceipt;
use serde::{Deserialize, Serialize};
use store::crm::ConnectionInfo;
use store::sync_runs::{SyncRun, SyncTrigger};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::json::{SecretText, StrictJson, StrictQuery};
use crate::problem::{FieldError, Problem, ProblemCode};
use crate::state::AppState;
use crate::sync::{ConnectOutcome, ConnectRequest};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrmState {
    NotConnected,
    /// Connected; see `sync` for a running sync and `last_error` for a failed one.
    Connected,
    /// Connected and a sync is running.
    Syncing,
    /// Connected, and the last attempt failed: see `last_error`.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectMode {
    /// An application user (client credentials).
    Application,
    /// An admin signed in; leadbridge keeps a refresh token.
    Delegated,
}

#[derive(Serialize, ToSchema)]
pub struct CompanionAppView {
    /// "leadbridge for Dynamics", which holds the activity tables writeback needs.
    pub installed: bool,
    pub version: Option<String>,
}

impl From<&CompanionApp> for CompanionAppView {
    fn from(app: &CompanionApp) -> Self {
        match app {
            CompanionApp::Installed { version } => CompanionAppView {
                installed: true,
                version: Some(version.clone()),
            },
            CompanionApp::Missing => CompanionAppView {
                installed: false,
                version: None,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionView {
    pub org_url: String,
    pub mode: ConnectMode,
    /// The Microsoft Entra tenant (application user).
    pub tenant_id: Option<String>,
    /// The app registration (application user).
    pub client_id: Option<String>,
    /// Who signed in (delegated).
    pub admin_user_name: Option<String>,
    /// The identity leadbridge acts as in the CRM.
    pub connected_as: Option<String>,
    pub connected_at: DateTime<Utc>,
    pub companion_app: CompanionAppView,
    /// Whether writeback can write on behalf of the rep, so the rep shows as creator too.
    pub can_act_on_behalf_of_reps: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SyncProgress {
    /// What the sync is doing, e.g. "Reading contacts".
    pub phase: String,
    /// `connect`, `schedule` or `sync_now`.
    pub trigger: &'static str,
    pub started_at: DateTime<Utc>,
    pub done: u64,
    pub total: Option<u64>,
    /// Estimated seconds left, from the pace so far.
    pub eta_seconds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct CrmErrorView {
    pub message: String,
    pub next_step: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CrmStatus {
    pub state: CrmState,
    pub connection: Option<ConnectionView>,
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The running sync.
    pub sync: Option<SyncProgress>,
    pub last_error: Option<CrmErrorView>,
}

fn trigger_word(trigger: SyncTrigger) -> &'static str {
    match trigger {
        SyncTrigger::Connect => "connect",
        SyncTrigger::Schedule => "schedule",
        SyncTrigger::SyncNow => "sync_now",
    }
}

fn progress(run: &SyncRun, now: DateTime<Utc>) -> SyncProgress {
    let eta_seconds = match run.rows_total {
        Some(total) if run.rows_done > 0 && total >= run.rows_done => {
            let elapsed = u64::try_from(now.signed_duration_since(run.started_at).num_seconds())
                .unwrap_or_default();
            let left = total - run.rows_done;
            Some(elapsed.saturating_mul(left) / run.rows_done)
        }
        _ => None,
    };
    SyncProgress {
        phase: run.phase.clone(),
        trigger: trigger_word(run.trigger),
        started_at: run.started_at,
        done: run.rows_done,
        total: run.rows_total,
        eta_seconds,
    }
}

fn connection_view(info: &ConnectionInfo) -> ConnectionView {
    let c = &info.connection;
    let (mode, tenant_id, client_id, admin_user_name) = match &c.auth {
        CrmAuth::ApplicationUser {
            entra_tenant,
            client_id,
        } => (
            ConnectMode::Application,
            Some(entra_tenant.clone()),
            Some(client_id.clone()),
            None,
        ),
        CrmAuth::SignedInAdmin { admin_user_name } => (
            ConnectMode::Delegated,
            None,
            None,
            Some(admin_user_name.clone()),
        ),
    };
    let connected_at = match &c.status {
        domain::crm::ConnectionStatus::Connected { since, .. } => *since,
        domain::crm::ConnectionStatus::Disconnected { at, .. } => *at,
    };
    ConnectionView {
        org_url: c.org_url.clone(),
        mode,
        tenant_id,
        client_id,
        admin_user_name,
        connected_as: info.connected_as.clone(),
        connected_at,
        companion_app: (&c.companion_app).into(),
        can_act_on_behalf_of_reps: c.can_act_on_behalf_of_reps,
    }
}

/// The CRM Settings page's header: connection, last sync date, progress, last error.
#[utoipa::path(get, path = "/api/v1/admin/crm", tag = "admin: crm",
    responses((status = 200, description = "The CRM connection's state", body = CrmStatus)))]
pub(crate) async fn status(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<Json<CrmStatus>, Problem> {
    let mut tenant = admin.0.tenant(&state);
    let Some(live) = tenant.live_connection().await? else {
        return Ok(Json(CrmStatus {
            state: CrmState::NotConnected,
            connection: None,
            last_sync_at: None,
            sync: None,
            last_error: None,
        }));
    };
    let (last_sync_at, last_error) = match &live.connection.status {
        domain::crm::ConnectionStatus::Connected {
            last_sync,
            last_error,
            ..
        } => (*last_sync, last_error.clone()),
        domain::crm::ConnectionStatus::Disconnected { .. } => (None, None),
    };
    let running = tenant
        .sync_runs(1)
        .await?
        .into_iter()
        .find(|run| run.connection == live.connection.id && run.outcome.is_none());
    let sync = running.as_ref().map(|run| progress(run, state.store.now()));
    let state_now = if sync.is_some() {
        CrmState::Syncing
    } else if last_error.is_some() {
        CrmState::Error
    } else {
        CrmState::Connected
    };
    Ok(Json(CrmStatus {
        state: state_now,
        connection: Some(connection_view(&live)),
        last_sync_at,
        sync,
        last_error: last_error.map(|message| CrmErrorView {
            message,
            next_step: live.last_error_next_step.clone(),
        }),
    }))
}

/// How to connect. `client_secret` is stored encrypted and never shown again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    pub mode: ConnectMode,
    /// The environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    /// The Microsoft Entra tenant id (or its domain).
    pub tenant_id: String,
    /// The app registration's application (client) id.
    pub client_id: String,
    /// Required for an application user; for a delegated sign-in only with a confidential app.
    #[schema(value_type = Option<String>, format = Password)]
    pub client_secret: Option<SecretText>,
    /// The sign-in authority when it is not `https://login.microsoftonline.com`.
    pub authority_url: Option<String>,
    /// A PEM CA certificate to trust for the org and the authority (private clouds).
    pub ca_cert: Option<String>,
}

const MAX_SECRET_BYTES: usize = 1024;
const MAX_CA_CERT_BYTES: usize = 64 * 1024;

fn https_url(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<url::Url> {
    let error = |errors: &mut Vec<FieldError>, message: &str| {
        errors.push(FieldError {
            path: field.to_owned(),
            message: message.to_owned(),
            line: None,
        });
        None
    };
    match url::Url::parse(text.trim()) {
        Err(_) => error(
            errors,
            "must be a URL such as https://contoso.crm.dynamics.com",
        ),
        Ok(url) if url.scheme() != "https" => error(errors, "must be an https:// URL"),
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            error(errors, "must not carry a user name or password")
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            error(errors, "must not have a query or fragment")
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => error(errors, "must name a host"),
        Ok(url) => Some(url),
    }
}

fn check_connect(body: ConnectBody) -> Result<ConnectRequest, Problem> {
    let mut errors = Vec::new();
    let mut field = |path: &str, message: &str| {
        errors.push(FieldError {
            path: path.to_owned(),
            message: message.to_owned(),
            line: None,
        })
    };
    let tenant_id = body.tenant_id.trim().to_owned();
    if tenant_id.is_empty()
        || tenant_id.len() > 100
        || !tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        field(
            "tenant_id",
            "must be the Entra tenant id (a GUID) or its domain, e.g. contoso.onmicrosoft.com",
        );
    }
    let client_id = body.client_id.trim().to_owned();
    if uuid::Uuid::parse_str(&client_id).is_err() {
        field(
            "client_id",
            "must be the app registration's application (client) id, a GUID",
        );
    }
    use secrecy::ExposeSecret;
    let secret = body.client_secret.map(|s| s.0);
    match (&secret, body.mode) {
        (None, ConnectMode::Application) => field(
            "client_secret",
            "an application user needs its client secret",
        ),
        (Some(s), _) if s.expose_secret().trim().is_empty() => {
            field("client_secret", "must not be empty")
        }
        (Some(s), _) if s.expose_secret().len() > MAX_SECRET_BYTES => field(
            "client_secret",
            &format!("must be at most {MAX_SECRET_BYTES} bytes"),
        ),
        _ => {}
    }
    if let Some(pem) = &body.ca_cert
        && (pem.len() > MAX_CA_CERT_BYTES
            || !pem.contains("-----BEGIN CERTIFICATE-----")
            || !pem.contains("-----END CERTIFICATE-----"))
    {
        field(
            "ca_cert",
            "must be a PEM certificate (-----BEGIN CERTIFICATE----- …), at most 64 KiB",
        );
    }
    let org_url = https_url("org_url", &body.org_url, &mut errors);
    let authority_url = match &body.authority_url {
        Some(text) => https_url("authority_url", text, &mut errors).map(Some),
        None => Some(None),
    };
    match (org_url, authority_url) {
        (Some(org_url), Some(authority_url)) if errors.is_empty() => Ok(match body.mode {
            ConnectMode::Application => ConnectRequest::Application {
                org_url,
                entra_tenant: tenant_id,
                client_id,
                client_secret: secret.unwrap_or_default(),
                authority_url,
                ca_cert: body.ca_cert,
            },
            ConnectMode::Delegated => ConnectRequest::Delegated {
                org_url,
                entra_tenant: tenant_id,
                client_id,
                client_secret: secret,
                authority_url,
                ca_cert: body.ca_cert,
            },
        }),
        _ => Err(Problem::new(ProblemCode::ValidationFailed).fields(errors)),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectResponse {
    /// `connected` (pre-flight passed, the first sync started) or `sign_in` (go to `sign_in_url`).
    pub outcome: &'static str,
    pub sign_in_url: Option<String>,
    /// What the page shows, e.g. "Successfully connected, sync in progress".
    pub message: String,
}

fn connect_response(outcome: ConnectOutcome) -> ConnectResponse {
    match outcome {
        ConnectOutcome::Connected => ConnectResponse {
            outcome: "connected",
            sign_in_url: None,
            message: "Successfully connected, sync in progress".to_owned(),
        },
        ConnectOutcome::SignIn { url } => ConnectResponse {
            outcome: "sign_in",
            sign_in_url: Some(url),
            message: "Sign in to Microsoft Dynamics to finish connecting.".to_owned(),
        },
    }
}

/// Connects the CRM: an application user is checked (pre-flight) and connected at once; a
/// delegated connection answers the URL the admin signs in at.
#[utoipa::path(post, path = "/api/v1/admin/crm/connect", tag = "admin: crm",
    request_body = ConnectBody,
    responses((status = 200, description = "Connected, or where to sign in", body = ConnectResponse)))]
pub(crate) async fn connect(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictJson(body): StrictJson<ConnectBody>,
) -> Result<Json<ConnectResponse>, Problem> {
    let request = check_connect(body)?;
    let outcome = state.sync.connect(admin.0.user.tenant, request).await?;
    Ok(Json(connect_response(outcome)))
}

/// Where Microsoft Entra sends the admin back after signing in. The identity provider decides
/// which parameters it adds, so unknown ones are not refused here.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignInCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The redirect back from the admin's sign-in: finishes a delegated connection.
#[utoipa::path(get, path = "/api/v1/admin/crm/connect/callback", tag = "admin: crm",
    params(SignInCallback),
    responses((status = 200, description = "Connected", body = ConnectResponse)))]
pub(crate) async fn connect_callback(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictQuery(callback): StrictQuery<SignInCallback>,
) -> Result<Json<ConnectResponse>, Problem> {
    if let Some(error) = callback.error {
        let detail = callback.error_description.unwrap_or(error);
        return Err(Problem::new(ProblemCode::ValidationFailed)
            .detail(format!("The sign-in did not complete: {detail}"))
            .next_step("Connect again and finish signing in."));
    }
    let (Some(code), Some(sign_in_state)) = (callback.code, callback.state) else {
        return Err(Problem::new(ProblemCode::InvalidQuery)
            .detail("The redirect carries neither a code and state nor an error."));
    };
    let outcome = state
        .sync
        .finish_sign_in(admin.0.user.tenant, code, sign_in_state)
        .await?;
    Ok(Json(connect_response(outcome)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectBody {
    /// "Yes, clean up all previously imported CRM data".
    pub purge: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PurgeRemovedView {
    pub imported_leads: usize,
    pub imported_accounts: usize,
    pub crm_reasons: usize,
    pub people_created_from_crm: usize,
    pub companies_created_from_crm: usize,
    pub crm_users: usize,
    pub crm_accounts: usize,
    pub crm_contacts: usize,
    pub crm_leads: usize,
    pub crm_opportunities: usize,
    pub matches: usize,
    pub delta_tokens: usize,
    pub credentials: bool,
    pub seat_crm_links: usize,
    pub writeback_records: usize,
}

#[derive(Serialize, ToSchema)]
pub struct PurgeKeptView {
    pub hand_saved_leads: usize,
    pub hand_saved_accounts: usize,
    pub notes: usize,
    pub messages: usize,
    pub inmails: usize,
    /// Created from the CRM, kept without their CRM link because reps' work refers to them.
    pub people_unlinked: usize,
    pub companies_unlinked: usize,
}

#[derive(Serialize, ToSchema)]
pub struct PurgeReceiptView {
    pub removed: PurgeRemovedView,
    pub kept: PurgeKeptView,
}

impl From<&PurgeReceipt> for PurgeReceiptView {
    fn from(r: &PurgeReceipt) -> Self {
        let (removed, kept) = (&r.removed, &r.kept);
        PurgeReceiptView {
            removed: PurgeRemovedView {
                imported_leads: removed.imported_leads,
                imported_accounts: removed.imported_accounts,
                crm_reasons: removed.crm_reasons,
                people_created_from_crm: removed.people_created_from_crm,
                companies_created_from_crm: removed.companies_created_from_crm,
                crm_users: removed.mirror.users,
                crm_accounts: removed.mirror.accounts,
                crm_contacts: removed.mirror.contacts,
                crm_leads: removed.mirror.leads,
                crm_opportunities: removed.mirror.opportunities,
                matches: removed.matches,
                delta_tokens: removed.delta_tokens,
                credentials: removed.credentials,
                seat_crm_links: removed.seat_crm_links,
                writeback_records: removed.writeback_records,
            },
            kept: PurgeKeptView {
                hand_saved_leads: kept.hand_saved_leads,
                hand_saved_accounts: kept.hand_saved_accounts,
                notes: kept.notes,
                messages: kept.messages,
                inmails: kept.inmails,
                people_unlinked: kept.people_unlinked,
                companies_unlinked: kept.companies_unlinked,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DisconnectResponse {
    pub disconnected: bool,
    /// With `purge`: what was removed and what was kept.
    pub purge_receipt: Option<PurgeReceiptView>,
}

/// "Disconnect CRM Sync", optionally cleaning up everything that came from the CRM.
#[utoipa::path(post, path = "/api/v1/admin/crm/disconnect", tag = "admin: crm",
    request_body = DisconnectBody,
    responses((status = 200, description = "Disconnected", body = DisconnectResponse)))]
pub(crate) async fn disconnect(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictJson(body): StrictJson<DisconnectBody>,
) -> Result<Json<DisconnectResponse>, Problem> {
    let receipt = state
        .sync
        .disconnect(admin.0.user.tenant, body.purge)
        .await?;
    Ok(Json(DisconnectResponse {
        disconnected: true,
        purge_receipt: receipt.as_ref().map(PurgeReceiptView::from),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SyncStarted {
    /// Follow the progress at GET /api/v1/admin/crm.
    pub started: bool,
}

/// "Sync now".
#[utoipa::path(post, path = "/api/v1/admin/crm/sync", tag = "admin: crm",
    responses((status = 202, description = "The sync started", body = SyncStarted)))]
pub(crate) async fn sync_now(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<(http::StatusCode, Json<SyncStarted>), Problem> {
    state.sync.sync_now(admin.0.user.tenant).await?;
    Ok((
        http::StatusCode::ACCEPTED,
        Json(SyncStarted { started: true }),
    ))
}

/// Whether the org has the "leadbridge for Dynamics" companion app writeback needs.
#[utoipa::path(get, path = "/api/v1/admin/crm/app", tag = "admin: crm",
    responses((status = 200, description = "The companion app in the org", body = CompanionAppView)))]
pub(crate) async fn companion_app(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<Json<CompanionAppView>, Problem> {
    let app = state.sync.companion_app(admin.0.user.tenant).await?;
    Ok(Json((&app).into()))
}

/// "Get it now": installs the companion app in the org.
#[utoipa::path(post, path = "/api/v1/admin/crm/app/install", tag = "admin: crm",
    responses((status = 200, description = "Installed", body = CompanionAppView)))]
pub(crate) async fn install_companion_app(
    admin: AdminUser,
    State(state): State<AppState>,
) -> Result<Json<CompanionAppView>, Problem> {
    let app = state
        .sync
        .install_companion_app(admin.0.user.tenant)
        .await?;
    Ok(Json((&app).into()))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(connect))
        .routes(routes!(connect_callback))
        .routes(routes!(disconnect))
        .routes(routes!(sync_now))
        .routes(routes!(companion_app))
        .routes(routes!(install_companion_app))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(mode: ConnectMode) -> ConnectBody {
        ConnectBody {
            mode,
            org_url: "https://contoso.crm4.dynamics.com".into(),
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "8d4f9a3e-5b1c-4f8e-9a2b-1c3d5e7f9a0b".into(),
            client_secret: Some(SecretText("s3cret~value".to_owned().into())),
            authority_url: None,
            ca_cert: None,
        }
    }

    fn paths(p: Problem) -> Vec<String> {
        p.errors.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn well_formed_requests_pass_and_keep_the_secret_out_of_debug() {
        let request = check_connect(body(ConnectMode::Application)).unwrap();
        let debug = format!("{request:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(matches!(request, ConnectRequest::Application { .. }));
        let delegated = ConnectBody {
            client_secret: None,
            ..body(ConnectMode::Delegated)
        };
        assert!(matches!(
            check_connect(delegated).unwrap(),
            ConnectRequest::Delegated { .. }
        ));
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ConnectBody {
            org_url: "http://contoso.crm.dynamics.com".into(),
            tenant_id: "contoso tenant".into(),
            client_id: "not-a-guid".into(),
            client_secret: None,
            authority_url: Some("https://user:pw@login.example".into()),
            ca_cert: Some("MIIB…".into()),
            ..body(ConnectMode::Application)
        };
        assert_eq!(
            paths(check_connect(bad).unwrap_err()),
            [
                "tenant_id",
                "client_id",
                "client_secret",
                "ca_cert",
                "org_url",
                "authority_url"
            ]
        );
        let no_host = ConnectBody {
            org_url: "not a url".into(),
            ..body(ConnectMode::Application)
        };
        assert_eq!(paths(check_connect(no_host).unwrap_err()), ["org_url"]);
    }
}
