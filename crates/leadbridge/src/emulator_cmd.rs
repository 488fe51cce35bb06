//! `leadbridge emulator`: runs the Dataverse emulator until interrupted, printing how to reach it.

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
    /// Where the CA, keys, tenant identity and emulator.json live.
    #[arg(long)]
    state_dir: PathBuf,
    /// Populate the org with generated data.
    #[arg(long, value_enum)]
    seed: Option<Seed>,
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
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let running = dataverse_emulator::start(config).await?;
        println!("{}", serde_json::to_string_pretty(&running.info)?);
        tokio::signal::ctrl_c().await?;
        running.stop().await;
        Ok(())
    })
}
