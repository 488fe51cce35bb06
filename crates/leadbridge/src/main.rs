//! The `leadbridge` binary: configuration, subcommands and wiring, nothing else.

mod match_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "leadbridge", version, about = "Prospecting workspace with two-way Dynamics 365 sync")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Match people or companies between two NDJSON files (for evaluating the matching engine).
    #[command(subcommand)]
    Match(match_cmd::MatchCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Match(cmd) => match_cmd::run(cmd),
    }
}
