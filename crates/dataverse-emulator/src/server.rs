//! The emulator process: configuration, start-up (state directory, CA, signing key, seeded org),
//! the HTTPS (or plain HTTP) listener, and the routes: Entra endpoints, the Web API with its
//! authentication, impersonation, limits and faults, `$batch`, and the `/_emulator/` admin API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entra::{AppRegistration, EntraState, SigningKey, TokenRejection};
use crate::error::ApiError;
use crate::faults::{Fault, FaultRule, Faults};
use crate::limits::{LimitSettings, Limiter};
use crate::metadata::stable_id;
use crate::org::{ORGANIZATION_TYPES, Org};
use crate::persist::{self, PersistError};
use crate::security::ACT_ON_BEHALF;
use crate::seed::SeedSize;
use crate::value::Value;
use crate::webapi::{self, ApiRequest, Ctx, Prefer, Reply};

pub const API_PREFIX: &str = "/api/data/v9.2";

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    /// Plain HTTP instead of HTTPS.
    pub http: bool,
    pub seed: Option<SeedSize>,
    pub seed_number: u64,
    pub organization_type: String,
    pub limits: LimitSettings,
    pub faults: Vec<FaultRule>,
    /// Delete the org saved in the state directory and start again from the seed.
    pub reset: bool,
    /// How long after a change the org is saved, so a burst of writes is saved once.
    pub save_delay: std::time::Duration,
}

impl EmulatorConfig {
    pub fn new(listen: SocketAddr, state_dir: PathBuf) -> Self {
        EmulatorConfig {
            listen,
            state_dir,
            http: false,
            seed: None,
            seed_number: 1,
            organization_type: "Customer".into(),
            limits: LimitSettings::default(),
            faults: Vec::new(),
            reset: false,
            save_delay: std::time::Duration::from_secs(1),
        }
    }
}

/// What a client needs to reach the emulator; written to `emulator.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmulatorInfo {
    pub org_url: String,
    pub api_url: String,
    pub authority_url: String,
    pub tenant_id: Uuid,
    pub client_id: Uuid,
    pub client_secret: String,
    /// The application user of the default app registration (a System Administrator).
    pub application_user_id: Uuid,
    pub ca_cert: Option<PathBuf>,
    pub admin_url: String,
}

/// The running emulator's shared state.
pub struct Emulator {
    pub info: EmulatorInfo,
    pub org: RwLock<Org>,
    pub entra: Mutex<EntraState>,
    key: SigningKey,
    pub limiter: Limiter,
    pub faults: Faults,
    clock_offset: Mutex<chrono::Duration>,
    config: EmulatorConfig,
    snapshots: Mutex<Vec<Org>>,
    saves: Saves,
}

/// Keeps the org's data file in step with the org: every change is counted, and a save writes
/// the org as it is and records the count it reflects.
#[derive(Default)]
struct Saves {
    changes: AtomicU64,
    saved: AtomicU64,
    wake: tokio::sync::Notify,
    /// One save at a time.
    writing: Mutex<()>,
    /// Set at shutdown: writes still arriving are refused, so none is answered with success
    /// after the final save has read the org.
    closing: std::sync::atomic::AtomicBool,
}

impl Emulator {
    /// Records a change to the org or the app registrations; it is saved after `save_delay`.
    pub fn changed(&self) {
        self.saves.changes.fetch_add(1, AtomicOrdering::SeqCst);
        self.saves.wake.notify_one();
    }

    /// Whether the emulator is shutting down (writes are refused; checked under the write lock).
    pub fn is_closing(&self) -> bool {
        self.saves.closing.load(AtomicOrdering::SeqCst)
    }

    /// Writes the org to the state directory unless nothing changed since the last save.
    pub fn save(&self) -> Result<(), PersistError> {
        let _one_at_a_time = self.saves.writing.lock();
        let changes = self.saves.changes.load(AtomicOrdering::SeqCst);
        if changes == self.saves.saved.load(AtomicOrdering::SeqCst) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let (apps, refresh_tokens) = {
            let entra = self.entra.lock();
            let apps: Vec<AppRegistration> = entra.apps.values().cloned().collect();
            (apps, entra.refresh_tokens.clone())
        };
        let capture = persist::capture(&self.org.read(), apps, refresh_tokens);
        let captured = started.elapsed();
        persist::write(&self.config.state_dir, &capture)?;
        self.saves.saved.store(changes, AtomicOrdering::SeqCst);
        tracing::debug!(
            capture_ms = captured.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "org saved"
        );
        Ok(())
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.clock_offset.lock()
    }

    fn build_org(
        config: &EmulatorConfig,
        tenant_id: Uuid,
        app: &AppRegistration,
        now: DateTime<Utc>,
    ) -> Org {
        let seed = config
            .seed
            .map(|size| crate::seed::generate(size, config.seed_number));
        let name = seed
            .as_ref()
            .map_or("leadbridge emulator".to_string(), |s| s.name.clone());
        let mut org = Org::new(&name, tenant_id, now);
        org.organization_type = organization_type_index(&config.organization_type);
        add_application_user(&mut org, app, now);
        if let Some(seed) = seed {
            org.load_seed(seed, now);
        }
        org
    }
}

/// The systemuser id of an app registration's application user.
pub fn application_user_id(client_id: Uuid) -> Uuid {
    stable_id(&["application user", &client_id.to_string()])
}

/// A started emulator.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub info: EmulatorInfo,
    pub state: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    saver: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// Stops serving and saves what changed since the last save.
    pub async fn shutdown(mut self) -> Result<(), PersistError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(saver) = self.saver.take() {
            saver.abort();
        }
        let em = self.state.clone();
        tokio::task::spawn_blocking(move || {
            em.saves.closing.store(true, AtomicOrdering::SeqCst);
            // A write under way holds the lock: once it is released, every write that will
            // ever succeed has, and the save below includes it.
            drop(em.org.write());
            em.save()
        })
        .await
        .unwrap_or_else(|e| {
            Err(PersistError::Io {
                path: self.state.config.state_dir.clone(),
                source: std::io::Error::other(e),
            })
        })
    }

    /// Like `shutdown`, with a failed save logged rather than returned.
    pub async fn stop(self) {
        if let Err(e) = self.shutdown().await {
            tracing::error!(error = %e, "the org could not be saved at shutdown");
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(saver) = self.saver.take() {
            saver.abort();
        }
    }
}

/// Saves the org a moment after it changes, until the emulator stops.
async fn save_after_changes(em: Arc<Emulator>) {
    loop {
        em.saves.wake.notified().await;
        tokio::time::sleep(em.config.save_delay).await;
        let worker = em.clone();
        match tokio::task::spawn_blocking(move || worker.save()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "saving the org failed; the next change tries again");
            }
            Err(e) => tracing::error!(error = %e, "the save task failed"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    tenant_id: Uuid,
    client_id: Uuid,
    client_secret: String,
}

/// Starts an emulator and returns once it accepts connections.
pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    std::fs::create_dir_all(&config.state_dir).with_context(|| {
        format!(
            "creating the state directory {}",
            config.state_dir.display()
        )
    })?;
    // A previous run's emulator.json names a port that may be gone; it reappears when ready.
    let info_path = config.state_dir.join("emulator.json");
    match std::fs::remove_file(&info_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", info_path.display()));
        }
        _ => {}
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if config.http { "http" } else { "https" };
    let host = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let origin = format!("{scheme}://{host}:{}", addr.port());

    // The tenant and the default app registration survive restarts, like a real tenant's would.
    let identity_path = config.state_dir.join("identity.json");
    let identity: Persisted = match std::fs::read(&identity_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .context("identity.json in the state directory is not valid")?,
        Err(_) => {
            let p = Persisted {
                tenant_id: Uuid::new_v4(),
                client_id: Uuid::new_v4(),
                client_secret: crate::entra::random_token(30),
            };
            crate::tls::write_private(&identity_path, &serde_json::to_vec_pretty(&p)?)?;
            p
        }
    };
    let key = SigningKey::load_or_create(&config.state_dir)?;
    let tls = if config.http {
        None
    } else {
        Some(crate::tls::server_config(
            &config.state_dir,
            &[host.trim_matches(|c| c == '[' || c == ']').to_string()],
        )?)
    };
    let mut entra = EntraState::new(identity.tenant_id);
    let app = AppRegistration {
        client_id: identity.client_id,
        display_name: "leadbridge".into(),
        secrets: vec![identity.client_secret.clone()],
        service_principal_id: stable_id(&["service principal", &identity.client_id.to_string()]),
        redirect_uris: Vec::new(),
        admin_consented: true,
    };
    let now = Utc::now();
    let (org, fresh) = match open_org(&config, identity.tenant_id, &app, now)? {
        Opened::New(org) => (org, true),
        Opened::Restored(restored) => {
            for saved in restored.apps {
                entra.apps.insert(saved.client_id, saved);
            }
            entra.refresh_tokens = restored.refresh_tokens;
            (restored.org, false)
        }
    };
    // The default registration comes from identity.json, whatever the data file says.
    entra.apps.insert(app.client_id, app.clone());
    let info = EmulatorInfo {
        org_url: origin.clone(),
        api_url: format!("{origin}{API_PREFIX}"),
        authority_url: format!("{origin}/entra"),
        tenant_id: identity.tenant_id,
        client_id: identity.client_id,
        client_secret: identity.client_secret,
        application_user_id: application_user_id(identity.client_id),
        ca_cert: (!config.http).then(|| config.state_dir.join(crate::tls::CA_CERT_FILE)),
        admin_url: format!("{origin}/_emulator"),
    };
    let faults = Faults::default();
    *faults.rules.lock() = config.faults.clone();
    let state = Arc::new(Emulator {
        info: info.clone(),
        org: RwLock::new(org),
        entra: Mutex::new(entra),
        key,
        limiter: Limiter::new(config.limits),
        faults,
        clock_offset: Mutex::new(chrono::Duration::zero()),
        config,
        snapshots: Mutex::new(Vec::new()),
        saves: Saves::default(),
    });
    if fresh {
        // Saved in the background like any change: the start is not held up by writing a large
        // seed, and until it is saved a restart would generate the same org again.
        state.changed();
    }
    // emulator.json tells clients the emulator is ready, so it comes last.
    crate::tls::write_private(&info_path, &serde_json::to_vec_pretty(&info)?)?;
    let saver = tokio::spawn(save_after_changes(state.clone()));
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve(listener, tls, app, rx));
    Ok(RunningEmulator {
        addr,
        info,
        state,
        shutdown: Some(tx),
        task: Some(task),
        saver: Some(saver),
    })
}

/// Where the org comes from at start-up.
enum Opened {
    New(Org),
    Restored(persist::Restored),
}

/// The org saved in the state directory, or a new one (seeded as configured) when there is
/// none or a reset was asked for.
fn open_org(
    config: &EmulatorConfig,
    tenant_id: Uuid,
    app: &AppRegistration,
    now: DateTime<Utc>,
) -> anyhow::Result<Opened> {
    if config.reset {
        persist::remove(&config.state_dir)?;
    }
    let started = std::time::Instant::now();
    let Some(mut restored) = persist::read(&config.state_dir)? else {
        let org = Emulator::build_org(config, tenant_id, app, now);
        tracing::info!(ms = started.elapsed().as_millis() as u64, "new org created");
        return Ok(Opened::New(org));
    };
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "org read from the state directory"
    );
    if config.seed.is_some() {
        tracing::info!(
            "the state directory already holds an org, which is used as it is: the seed is \
             ignored (reset to start again from the seed)"
        );
    }
    let org = &mut restored.org;
    org.tenant_id = tenant_id;
    org.organization_type = organization_type_index(&config.organization_type);
    // identity.json may be newer than the data file: its app still needs its application user.
    let app_user = application_user_id(app.client_id);
    if org
        .table_index("systemuser")
        .is_some_and(|t| !org.table(t).rows.contains_key(&app_user))
    {
        add_application_user(org, app, now);
        org.store.commit();
    }
    Ok(Opened::Restored(restored))
}

fn organization_type_index(name: &str) -> usize {
    ORGANIZATION_TYPES
        .iter()
        .position(|t| t.eq_ignore_ascii_case(name))
        .unwrap_or(0)
}

/// The app's application user, a System Administrator in the root business unit.
fn add_application_user(org: &mut Org, app: &AppRegistration, now: DateTime<Utc>) {
    let root = org.root_business_unit;
    org.add_user(
        application_user_id(app.client_id),
        "",
        &format!("# {}", app.display_name),
        "",
        Some(app.service_principal_id),
        Some(app.client_id),
        root,
        &[stable_id(&["role", "System Administrator"])],
        false,
        now,
    );
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        // Without it, a response written in two parts waits for the client's delayed ACK (40 ms).
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let builder = Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tls_stream), service)
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

fn router(state: Arc<Emulator>) -> Router {
    Router::new()
        .route(
            "/entra/{tenant}/oauth2/v2.0/token",
            post(crate::entra_http::token),
        )
        .route(
            "/entra/{tenant}/oauth2/v2.0/authorize",
            get(crate::entra_http::authorize_page).post(crate::entra_http::authorize_submit),
        )
        .route(
            "/entra/{tenant}/adminconsent",
            get(crate::entra_http::consent_page).post(crate::entra_http::consent_submit),
        )
        .route(
            "/entra/{tenant}/discovery/v2.0/keys",
            get(crate::entra_http::jwks),
        )
        .route(
            "/entra/{tenant}/v2.0/.well-known/openid-configuration",
            get(crate::entra_http::openid_configuration),
        )
        .route(API_PREFIX, any(web_api))
        .route(&format!("{API_PREFIX}/"), any(web_api))
        .route(&format!("{API_PREFIX}/{{*rest}}"), any(web_api))
        .route("/_emulator/info", get(admin_info))
        .route("/_emulator/reset", post(admin_reset))
        .route("/_emulator/snapshot", post(admin_snapshot))
        .route("/_emulator/snapshot/restore", post(admin_restore))
        .route(
            "/_emulator/faults",
            get(admin_get_faults).put(admin_put_faults),
        )
        .route(
            "/_emulator/limits",
            get(admin_get_limits).put(admin_put_limits),
        )
        .route("/_emulator/organization", put(admin_put_organization))
        .route("/_emulator/clock", post(admin_clock))
        .route("/_emulator/apps", post(admin_create_app))
        .route(
            "/_emulator/apps/{client_id}/secrets/revoke",
            post(admin_revoke_secrets),
        )
        .route(
            "/_emulator/refresh-tokens/revoke",
            post(admin_revoke_refresh),
        )
        .route("/_emulator/users/{id}/roles", put(admin_put_user_roles))
        .route("/_emulator/roles", post(admin_create_role))
        .route(
            "/_emulator/roles/{name}/privileges/{privilege}",
            put(admin_grant).delete(admin_revoke),
        )
        .with_state(state)
}

/// Turns a Web API reply into an HTTP response, with the headers every Dataverse response has.
fn to_response(reply: Reply, extra: &[(String, String)]) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in reply.headers.iter().chain(extra) {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn unauthorized(em: &Emulator) -> Response {
    let challenge = format!(
        "Bearer authorization_uri={}/{}/oauth2/authorize, resource_id={}/",
        em.info.authority_url, em.info.tenant_id, em.info.org_url
    );
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("WWW-Authenticate", challenge)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::UNAUTHORIZED.into_response())
}

/// A response whose connection is cut after the headers and half the body.
fn dropped(reply: Reply) -> Response {
    let half = reply.body.len() / 2;
    let first = Bytes::from(reply.body[..half].to_vec());
    let stream = futures_util::stream::iter(vec![
        Ok::<Bytes, std::io::Error>(first),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: connection dropped",
        )),
    ]);
    let mut builder = Response::builder()
        .status(reply.status)
        .header("Content-Length", reply.body.len().max(1).to_string());
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

// The refusal is the finished HTTP response; it is built once per refused request.
#[allow(clippy::result_large_err)]
/// Authenticates the bearer token and resolves the acting user (with `CallerObjectId`).
fn authenticate(
    em: &Emulator,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<(Uuid, Uuid, bool), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return Err(unauthorized(em));
    };
    let claims = match crate::entra::validate(&em.key, token, &em.info.org_url, now) {
        Ok(c) => c,
        Err(
            TokenRejection::Expired
            | TokenRejection::Malformed
            | TokenRejection::Missing
            | TokenRejection::WrongAudience,
        ) => {
            return Err(unauthorized(em));
        }
    };
    let org = em.org.read();
    let caller = if claims.idtyp == "app" {
        Uuid::parse_str(&claims.appid)
            .ok()
            .and_then(|app| org.user_where("applicationid", app))
    } else {
        Uuid::parse_str(&claims.oid)
            .ok()
            .and_then(|oid| org.user_where("azureactivedirectoryobjectid", oid))
    };
    let Some(caller) = caller else {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            "0x80072560",
            "The user is not a member of the organization.",
        );
        return Err(to_response(Reply::error(&e), &[]));
    };
    if let Some(t) = org.table_index("systemuser")
        && org.get(t, caller, "isdisabled") == Some(&Value::Bool(true))
    {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            "0x80040225",
            format!(
                "The specified user(Id = {caller}) is disabled. Consider adding the user to a security group with the right role or use a different user account."
            ),
        );
        return Err(to_response(Reply::error(&e), &[]));
    }
    let impersonate = headers
        .get("callerobjectid")
        .and_then(|v| v.to_str().ok())
        .map(|v| (v, "azureactivedirectoryobjectid"))
        .or_else(|| {
            headers
                .get("mscrmcallerid")
                .and_then(|v| v.to_str().ok())
                .map(|v| (v, "systemuserid"))
        });
    let Some((value, column)) = impersonate else {
        return Ok((caller, caller, false));
    };
    if org.security.depth(caller, ACT_ON_BEHALF).is_none() {
        let ctx = Ctx {
            base: String::new(),
            user: caller,
            caller,
            impersonating: false,
            prefer: Prefer::default(),
            now,
        };
        let e = webapi::privilege_denied(&org, &ctx, ACT_ON_BEHALF, None);
        return Err(to_response(Reply::error(&e), &[]));
    }
    let target = Uuid::parse_str(value.trim()).ok().and_then(|id| {
        if column == "systemuserid" {
            org.table_index("systemuser")
                .filter(|t| org.table(*t).rows.contains_key(&id))
                .map(|_| id)
        } else {
            org.user_where(column, id)
        }
    });
    match target {
        Some(user) => Ok((user, caller, true)),
        None => {
            let e = ApiError::new(
                StatusCode::NOT_FOUND,
                "0x80040217",
                format!("systemuser With Id = {value} Does Not Exist"),
            );
            Err(to_response(Reply::error(&e), &[]))
        }
    }
}

async fn web_api(
    State(em): State<Arc<Emulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    let raw_path = uri
        .path()
        .strip_prefix(API_PREFIX)
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let path = percent_encoding::percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .to_string();
    let query = uri.query().unwrap_or("").to_string();
    let (latency, fault) = em.faults.decide(method.as_str(), &path);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match fault {
        Fault::Throttle(secs) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            );
            e.retry_after = Some(secs);
            return to_response(Reply::error(&e), &[]);
        }
        Fault::ServerError => {
            let e = ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "0x80040216",
                "An unexpected error occurred.",
            );
            return to_response(Reply::error(&e), &[]);
        }
        Fault::Unavailable => {
            let e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "0x80040216",
                "The service is temporarily unavailable. Please try again later.",
            );
            return to_response(Reply::error(&e), &[]);
        }
        Fault::None | Fault::Drop => {}
    }
    let now = em.now();
    let (user, caller, impersonating) = match authenticate(&em, &headers, now) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let admission = match em.limiter.admit(caller) {
        Ok(a) => a,
        Err(e) => return to_response(Reply::error(&e), &[]),
    };
    let ctx = Ctx {
        base: em.info.api_url.clone(),
        user,
        caller,
        impersonating,
        prefer: Prefer::parse(&headers),
        now,
    };
    let (method_name, log_path) = (method.clone(), path.clone());
    let em2 = em.clone();
    let reply = tokio::task::spawn_blocking(move || {
        if path == "$batch" && method == Method::POST {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            return crate::batch_exec::execute(&em2, &ctx, &content_type, &body);
        }
        let req = ApiRequest {
            method,
            path: &path,
            query: &query,
            headers: &headers,
            body: &body,
        };
        execute_one(&em2, &ctx, &req)
    })
    .await
    .unwrap_or_else(|_| {
        Reply::error(&ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "0x80040216",
            "An unexpected error occurred.",
        ))
    });
    drop(admission);
    let (requests_left, time_left) = em.limiter.remaining(caller);
    let dop = em.limiter.settings.lock().dop_hint;
    let extra = vec![
        ("x-ms-dop-hint".to_string(), dop.to_string()),
        (
            "x-ms-ratelimit-burst-remaining-xrm-requests".to_string(),
            requests_left.to_string(),
        ),
        (
            "x-ms-ratelimit-time-remaining-xrm-requests".to_string(),
            format!("{time_left}.00"),
        ),
        (
            "x-ms-service-request-id".to_string(),
            Uuid::new_v4().to_string(),
        ),
    ];
    tracing::debug!(
        method = %method_name,
        path = %log_path,
        status = reply.status.as_u16(),
        bytes = reply.body.len(),
        handled_us = received.elapsed().as_micros() as u64,
        "request"
    );
    if fault == Fault::Drop {
        return dropped(reply);
    }
    to_response(reply, &extra)
}

/// Runs one request with the lock it needs, as its own transaction when it writes.
pub fn execute_one(em: &Emulator, ctx: &Ctx, req: &ApiRequest<'_>) -> Reply {
    if webapi::is_read(req) {
        let org = em.org.read();
        return webapi::dispatch_read(&org, ctx, req);
    }
    let mut org = em.org.write();
    if em.is_closing() {
        return Reply::error(&shutting_down());
    }
    let reply = run_write(&mut org, ctx, req);
    drop(org);
    if reply.status.is_success() {
        em.changed();
    }
    reply
}

/// The refusal of a write that arrives while the emulator shuts down.
pub fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "0x80040216",
        "The service is shutting down. Please try again later.",
    )
}

/// A write applied all-or-nothing (unless an enclosing change set owns the transaction).
pub fn run_write(org: &mut Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Reply {
    let own = !org.store.in_transaction();
    if own {
        org.store.begin();
    }
    let reply = webapi::dispatch_write(org, ctx, req);
    if own {
        if reply.status.is_success() {
            org.store.commit();
        } else {
            org.store.rollback();
        }
    }
    reply
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [("content-type", HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

async fn admin_info(State(em): State<Arc<Emulator>>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(&em.info).unwrap_or_default(),
    )
}

async fn admin_reset(State(em): State<Arc<Emulator>>) -> Response {
    let em2 = em.clone();
    let result = tokio::task::spawn_blocking(move || {
        let app = em2.entra.lock().apps.get(&em2.info.client_id).cloned();
        if let Some(app) = app {
            let fresh = Emulator::build_org(&em2.config, em2.info.tenant_id, &app, em2.now());
            *em2.org.write() = fresh;
            em2.changed();
        }
        em2.limiter.reset();
        em2.faults.rules.lock().clear();
        *em2.clock_offset.lock() = chrono::Duration::zero();
    })
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn admin_snapshot(State(em): State<Arc<Emulator>>) -> Response {
    let copy = em.org.read().clone();
    let mut snaps = em.snapshots.lock();
    snaps.push(copy);
    json_response(StatusCode::OK, serde_json::json!({"snapshot": snaps.len()}))
}

async fn admin_restore(State(em): State<Arc<Emulator>>) -> Response {
    let Some(copy) = em.snapshots.lock().last().cloned() else {
        return json_response(
            StatusCode::CONFLICT,
            serde_json::json!({"error": "no snapshot has been taken"}),
        );
    };
    *em.org.write() = copy;
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_get_faults(State(em): State<Arc<Emulator>>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(&*em.faults.rules.lock()).unwrap_or_default(),
    )
}

async fn admin_put_faults(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Vec<FaultRule>>(&body) {
        Ok(rules) => {
            *em.faults.rules.lock() = rules;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": format!("expected a list of fault rules: {e}")}),
        ),
    }
}

async fn admin_get_limits(State(em): State<Arc<Emulator>>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(*em.limiter.settings.lock()).unwrap_or_default(),
    )
}

async fn admin_put_limits(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<LimitSettings>(&body) {
        Ok(s) => {
            *em.limiter.settings.lock() = s;
            em.limiter.reset();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": format!("expected limit settings: {e}")}),
        ),
    }
}

#[derive(Deserialize)]
struct OrganizationChange {
    organization_type: Option<String>,
    version: Option<String>,
}

async fn admin_put_organization(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    let Ok(change) = serde_json::from_slice::<OrganizationChange>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {organization_type?, version?}"}),
        );
    };
    let mut org = em.org.write();
    if let Some(t) = change.organization_type {
        match ORGANIZATION_TYPES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&t))
        {
            Some(i) => org.organization_type = i,
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": format!("unknown organization type {t}; one of {ORGANIZATION_TYPES:?}")}),
                );
            }
        }
    }
    if let Some(v) = change.version {
        org.version = v;
    }
    drop(org);
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct ClockChange {
    advance_seconds: i64,
}

async fn admin_clock(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockChange>(&body) {
        Ok(c) => {
            *em.clock_offset.lock() += chrono::Duration::seconds(c.advance_seconds);
            json_response(
                StatusCode::OK,
                serde_json::json!({"now": crate::webapi::rows::format_datetime(&em.now())}),
            )
        }
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": format!("expected {{advance_seconds}}: {e}")}),
        ),
    }
}

#[derive(Deserialize)]
struct NewApp {
    display_name: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Whether the app gets an application user in the org (false: "not a member").
    #[serde(default = "yes")]
    application_user: bool,
}

fn yes() -> bool {
    true
}

async fn admin_create_app(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<NewApp>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {display_name, roles?, redirect_uris?, application_user?}"}),
        );
    };
    let now = em.now();
    let client_id = Uuid::new_v4();
    let secret = crate::entra::random_token(30);
    let app = AppRegistration {
        client_id,
        display_name: req.display_name.clone(),
        secrets: vec![secret.clone()],
        service_principal_id: Uuid::new_v4(),
        redirect_uris: req.redirect_uris,
        admin_consented: false,
    };
    let user_id = application_user_id(client_id);
    if req.application_user {
        let mut org = em.org.write();
        let mut role_ids = Vec::new();
        for name in &req.roles {
            match org.security.role_by_name(name) {
                Some(r) => role_ids.push(r.id),
                None => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": format!("no role named {name}")}),
                    );
                }
            }
        }
        let root = org.root_business_unit;
        org.add_user(
            user_id,
            "",
            &format!("# {}", req.display_name),
            "",
            Some(app.service_principal_id),
            Some(client_id),
            root,
            &role_ids,
            false,
            now,
        );
        org.store.commit();
    }
    em.entra.lock().apps.insert(client_id, app);
    em.changed();
    json_response(
        StatusCode::CREATED,
        serde_json::json!({"client_id": client_id, "client_secret": secret, "application_user_id": req.application_user.then_some(user_id)}),
    )
}

async fn admin_revoke_secrets(
    State(em): State<Arc<Emulator>>,
    Path(client_id): Path<Uuid>,
    body: Bytes,
) -> Response {
    let mut entra = em.entra.lock();
    let Some(app) = entra.apps.get_mut(&client_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    app.secrets.clear();
    let replacement = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("new_secret")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        });
    if let Some(s) = replacement {
        app.secrets.push(s);
    }
    drop(entra);
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_revoke_refresh(State(em): State<Arc<Emulator>>) -> Response {
    em.entra.lock().refresh_tokens.clear();
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct RoleNames {
    roles: Vec<String>,
}

async fn admin_put_user_roles(
    State(em): State<Arc<Emulator>>,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<RoleNames>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {roles: [names]}"}),
        );
    };
    let mut org = em.org.write();
    let mut ids = Vec::new();
    for name in &req.roles {
        match org.security.role_by_name(name) {
            Some(r) => ids.push(r.id),
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": format!("no role named {name}")}),
                );
            }
        }
    }
    org.security.user_roles.insert(id, ids);
    drop(org);
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct NewRole {
    name: String,
    /// Privilege name → depth name (Basic, Local, Deep, Global).
    privileges: std::collections::BTreeMap<String, String>,
}

async fn admin_create_role(State(em): State<Arc<Emulator>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<NewRole>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {name, privileges: {prvX: depth}}"}),
        );
    };
    let mut privileges = std::collections::BTreeMap::new();
    for (p, d) in req.privileges {
        match crate::security::Depth::parse(&d) {
            Some(depth) => {
                privileges.insert(p, depth);
            }
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": format!("unknown depth {d}")}),
                );
            }
        }
    }
    let now = em.now();
    let mut org = em.org.write();
    let role = crate::security::Role {
        id: stable_id(&["role", &req.name]),
        name: req.name,
        business_unit: org.root_business_unit,
        all_privileges: false,
        privileges,
    };
    let id = role.id;
    org.add_role(role, now);
    org.store.commit();
    drop(org);
    em.changed();
    json_response(StatusCode::CREATED, serde_json::json!({"role_id": id}))
}

#[derive(Deserialize)]
struct DepthBody {
    depth: String,
}

async fn admin_grant(
    State(em): State<Arc<Emulator>>,
    Path((name, privilege)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let depth = serde_json::from_slice::<DepthBody>(&body)
        .ok()
        .and_then(|d| crate::security::Depth::parse(&d.depth));
    let Some(depth) = depth else {
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "expected {depth: Basic|Local|Deep|Global}"}),
        );
    };
    let mut org = em.org.write();
    let Some(id) = org.security.role_by_name(&name).map(|r| r.id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(role) = org.security.roles.get_mut(&id) {
        role.privileges.insert(privilege, depth);
    }
    drop(org);
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_revoke(
    State(em): State<Arc<Emulator>>,
    Path((name, privilege)): Path<(String, String)>,
) -> Response {
    let mut org = em.org.write();
    let Some(id) = org.security.role_by_name(&name).map(|r| r.id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(role) = org.security.roles.get_mut(&id) {
        role.privileges
            .retain(|p, _| !p.eq_ignore_ascii_case(&privilege));
    }
    drop(org);
    em.changed();
    StatusCode::NO_CONTENT.into_response()
}
