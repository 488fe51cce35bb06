//! `leadbridge match people|companies`: runs the matching engine over two NDJSON files.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum MatchCommand {
    /// Match people (left) to CRM contacts/leads (right).
    People,
    /// Match companies (left) to CRM accounts (right).
    Companies,
}

pub fn run(_cmd: MatchCommand) -> anyhow::Result<()> {
    anyhow::bail!("matching is not available yet")
}
