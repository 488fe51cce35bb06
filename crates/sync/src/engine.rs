//! The engine value the web layer and the workers share: the store, the CRM connector, settings,
//! and the open connections per tenant (a cache of clients and their tokens, never state).
//!
//! Credentials live encrypted in the store. A signed-in admin's refresh token rotates as it is
//! used, so every use of such a connection ends by storing the newest token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::TimeDelta;
use domain::crm::CrmAuth;
use domain::ids::{CrmConnectionId, TenantId};
use secrecy::{ExposeSecret, SecretString};
use store::crm::ConnectionInfo;
use store::{Store, StoreError, TenantStore};

use crate::crm::{
    ConnectionProblem, ConnectionTarget, Credentials, Crm, CrmConnector, CrmError, TransportCounts,
};

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How often each connected tenant is synced (Sync now runs one at once).
    pub sync_interval: Duration,
    /// How long a sync holds its tenant's lease without renewing it; a sync whose process died
    /// is taken over after this.
    pub sync_lease: TimeDelta,
    /// This process's name in leases and job claims.
    pub worker_name: String,
    /// Writeback jobs claimed at once, and how many run at the same time.
    pub writeback_batch: u32,
    pub writeback_concurrency: usize,
    /// How long an idle worker waits before looking for work again.
    pub poll_interval: Duration,
    /// How long an admin has to come back from the Microsoft sign-in page.
    pub sign_in_timeout: TimeDelta,
    /// How many tenants' matching indexes are kept between syncs (so that a sync matches only
    /// what changed); 0 keeps none. A tenant with a million contacts needs a few hundred MiB.
    pub match_cache_tenants: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sync_interval: Duration::from_secs(5 * 60),
            sync_lease: TimeDelta::minutes(2),
            worker_name: default_worker_name(),
            writeback_batch: 32,
            writeback_concurrency: 64,
            poll_interval: Duration::from_millis(500),
            sign_in_timeout: TimeDelta::minutes(15),
            match_cache_tenants: 4,
        }
    }
}

fn default_worker_name() -> String {
    format!(
        "worker-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What went wrong in an engine action, in terms the web layer maps to a response.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("The CRM is not connected.")]
    NotConnected,
    #[error("The CRM is already connected; disconnect it first.")]
    AlreadyConnected,
    /// Pre-flight or the CRM refused: the message and next step to show, and what was found.
    #[error("{}", .problem.message())]
    Refused {
        problem: ConnectionProblem,
        detail: String,
    },
    #[error("{0}")]
    Crm(#[from] CrmError),
    #[error("The settings cannot be saved: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
    Settings(Vec<domain::settings::SettingsError>),
    /// The sign-in did not come back in time, or came back with a state we did not issue.
    #[error("The Microsoft sign-in could not be completed: {0} Please start again.")]
    SignIn(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<store::secrets::SecretError> for SyncError {
    fn from(e: store::secrets::SecretError) -> Self {
        SyncError::Store(StoreError::Secret(e))
    }
}

impl SyncError {
    /// The documented message and next step for a CRM failure.
    pub fn refused(e: CrmError) -> SyncError {
        SyncError::Refused {
            problem: e.problem(),
            detail: e.detail,
        }
    }
}

pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// An open connection and the credential it was opened with.
struct Open {
    connection: CrmConnectionId,
    crm: Arc<dyn Crm>,
    /// The signed-in admin's refresh token as last stored, to notice another process rotated it.
    credential: Option<String>,
    /// Transport counts already turned into metrics.
    counted: TransportCounts,
}

/// The sync engine. Cheap to clone.
#[derive(Clone)]
pub struct SyncEngine {
    pub(crate) store: Store,
    pub(crate) connector: Arc<dyn CrmConnector>,
    pub(crate) config: EngineConfig,
    open: Arc<Mutex<HashMap<TenantId, Open>>>,
    /// Held while a client is opened, so that two callers racing for a tenant's first client
    /// share one: two clients would each redeem the same single-use refresh token, and the
    /// second would fail as if the connection were revoked.
    opening: Arc<tokio::sync::Mutex<()>>,
    /// Tenants' matching indexes, kept between their syncs.
    pub(crate) match_states: Arc<crate::match_pass::MatchStates>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("connector", &self.connector)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub(crate) const CLIENT_SECRET: &str = "client_secret";
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

impl SyncEngine {
    pub fn new(store: Store, connector: Arc<dyn CrmConnector>, config: EngineConfig) -> Self {
        SyncEngine {
            store,
            connector,
            config,
            open: Arc::new(Mutex::new(HashMap::new())),
            opening: Arc::new(tokio::sync::Mutex::new(())),
            match_states: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn tenant(&self, tenant: TenantId) -> TenantStore {
        self.store.tenant(tenant)
    }

    pub(crate) async fn live_connection(&self, tenant: TenantId) -> Result<ConnectionInfo> {
        self.tenant(tenant)
            .live_connection()
            .await?
            .ok_or(SyncError::NotConnected)
    }

    /// The open connection of the tenant's live CRM connection, opened from the stored
    /// credentials when needed.
    pub(crate) async fn crm(
        &self,
        tenant: TenantId,
        info: &ConnectionInfo,
    ) -> Result<Arc<dyn Crm>> {
        let id = info.connection.id;
        if let Some(open) = self.lock().get(&tenant).filter(|o| o.connection == id) {
            return Ok(open.crm.clone());
        }
        let _opening = self.opening.lock().await;
        if let Some(open) = self.lock().get(&tenant).filter(|o| o.connection == id) {
            return Ok(open.crm.clone());
        }
        let (target, credential) = self.target(tenant, info).await?;
        let crm = self.connector.open(&target)?;
        self.lock().insert(
            tenant,
            Open {
                connection: id,
                crm: crm.clone(),
                credential,
                counted: TransportCounts::default(),
            },
        );
        Ok(crm)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Open>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn target(
        &self,
        tenant: TenantId,
        info: &ConnectionInfo,
    ) -> Result<(ConnectionTarget, Option<String>)> {
        let id = info.connection.id;
        let mut store = self.tenant(tenant);
        let missing = || {
            SyncError::Crm(CrmError::new(
                crate::crm::CrmErrorKind::Credentials,
                "the stored credentials are missing; connect the CRM again",
            ))
        };
        let (credentials, credential) = match &info.connection.auth {
            CrmAuth::ApplicationUser {
                entra_tenant,
                client_id,
            } => {
                let secret = store.secret(id, CLIENT_SECRET).await?.ok_or_else(missing)?;
                (
                    Credentials::ApplicationUser {
                        entra_tenant: entra_tenant.clone(),
                        client_id: client_id.clone(),
                        client_secret: secret,
                    },
                    None,
                )
            }
            CrmAuth::SignedInAdmin { .. } => {
                let token = store.secret(id, REFRESH_TOKEN).await?.ok_or_else(missing)?;
                let exposed = token.expose_secret().to_owned();
                (
                    Credentials::SignedInAdmin {
                        refresh_token: token,
                    },
                    Some(exposed),
                )
            }
        };
        Ok((
            ConnectionTarget {
                org_url: info.connection.org_url.clone(),
                authority_url: info.authority_url.clone(),
                credentials,
            },
            credential,
        ))
    }

    /// Stores a credential the CRM rotated while this process used it. Called after every use,
    /// so a rotated refresh token is never only in memory for long.
    pub(crate) async fn keep_rotated_credential(
        &self,
        tenant: TenantId,
        connection: CrmConnectionId,
        crm: &Arc<dyn Crm>,
    ) -> Result<()> {
        let Some(token) = crm.rotated_credential().await else {
            return Ok(());
        };
        self.store_refresh_token(tenant, connection, &token).await
    }

    pub(crate) async fn store_refresh_token(
        &self,
        tenant: TenantId,
        connection: CrmConnectionId,
        token: &SecretString,
    ) -> Result<()> {
        self.tenant(tenant)
            .put_secret(connection, REFRESH_TOKEN, token)
            .await?;
        if let Some(open) = self.lock().get_mut(&tenant)
            && open.connection == connection
        {
            open.credential = Some(token.expose_secret().to_owned());
        }
        Ok(())
    }

    /// After a CRM call failed for its credentials: forgets the open connection, so the next use
    /// opens it again from what is stored (another process may have rotated the token, or the
    /// admin fixed the credentials). `true` when the stored credential differs from the one that
    /// failed, i.e. trying again now can work.
    pub(crate) async fn reopen_after_credentials_failure(&self, tenant: TenantId) -> Result<bool> {
        let previous = self.lock().remove(&tenant);
        let Some(previous) = previous else {
            return Ok(false);
        };
        let Some(used) = previous.credential else {
            return Ok(false);
        };
        let stored = self
            .tenant(tenant)
            .secret(previous.connection, REFRESH_TOKEN)
            .await?;
        Ok(stored.is_some_and(|s| s.expose_secret() != used))
    }

    /// Adds what the connection's client counted since last time to the metrics.
    pub(crate) fn count_transport(&self, tenant: TenantId) {
        let mut open = self.lock();
        let Some(open) = open.get_mut(&tenant) else {
            return;
        };
        let now = open.crm.transport_counts();
        crate::telemetry::crm_transport(
            now.throttled.saturating_sub(open.counted.throttled),
            now.retries.saturating_sub(open.counted.retries),
        );
        open.counted = now;
    }

    /// Forgets the tenant's open connection (disconnect, new credentials).
    pub(crate) fn forget(&self, tenant: TenantId) {
        self.lock().remove(&tenant);
    }
}
