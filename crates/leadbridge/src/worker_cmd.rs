//! `leadbridge worker`: the sync workers alone (schedule, syncs, writebacks) against the shared
//! database; run any number of them against one PostgreSQL. Stops on Ctrl-C or SIGTERM after the
//! job in hand.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use store::secrets::Keyring;
use store::{Backend, Store, StoreOptions};

use crate::database::DatabaseArgs;
use leadbridge::engine_args::{EngineArgs, shutdown_signal};

#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The key that encrypts CRM secrets at rest (`[version:]64 hex`, or a list
    /// `1:<hex>,2:<hex>`), the same in every process. Without it, the key file in the data
    /// directory is used.
    #[arg(long, env = "LEADBRIDGE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Serve Prometheus metrics at `http://ADDRESS/metrics` (e.g. 127.0.0.1:9464).
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    engine: EngineArgs,
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
    options.queue.lease = args.engine.job_lease();
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
    let engine = args.engine.build(store.clone())?.engine;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let metrics = crate::telemetry::install_metrics()?;
    let metrics_server = match args.metrics_listen {
        Some(address) => {
            let listener = crate::telemetry::bind_metrics(address).await?;
            Some(tokio::spawn(crate::telemetry::serve_metrics(
                listener,
                metrics,
                shutdown.clone(),
            )))
        }
        None => None,
    };
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
    if let Some(server) = metrics_server {
        server.await??;
    }
    store.close().await;
    tracing::info!("worker stopped");
    Ok(())
}
