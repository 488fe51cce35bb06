//! `leadbridge emulator`: runs the Dataverse emulator until interrupted or terminated, printing how
//! to reach it, and saves the org in the state directory before it exits.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use dataverse_emulator::seed::SeedSize;

#[derive(Clone, Copy, ValueEnum)]
pub enum Seed {
    Small,
    Medium,
    Large,
}

#[derive(Args)]
pub struct EmulatorArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Where the CA, keys, tenant identity, emulator.json and the org's data (org.data) live.
    /// Every write is kept there: stopping and starting on the same directory keeps the org.
    #[arg(long)]
    state_dir: PathBuf,
    /// Populate a new org with generated data. Ignored when the state directory already holds
    /// an org (unless --reset is given).
    #[arg(long, value_enum)]
    seed: Option<Seed>,
    /// Delete the org kept in the state directory and start again (from --seed, if given).
    #[arg(long)]
    reset: bool,
    /// The seed number: the same number gives the same org.
    #[arg(long, default_value_t = 1)]
    seed_number: u64,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    http: bool,
    /// OrganizationType reported by RetrieveCurrentOrganization (Customer, CustomerTest, …).
    #[arg(long, default_value = "Customer")]
    organization_type: String,
}

pub fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = dataverse_emulator::EmulatorConfig::new(args.listen, args.state_dir);
    config.http = args.http;
    config.seed = args.seed.map(|s| match s {
        Seed::Small => SeedSize::Small,
        Seed::Medium => SeedSize::Medium,
        Seed::Large => SeedSize::Large,
    });
    config.seed_number = args.seed_number;
    config.organization_type = args.organization_type;
    config.reset = args.reset;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let running = dataverse_emulator::start(config).await?;
        println!("{}", serde_json::to_string_pretty(&running.info)?);
        stop_requested().await?;
        // The last writes are saved before the process ends.
        running.shutdown().await?;
        anyhow::Ok(())
    })?;
    // Everything is saved: the process ends without freeing the org row by row, which takes
    // seconds for the large seed (the operating system reclaims it at once).
    std::process::exit(0)
}

/// Ctrl-C, or SIGTERM (what `kill` and service managers send).
async fn stop_requested() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
