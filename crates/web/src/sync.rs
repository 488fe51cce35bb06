//! What the REST API asks of the sync engine (connect, disconnect, sync now, the org's choices,
//! the what-if preview, the companion app, resolving unassigned activities), as a trait the engine
//! implements; and the implementation used until it does, which answers from the store alone.
//!
//! Handlers validate and authorise before calling; the engine gets well-formed requests for the
//! caller's own tenant and answers with [`SyncError`]s the API renders as problems.

use std::fmt;

use domain::crm::CompanionApp;
use domain::ids::{ActivityId, TenantId};
use domain::purge::PurgeReceipt;
use domain::settings::{OrgChoices, PipelineStage};
use domain::timeline::Resolution;
use domain::writeback::Regarding;
use futures_util::future::BoxFuture;
use secrecy::SecretString;
use store::{Store, StoreError};

use crate::problem::{Problem, ProblemCode};

/// How leadbridge signs in to the org.
pub enum ConnectRequest {
    /// An application user (client credentials).
    Application {
        org_url: url::Url,
        entra_tenant: String,
        client_id: String,
        client_secret: SecretString,
        /// The sign-in authority when it is not the public cloud's.
        authority_url: Option<url::Url>,
        /// A PEM CA certificate to trust for the org and the authority (private clouds, the
        /// emulator).
        ca_cert: Option<String>,
    },
    /// An admin signs in (authorization code with PKCE); the engine answers the URL to send
    /// the admin to.
    Delegated {
        org_url: url::Url,
        entra_tenant: String,
        client_id: String,
        client_secret: Option<SecretString>,
        authority_url: Option<url::Url>,
        ca_cert: Option<String>,
    },
}

impl fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectRequest::Application {
                org_url,
                entra_tenant,
                client_id,
                authority_url,
                ..
            } => f
                .debug_struct("Application")
                .field("org_url", &org_url.as_str())
                .field("entra_tenant", entra_tenant)
                .field("client_id", client_id)
                .field("client_secret", &"***")
                .field(
                    "authority_url",
                    &authority_url.as_ref().map(url::Url::as_str),
                )
                .finish_non_exhaustive(),
            ConnectRequest::Delegated {
                org_url,
                entra_tenant,
                client_id,
                ..
            } => f
                .debug_struct("Delegated")
                .field("org_url", &org_url.as_str())
                .field("entra_tenant", entra_tenant)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// What a successful connect leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Pre-flight passed, the connection is recorded and the first sync started.
    Connected,
    /// The admin must sign in at this URL; the engine finishes on the redirect back.
    SignIn { url: String },
}

/// The what-if counts for a pipeline stage answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    pub open_opportunities: u64,
    /// Open opportunities past the stage (all open ones for Not Sure).
    pub qualifying_opportunities: u64,
    /// Accounts and contacts that would be saved for the reps with sync on.
    pub accounts: u64,
    pub leads: u64,
    /// Seats with sync on and a CRM user, whose items these are.
    pub seats: u64,
}

/// How a rep resolves an activity from Unassigned Activities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolve {
    /// Create the person as a contact (or a lead) in the CRM and link the activity to it.
    Create(Resolution),
    /// Link to an existing CRM record.
    Link(Regarding),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No CRM is connected.
    #[error("No CRM is connected.")]
    NotConnected,
    /// The work needs the sync engine and this process does not run it.
    #[error("{0} needs the CRM sync engine, which this server does not run.")]
    EngineMissing(&'static str),
    /// One of the documented CRM failures, with its message and next step.
    #[error("{message}")]
    Crm { message: String, next_step: String },
    /// The request cannot work against this org (on-premises, sandbox, a missing privilege…).
    #[error("{message}")]
    Refused {
        message: String,
        next_step: Option<String>,
    },
    /// Something already running (a sync) must finish first.
    #[error("{0}")]
    Busy(String),
    /// A record the engine needed (e.g. the activity's writeback) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SyncError> for Problem {
    fn from(error: SyncError) -> Problem {
        match error {
            SyncError::NotConnected => Problem::new(ProblemCode::NotConnected)
                .detail(error.to_string())
                .next_step("Connect the CRM in Admin Settings → CRM Settings."),
            SyncError::EngineMissing(_) => Problem::new(ProblemCode::NotConnected)
                .detail(error.to_string())
                .next_step("Run leadbridge with the sync engine enabled."),
            SyncError::Crm { message, next_step } => Problem::new(ProblemCode::CrmError)
                .detail(message)
                .next_step(next_step),
            SyncError::Refused { message, next_step } => {
                let problem = Problem::new(ProblemCode::ValidationFailed).detail(message);
                match next_step {
                    Some(step) => problem.next_step(step),
                    None => problem,
                }
            }
            SyncError::Busy(message) => Problem::new(ProblemCode::Conflict).detail(message),
            SyncError::NotFound(what) => Problem::not_found(what),
            SyncError::Store(e) => e.into(),
        }
    }
}

pub type SyncResult<'a, T> = BoxFuture<'a, Result<T, SyncError>>;

/// The sync engine as the REST API drives it. Every call is for one tenant, already authorised.
pub trait SyncControl: Send + Sync + 'static {
    fn connect(&self, tenant: TenantId, request: ConnectRequest) -> SyncResult<'_, ConnectOutcome>;
    /// Finishes a delegated sign-in from the redirect's `code` and `state`.
    fn finish_sign_in(
        &self,
        tenant: TenantId,
        code: String,
        state: String,
    ) -> SyncResult<'_, ConnectOutcome>;
    /// Stops syncing and disconnects; with `purge`, removes everything that came from the CRM
    /// and answers the receipt.
    fn disconnect(&self, tenant: TenantId, purge: bool) -> SyncResult<'_, Option<PurgeReceipt>>;
    fn sync_now(&self, tenant: TenantId) -> SyncResult<'_, ()>;
    /// The stages, money columns and companion app of the connected org.
    fn choices(&self, tenant: TenantId) -> SyncResult<'_, OrgChoices>;
    fn preview(&self, tenant: TenantId, stage: PipelineStage) -> SyncResult<'_, Preview>;
    /// The companion app as the org has it now.
    fn companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp>;
    fn install_companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp>;
    /// Creates or links the CRM record and rewrites the activity Completed.
    fn resolve_unassigned(
        &self,
        tenant: TenantId,
        activity: ActivityId,
        resolve: Resolve,
    ) -> SyncResult<'_, ()>;
}

/// Until the sync engine runs in the process: what the store alone can do (disconnect, purge) is
/// done; everything that talks to the CRM answers not connected, or that the engine is missing.
#[derive(Clone, Debug)]
pub struct StoreOnly {
    store: Store,
}

impl StoreOnly {
    pub fn new(store: Store) -> Self {
        StoreOnly { store }
    }

    /// Why work that needs the engine cannot be done: no connection, or no engine to use it.
    async fn refusal<T>(&self, tenant: TenantId, what: &'static str) -> Result<T, SyncError> {
        match self.store.tenant(tenant).live_connection().await? {
            Some(_) => Err(SyncError::EngineMissing(what)),
            None => Err(SyncError::NotConnected),
        }
    }
}

impl SyncControl for StoreOnly {
    fn connect(&self, _: TenantId, _: ConnectRequest) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async { Err(SyncError::EngineMissing("Connecting to a CRM")) })
    }

    fn finish_sign_in(&self, _: TenantId, _: String, _: String) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async { Err(SyncError::EngineMissing("Signing in to the CRM")) })
    }

    fn disconnect(&self, tenant: TenantId, purge: bool) -> SyncResult<'_, Option<PurgeReceipt>> {
        Box::pin(async move {
            let mut t = self.store.tenant(tenant);
            let connection = t.live_connection().await?.ok_or(SyncError::NotConnected)?;
            if purge {
                Ok(Some(t.purge_crm_data().await?))
            } else {
                t.disconnect(connection.connection.id).await?;
                Ok(None)
            }
        })
    }

    fn sync_now(&self, tenant: TenantId) -> SyncResult<'_, ()> {
        Box::pin(self.refusal(tenant, "Syncing"))
    }

    fn choices(&self, tenant: TenantId) -> SyncResult<'_, OrgChoices> {
        Box::pin(self.refusal(tenant, "Reading the org's choices"))
    }

    fn preview(&self, tenant: TenantId, _: PipelineStage) -> SyncResult<'_, Preview> {
        Box::pin(self.refusal(tenant, "The preview"))
    }

    fn companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(self.refusal(tenant, "Checking the companion app"))
    }

    fn install_companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(self.refusal(tenant, "Installing the companion app"))
    }

    fn resolve_unassigned(
        &self,
        tenant: TenantId,
        _: ActivityId,
        _: Resolve,
    ) -> SyncResult<'_, ()> {
        Box::pin(self.refusal(tenant, "Resolving an unassigned activity"))
    }
}
