//! `leadbridge import`: loads a directory file (people or companies; JSON array, NDJSON or CSV)
//! into a tenant, all or nothing, reporting every bad record with its line.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde_json::json;
use web::directory::{CompanyRow, Format, ImportError, PersonRow, import_file};

use crate::admin_cmd::open;
use crate::database::DatabaseArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    People,
    Companies,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FileFormat {
    Json,
    Ndjson,
    Csv,
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The tenant's id.
    #[arg(long)]
    tenant: uuid::Uuid,
    #[arg(long, value_enum)]
    kind: Kind,
    /// The file's format; by default from its extension (.json, .ndjson/.jsonl, .csv).
    #[arg(long, value_enum)]
    format: Option<FileFormat>,
    file: PathBuf,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let format = match args.format {
        Some(FileFormat::Json) => Format::Json,
        Some(FileFormat::Ndjson) => Format::Ndjson,
        Some(FileFormat::Csv) => Format::Csv,
        None => Format::from_path(&args.file).ok_or_else(|| {
            anyhow::anyhow!(
                "cannot tell the format of {} from its extension; pass --format",
                args.file.display()
            )
        })?,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = open(&args.database).await?;
        let tenant = store.tenant(domain::ids::TenantId(args.tenant));
        let started = Instant::now();
        let result = match args.kind {
            Kind::People => import_file::<PersonRow>(tenant, format, &args.file).await,
            Kind::Companies => import_file::<CompanyRow>(tenant, format, &args.file).await,
        };
        store.close().await;
        match result {
            Ok(report) => {
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "{}",
                    json!({
                        "upserted": report.upserted,
                        "seconds": (seconds * 1000.0).round() / 1000.0,
                    })
                );
                Ok(())
            }
            Err(ImportError::Records { total, listed }) => {
                for error in &listed {
                    match error.line {
                        Some(line) => eprintln!("line {line}: {}: {}", error.path, error.message),
                        None => eprintln!("{}: {}", error.path, error.message),
                    }
                }
                if total > listed.len() {
                    eprintln!("… and {} more", total - listed.len());
                }
                anyhow::bail!(
                    "{total} record(s) of {} have errors; nothing was imported",
                    args.file.display()
                )
            }
            Err(ImportError::Input(problem)) => {
                for error in &problem.errors {
                    eprintln!("{}: {}", error.path, error.message);
                }
                anyhow::bail!(
                    "{}: {}",
                    args.file.display(),
                    problem.detail.unwrap_or_default()
                )
            }
            Err(ImportError::Store(e)) => Err(e.into()),
        }
    })
}
