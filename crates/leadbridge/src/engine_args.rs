//! The sync engine's settings, shared by `serve` (in-process workers) and `worker`, and the one
//! place that builds a `SyncEngine` from them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use store::Store;
use sync::crm::dynamics::{Dynamics, DynamicsConfig, SignInApp};
use sync::{EngineConfig, SyncEngine};

#[derive(Args, Clone, Debug)]
pub struct EngineArgs {
    /// How often each connected tenant is synced, in seconds.
    #[arg(long, default_value_t = 300)]
    pub sync_interval_seconds: u64,
    /// A PEM file of certificate authorities to trust for CRM orgs and sign-in, besides the
    /// system's (a proxy's CA, the emulator's).
    #[arg(long, env = "LEADBRIDGE_CRM_CA_CERT")]
    pub crm_ca_cert: Option<PathBuf>,
    /// Accept CRM orgs outside Dynamics 365 online (the emulator). For tests and demos only.
    #[arg(long)]
    pub allow_non_dynamics_host: bool,
    /// How long a claimed job is held before another worker may take it over (a worker that died
    /// holding it), in seconds.
    #[arg(long, default_value_t = 300)]
    pub job_lease_seconds: u64,
    /// How long a tenant's sync lease holds without renewal, in seconds.
    #[arg(long, default_value_t = 120)]
    pub sync_lease_seconds: u64,
    /// This process's name in job claims and leases [default: worker-<pid>-<random>].
    #[arg(long)]
    pub name: Option<String>,
    /// The Entra app registration admins sign in through when they connect by signing in.
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_CLIENT_ID")]
    pub sign_in_client_id: Option<String>,
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_CLIENT_SECRET", hide_env_values = true)]
    pub sign_in_client_secret: Option<String>,
    /// Where Entra sends the admin back: this server's `/api/v1/admin/crm/connect/callback`.
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_REDIRECT_URI")]
    pub sign_in_redirect_uri: Option<String>,
    #[arg(
        long,
        env = "LEADBRIDGE_SIGN_IN_TENANT",
        default_value = "organizations"
    )]
    pub sign_in_tenant: String,
}

/// What the web layer needs to know about how the engine was built.
pub struct BuiltEngine {
    pub engine: SyncEngine,
    pub extra_ca_pems: Vec<String>,
    pub sign_in_client_id: Option<String>,
}

impl EngineArgs {
    pub fn job_lease(&self) -> chrono::TimeDelta {
        seconds(self.job_lease_seconds)
    }

    pub fn build(&self, store: Store) -> anyhow::Result<BuiltEngine> {
        let extra_ca_pems = match &self.crm_ca_cert {
            Some(path) => vec![
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ],
            None => Vec::new(),
        };
        let sign_in = match (&self.sign_in_client_id, &self.sign_in_redirect_uri) {
            (Some(client_id), Some(redirect_uri)) => Some(SignInApp {
                client_id: client_id.clone(),
                client_secret: self.sign_in_client_secret.clone().map(SecretString::from),
                redirect_uri: redirect_uri.clone(),
                entra_tenant: self.sign_in_tenant.clone(),
            }),
            _ => None,
        };
        let sign_in_client_id = sign_in.as_ref().map(|s| s.client_id.clone());
        let dynamics = Dynamics::new(DynamicsConfig {
            extra_ca_pems: extra_ca_pems.clone(),
            allow_non_dynamics_host: self.allow_non_dynamics_host,
            sign_in,
            ..DynamicsConfig::default()
        });
        let mut config = EngineConfig {
            sync_interval: Duration::from_secs(self.sync_interval_seconds.max(1)),
            sync_lease: seconds(self.sync_lease_seconds),
            ..EngineConfig::default()
        };
        if let Some(name) = &self.name {
            config.worker_name = name.clone();
        }
        Ok(BuiltEngine {
            engine: SyncEngine::new(store, Arc::new(dynamics), config),
            extra_ca_pems,
            sign_in_client_id,
        })
    }
}

fn seconds(n: u64) -> chrono::TimeDelta {
    i64::try_from(n.max(1))
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .unwrap_or(chrono::TimeDelta::MAX)
}

/// Ctrl-C, or SIGTERM from a service manager or container runtime.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
