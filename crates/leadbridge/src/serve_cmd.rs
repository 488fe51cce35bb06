//! `leadbridge serve`: the web UI and REST API against the configured database, migrated at
//! start, with the sync workers in the same process unless `--no-workers`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;

use crate::database::DatabaseArgs;
use leadbridge::engine_args::{EngineArgs, shutdown_signal};
use leadbridge::sync_control::EngineControl;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The key that encrypts CRM secrets at rest (`[version:]64 hex`). Without it, a key file is
    /// read from (or generated into) the data directory.
    #[arg(long, env = "LEADBRIDGE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Mark session cookies Secure even without `X-Forwarded-Proto: https` (the server is only
    /// reached over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
    /// A reverse proxy in front always sets X-Forwarded-For: count sign-in failures per client
    /// address from it rather than per proxy.
    #[arg(long)]
    trust_forwarded_for: bool,
    /// Serve only; leave syncs and writebacks to `leadbridge worker` processes.
    #[arg(long)]
    no_workers: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut web = web::WebConfig::default();
    if args.secure_cookies {
        web.cookies = web::CookieSecurity::Always;
    }
    web.trust_forwarded_for = args.trust_forwarded_for;
    let config = web::ServeConfig {
        listen: args.listen,
        data_dir: args.database.data_dir.clone(),
        database_url: args.database.database_url.clone(),
        secret_key: args.secret_key.map(SecretString::from),
        web,
    };
    let store = web::server::open_store(&config).await?;
    let built = args.engine.build(store.clone())?;
    let engine = built.engine.clone();
    let metrics = crate::telemetry::install_metrics()?;
    let state = web::AppState::new(store.clone(), config.web.clone())
        .with_sync(Arc::new(EngineControl {
            engine: built.engine,
            extra_ca_pems: built.extra_ca_pems,
            sign_in_client_id: built.sign_in_client_id,
        }))
        .with_metrics(crate::telemetry::metrics_render(metrics));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, backend = ?store.backend(), "serving");

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = (!args.no_workers).then(|| {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { sync::worker::run_workers(&engine, shutdown).await })
    });
    let mut stopped = shutdown.clone();
    let served = web::serve_on(listener, state, async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
    })
    .await;
    let _ = stop.send(true);
    if let Some(workers) = workers {
        workers.await??;
    }
    store.close().await;
    served?;
    Ok(())
}
