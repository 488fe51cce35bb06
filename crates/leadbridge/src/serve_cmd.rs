//! `leadbridge serve`: the web UI and REST API against the configured database, migrated at start.

use std::net::SocketAddr;

use clap::Args;
use secrecy::SecretString;

use crate::database::DatabaseArgs;

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
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut web = web::WebConfig::default();
    if args.secure_cookies {
        web.cookies = web::CookieSecurity::Always;
    }
    web.trust_forwarded_for = args.trust_forwarded_for;
    let config = web::ServeConfig {
        listen: args.listen,
        data_dir: args.database.data_dir,
        database_url: args.database.database_url,
        secret_key: args.secret_key.map(SecretString::from),
        web,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move { web::serve(config, shutdown_signal()).await })?;
    Ok(())
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
