//! `leadbridge worker`: the sync workers alone (schedule, syncs, writebacks) against the shared
//! database; run any number of them against one PostgreSQL. Stops on Ctrl-C or SIGTERM after the
//! job in hand.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use store::secrets::Keyring;
use store::{Backend, Store, StoreOptions};
use sync::crm::dynamics::{Dynamics, DynamicsConfig, SignInApp};
use sync::{EngineConfig, SyncEngine};

use crate::database::DatabaseArgs;

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The key that encrypts CRM secrets at rest (`[version:]64 hex`, or a list
    /// `1:<hex>,2:<hex>`), the same in every process. Without it, the key file in the data
    /// directory is used.
    #[arg(long, env = "LEADBRIDGE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// How often each connected tenant is synced, in seconds.
    #[arg(long, default_value_t = 300)]
    sync_interval_seconds: u64,
    /// A PEM file of certificate authorities to trust for CRM orgs and sign-in, besides the
    /// system's (a proxy's CA, the emulator's).
    #[arg(long, env = "LEADBRIDGE_CRM_CA_CERT")]
    crm_ca_cert: Option<PathBuf>,
    /// Accept CRM orgs outside Dynamics 365 online (the emulator). For tests and demos only.
    #[arg(long)]
    allow_non_dynamics_host: bool,
    /// How long a claimed job is held before another worker may take it over (a worker that died
    /// holding it), in seconds.
    #[arg(long, default_value_t = 300)]
    job_lease_seconds: u64,
    /// How long a tenant's sync lease holds without renewal, in seconds.
    #[arg(long, default_value_t = 120)]
    sync_lease_seconds: u64,
    /// This process's name in job claims and leases [default: worker-<pid>-<random>].
    #[arg(long)]
    name: Option<String>,
    /// leadbridge's Entra app registration for admins who connect by signing in.
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_CLIENT_ID")]
    sign_in_client_id: Option<String>,
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_CLIENT_SECRET", hide_env_values = true)]
    sign_in_client_secret: Option<String>,
    #[arg(long, env = "LEADBRIDGE_SIGN_IN_REDIRECT_URI")]
    sign_in_redirect_uri: Option<String>,
    #[arg(
        long,
        env = "LEADBRIDGE_SIGN_IN_TENANT",
        default_value = "organizations"
    )]
    sign_in_tenant: String,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(work(args))
}

async fn work(args: WorkerArgs) -> anyhow::Result<()> {
    let keyring = match &args.secret_key {
        Some(key) => Keyring::from_config(&SecretString::from(key.clone()))?,
        None => Keyring::load_or_generate(&args.database.data_dir)?,
    };
    let url = args.database.url();
    let mut options = StoreOptions::new(url.clone());
    options.keyring = Some(Arc::new(keyring));
    options.queue.lease = seconds(args.job_lease_seconds);
    let store = Store::connect(options)
        .await
        .with_context(|| format!("cannot open {}", store::redact_url(&url)))?;
    if store.backend() == Backend::Sqlite {
        store.migrate().await?;
    } else if store.pending_migrations().await? > 0 {
        anyhow::bail!(
            "the database schema is not up to date: run `leadbridge migrate` against {} first",
            store::redact_url(&url)
        );
    }
    let extra_ca_pems = match &args.crm_ca_cert {
        Some(path) => vec![
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ],
        None => Vec::new(),
    };
    let sign_in = match (&args.sign_in_client_id, &args.sign_in_redirect_uri) {
        (Some(client_id), Some(redirect_uri)) => Some(SignInApp {
            client_id: client_id.clone(),
            client_secret: args.sign_in_client_secret.clone().map(SecretString::from),
            redirect_uri: redirect_uri.clone(),
            entra_tenant: args.sign_in_tenant.clone(),
        }),
        _ => None,
    };
    let dynamics = Dynamics::new(DynamicsConfig {
        extra_ca_pems,
        allow_non_dynamics_host: args.allow_non_dynamics_host,
        sign_in,
        ..DynamicsConfig::default()
    });
    let mut config = EngineConfig {
        sync_interval: Duration::from_secs(args.sync_interval_seconds.max(1)),
        sync_lease: seconds(args.sync_lease_seconds),
        ..EngineConfig::default()
    };
    if let Some(name) = args.name {
        config.worker_name = name;
    }
    let engine = SyncEngine::new(store.clone(), Arc::new(dynamics), config);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    tracing::info!(
        worker = %engine.config().worker_name,
        database = %store::redact_url(&url),
        "worker started"
    );
    sync::worker::run_workers(&engine, shutdown).await?;
    store.close().await;
    tracing::info!("worker stopped");
    Ok(())
}

fn seconds(n: u64) -> chrono::TimeDelta {
    i64::try_from(n.max(1))
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .unwrap_or(chrono::TimeDelta::MAX)
}

/// Ctrl-C, or SIGTERM from a service manager or container runtime.
async fn shutdown_signal() {
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
