//! The `leadbridge` binary: configuration, subcommands and wiring, nothing else.

mod admin_cmd;
mod database;
mod demo_cmd;
mod emulator_cmd;
mod import_cmd;
mod match_cmd;
mod migrate_cmd;
mod serve_cmd;
mod telemetry;
mod worker_cmd;

use clap::{Parser, Subcommand};

/// mimalloc rather than the C library's allocator, for the Rust code and (through its `override`
/// feature) for the bundled SQLite too: a sync builds and frees millions of small records across
/// threads, and glibc's per-thread arenas kept several hundred MiB of freed memory that mimalloc
/// returns to the system (docs/benchmarks.md, sync engine: peak 1,018 MiB → 772 MiB on SQLite).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "leadbridge",
    version,
    about = "Prospecting workspace with two-way Dynamics 365 sync"
)]
struct Cli {
    /// How log lines are written to standard error.
    #[arg(
        long,
        global = true,
        env = "LEADBRIDGE_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the REST API (runs pending migrations first).
    Serve(serve_cmd::ServeArgs),
    /// Import people or companies into a tenant's directory from a file (all or nothing).
    Import(import_cmd::ImportArgs),
    /// Run the standalone Dataverse Web API + Entra ID emulator.
    Emulator(emulator_cmd::EmulatorArgs),
    /// Match people or companies between two NDJSON files (for evaluating the matching engine).
    #[command(subcommand)]
    Match(match_cmd::MatchCommand),
    /// Apply the database schema migrations not applied yet.
    Migrate(database::DatabaseArgs),
    /// Set up an installation: tenants and users.
    #[command(subcommand)]
    Admin(admin_cmd::AdminCommand),
    /// Try leadbridge in one command: the product over HTTPS with the CRM emulator, seeded, kept
    /// between runs.
    Demo(demo_cmd::DemoArgs),
    /// Run the sync workers only (schedule, syncs, writebacks); run several against PostgreSQL.
    Worker(worker_cmd::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_logs(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Import(args) => import_cmd::run(args),
        Command::Emulator(args) => emulator_cmd::run(args),
        Command::Match(cmd) => match_cmd::run(cmd),
        Command::Migrate(args) => migrate_cmd::run(args),
        Command::Admin(cmd) => admin_cmd::run(cmd),
        Command::Worker(args) => worker_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
    }
}
