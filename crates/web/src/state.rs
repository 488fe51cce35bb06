//! What every handler shares: the store, the web settings (cookie policy, lifetimes, body limits)
//! and the sync engine's controls. Cheap to clone; one per server.

use std::sync::Arc;

use chrono::TimeDelta;
use store::Store;

use crate::sync::{StoreOnly, SyncControl};

/// Whether session cookies carry the `Secure` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSecurity {
    /// Always `Secure` (the server is only reached over HTTPS).
    Always,
    /// `Secure` when the request reached the proxy over HTTPS (`X-Forwarded-Proto: https`), so a
    /// plain-HTTP install on a laptop still works. Trusting the header is harmless here: it can
    /// only make the cookie stricter.
    Auto,
}

#[derive(Clone, Debug)]
pub struct WebConfig {
    pub cookies: CookieSecurity,
    /// How long a browser session lasts after signing in.
    pub session_lifetime: TimeDelta,
    /// How long a token from `POST /api/v1/auth/token` lasts.
    pub api_token_lifetime: TimeDelta,
    /// The largest request body accepted, in bytes (directory imports have their own limit).
    pub body_limit: usize,
    /// The largest directory import body accepted in one request, in bytes.
    pub import_body_limit: usize,
    /// Behind a reverse proxy, the client's address is the last one the proxy appended to
    /// `X-Forwarded-For`; without this, sign-in throttling would count every client as the proxy.
    /// Only set it when a proxy always sets the header: a client could otherwise choose its own.
    pub trust_forwarded_for: bool,
    /// What Connect to CRM starts filled in with (the demo's emulator); `None` leaves it empty.
    pub connect_defaults: Option<ConnectDefaults>,
}

/// The values a Connect to CRM form starts with. No secret: that is always typed.
#[derive(Clone, Debug, Default)]
pub struct ConnectDefaults {
    /// Admin sign-in rather than an application user.
    pub delegated: bool,
    pub org_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub authority_url: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            cookies: CookieSecurity::Auto,
            session_lifetime: TimeDelta::hours(12),
            api_token_lifetime: TimeDelta::days(30),
            body_limit: 256 * 1024,
            import_body_limit: 64 * 1024 * 1024,
            trust_forwarded_for: false,
            connect_defaults: None,
        }
    }
}

/// The state behind every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub sync: Arc<dyn SyncControl>,
    /// Renders the Prometheus exposition served at `/metrics`; `None` serves no metrics.
    pub metrics: Option<MetricsRender>,
}

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State without the sync engine: see [`StoreOnly`].
    pub fn new(store: Store, config: WebConfig) -> Self {
        AppState {
            sync: Arc::new(StoreOnly::new(store.clone())),
            store,
            config: Arc::new(config),
            metrics: None,
        }
    }

    /// Plugs in the sync engine.
    pub fn with_sync(mut self, sync: Arc<dyn SyncControl>) -> Self {
        self.sync = sync;
        self
    }

    /// Serves `/metrics` (Prometheus text format) from `render`.
    pub fn with_metrics(mut self, render: MetricsRender) -> Self {
        self.metrics = Some(render);
        self
    }
}
