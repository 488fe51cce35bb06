//! `leadbridge migrate`: applies the schema migrations not applied yet.

use crate::database::DatabaseArgs;

pub fn run(args: DatabaseArgs) -> anyhow::Result<()> {
    let url = args.url();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(store::migrate(&url))?;
    eprintln!("Database {} is up to date.", store::redact_url(&url));
    Ok(())
}
