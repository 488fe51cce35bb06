//! Where the database is: `--database-url`, or a SQLite file in `--data-dir`. Shared by every
//! subcommand that opens the store.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// sqlite://path/to/file.db or postgres://user@host/db [default: sqlite://<data-dir>/leadbridge.db]
    #[arg(long, env = "LEADBRIDGE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where leadbridge keeps its files (the SQLite database, the secret key file).
    #[arg(long, env = "LEADBRIDGE_DATA_DIR", default_value = "./leadbridge-data")]
    pub data_dir: PathBuf,
}

impl DatabaseArgs {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| store::sqlite_url(&self.data_dir))
    }
}
