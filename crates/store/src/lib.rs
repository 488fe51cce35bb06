//! leadbridge's persistence: one [`Store`] over SQLite (the default, a file in the data directory)
//! or PostgreSQL, with versioned migrations, the job outbox, encrypted CRM secrets and accounts.
//!
//! Two handles split the API:
//! - [`Store`] holds what is not one tenant's: tenants themselves, sign-in (which is how a caller
//!   learns its tenant), the workers' side of the job queue, and migrations.
//! - [`TenantStore`] (from [`Store::tenant`]) holds everything else. Every query it runs is
//!   bound to its tenant, so no method can reach another tenant's rows. [`TenantStore::begin`]
//!   turns it into a transaction: the writes made through it, and the jobs it enqueues, commit
//!   together or not at all.
//!
//! The invariant: every write that must survive a crash is in one transaction with the job that
//! follows from it (the outbox). [`TenantStore::add_activity`] is the model: the note and its
//! writeback job are written together.
//!
//! The methods live in the module of what they are about: [`tenants`], [`accounts`],
//! [`directory`], [`saved`], [`activities`], [`crm`], [`secrets`], [`matches`](mod@matches),
//! [`writeback`], [`sync_runs`], [`jobs`], [`purge`].

// Tests unwrap fixtures they built themselves; nothing from outside reaches those unwraps.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accounts;
pub mod activities;
pub mod clock;
mod codec;
pub mod crm;
mod db;
pub mod directory;
mod error;
pub mod jobs;
pub mod matches;
pub mod purge;
pub mod saved;
pub mod secrets;
pub mod sync_runs;
pub mod tenants;
pub mod writeback;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ids::TenantId;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::db::{Backend, MAX_ROWS_PER_STATEMENT, redact_url};
pub use crate::error::{Result, StoreError};

use crate::accounts::ThrottlePolicy;
use crate::db::Conn;
use crate::jobs::QueueConfig;
use crate::secrets::Keyring;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database file name inside the data directory.
pub const SQLITE_FILE_NAME: &str = "leadbridge.db";

/// The default database: `sqlite://<data_dir>/leadbridge.db`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join(SQLITE_FILE_NAME).display())
}

/// Each SQLite connection's page cache, in KiB.
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// How to open a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub database_url: String,
    pub max_connections: u32,
    /// Needed to read or write CRM secrets; the other operations work without it.
    pub keyring: Option<Arc<Keyring>>,
    pub queue: QueueConfig,
    pub throttle: ThrottlePolicy,
    pub clock: Arc<dyn Clock>,
    /// How long a SQLite writer waits for the write lock before giving up.
    pub sqlite_busy_timeout: Duration,
}

impl StoreOptions {
    pub fn new(database_url: impl Into<String>) -> Self {
        StoreOptions {
            database_url: database_url.into(),
            max_connections: 10,
            keyring: None,
            queue: QueueConfig::default(),
            throttle: ThrottlePolicy::default(),
            clock: Arc::new(SystemClock),
            sqlite_busy_timeout: Duration::from_secs(30),
        }
    }
}

/// The database and the settings every operation shares. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    keyring: Option<Arc<Keyring>>,
    queue: QueueConfig,
    throttle: ThrottlePolicy,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("keyring", &self.keyring)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database (creating a SQLite file and its directory if missing). It does not
    /// migrate: call [`Store::migrate`] (or the `leadbridge migrate` command) for that.
    pub async fn connect(options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.database_url)?;
        let mut url = options.database_url.clone();
        let mut pool_options = AnyPoolOptions::new().max_connections(options.max_connections);
        if backend == Backend::Sqlite {
            url = prepare_sqlite(&url)?;
            let busy_ms = options.sqlite_busy_timeout.as_millis();
            pool_options = pool_options.after_connect(move |conn, _| {
                Box::pin(async move {
                    // WAL lets readers work while one writer writes; NORMAL sync is durable across
                    // a process crash in WAL mode (a power cut may lose the last commits). Each
                    // connection's page cache is 16 MiB (default 2 MiB): enough for the upper
                    // levels of the indexes a large import updates at random places (ids are
                    // random), while the pool's connections together stay far under the process's
                    // memory budget (the operating system caches the file anyway). No memory
                    // map: its pages would count as the process's memory. Temporary b-trees stay
                    // in memory; the log is copied back into the database every 64 MiB rather
                    // than every 4 MiB, so a large import rewrites each index page fewer times.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = {busy_ms}; \
                         PRAGMA cache_size = -{SQLITE_CACHE_KIB}; PRAGMA temp_store = MEMORY; \
                         PRAGMA wal_autocheckpoint = 16384;"
                    )))
                    .await?;
                    Ok(())
                })
            });
        }
        // One direct connection first: when the server cannot be reached, its error says why,
        // where the pool would only report a timeout.
        sqlx::Connection::close(<sqlx::AnyConnection as sqlx::Connection>::connect(&url).await?)
            .await?;
        let pool = pool_options.connect(&url).await?;
        Ok(Store {
            pool,
            backend,
            keyring: options.keyring,
            queue: options.queue,
            throttle: options.throttle,
            clock: options.clock,
        })
    }

    /// Applies the migrations not applied yet; running it again changes nothing. Several processes
    /// may run it at once: on PostgreSQL the migrator holds an advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// How many migrations this build has that the database has not applied; `serve` refuses to
    /// start on a PostgreSQL schema that is behind (run `leadbridge migrate`).
    pub async fn pending_migrations(&self) -> Result<usize> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // A database never migrated has no bookkeeping table yet: everything is pending.
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await
            {
                Ok(applied) => applied,
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Brings PostgreSQL's statistics of the tables a sync writes up to date. After a sync has
    /// written hundreds of thousands of rows the planner still believes those tables small, and
    /// picks plans (a full scan per lookup) that cost seconds a query; autovacuum comes too late
    /// for the queries that follow at once. SQLite's planner needs no such help.
    pub async fn refresh_statistics(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query(
                "ANALYZE crm_users, crm_accounts, crm_contacts, crm_leads, crm_opportunities, \
                 people, companies, person_matches, company_matches, saved_leads, saved_accounts",
            )
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The handle for one tenant's data. It does not check that the tenant exists: operations on
    /// an unknown tenant find nothing and refuse to write.
    pub fn tenant(&self, tenant: TenantId) -> TenantStore {
        TenantStore {
            store: self.clone(),
            tenant,
            tx: None,
        }
    }

    /// Waits for borrowed connections to come back, then closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The keys CRM secrets are sealed with (the sync engine also seals a pending sign-in with them).
    pub fn keyring(&self) -> Result<&Keyring> {
        self.keyring
            .as_deref()
            .ok_or(StoreError::Secret(secrets::SecretError::NoKeyring))
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        db::begin(&self.pool, self.backend).await
    }
}

/// Opens the database at `database_url`, applies pending migrations and closes it again.
pub async fn migrate(database_url: &str) -> Result<()> {
    let store = Store::connect(StoreOptions::new(database_url)).await?;
    let result = store.migrate().await;
    store.close().await;
    result
}

/// Adds `mode=rwc` (create if missing) unless a mode is given, and creates the file's directory.
fn prepare_sqlite(url: &str) -> Result<String> {
    let options = SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(StoreError::DataDir)?;
    }
    if url.contains("mode=") {
        Ok(url.to_owned())
    } else if url.contains('?') {
        Ok(format!("{url}&mode=rwc"))
    } else {
        Ok(format!("{url}?mode=rwc"))
    }
}

/// One tenant's data. Every query is bound to the tenant given to [`Store::tenant`].
///
/// Outside a transaction each method runs on its own (a method that writes several rows is still
/// atomic). After [`TenantStore::begin`] everything runs in one transaction until
/// [`TenantStore::commit`]; dropping it uncommitted rolls everything back. After a method fails
/// inside a transaction, roll it back: PostgreSQL refuses further statements in it.
pub struct TenantStore {
    store: Store,
    tenant: TenantId,
    tx: Option<Transaction<'static, Any>>,
}

impl fmt::Debug for TenantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantStore")
            .field("tenant", &self.tenant)
            .field("in_transaction", &self.tx.is_some())
            .finish()
    }
}

impl TenantStore {
    pub fn id(&self) -> TenantId {
        self.tenant
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Starts a transaction; an already started one is kept (there is no nesting to commit).
    pub async fn begin(mut self) -> Result<TenantStore> {
        if self.tx.is_none() {
            self.tx = Some(self.store.begin().await?);
        }
        Ok(self)
    }

    /// Commits what was written since [`TenantStore::begin`]; without a transaction, nothing to do.
    pub async fn commit(self) -> Result<()> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        if let Some(tx) = self.tx {
            tx.rollback().await?;
        }
        Ok(())
    }

    /// Starts a transaction unless the caller holds one; `true` when this call started it.
    pub(crate) async fn enter(&mut self) -> Result<bool> {
        if self.tx.is_some() {
            return Ok(false);
        }
        self.tx = Some(self.store.begin().await?);
        Ok(true)
    }

    /// Ends what [`TenantStore::enter`] started: commits on success, rolls back on error. A
    /// transaction the caller holds is left to the caller.
    pub(crate) async fn leave<T>(&mut self, started: bool, result: Result<T>) -> Result<T> {
        if started && let Some(tx) = self.tx.take() {
            match &result {
                Ok(_) => tx.commit().await?,
                Err(_) => {
                    // The error that caused the rollback is the one worth reporting.
                    let _ = tx.rollback().await;
                }
            }
        }
        result
    }

    /// The tenant id as stored.
    pub(crate) fn tid(&self) -> String {
        self.tenant.to_string()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.store.now()
    }

    pub(crate) fn backend(&self) -> Backend {
        self.store.backend
    }

    pub(crate) async fn conn(&mut self) -> Result<Conn<'_>> {
        db::conn(&self.store.pool, &mut self.tx).await
    }

    /// A transaction for a method that writes several rows: a savepoint inside the caller's
    /// transaction, or a transaction of its own.
    pub(crate) async fn atomic(&mut self) -> Result<Transaction<'_, Any>> {
        db::atomic(&self.store.pool, self.store.backend, &mut self.tx).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// The SQLite migrations are the PostgreSQL ones with SQLite's type names, statement for
    /// statement, so the two schemas cannot drift apart.
    #[test]
    fn sqlite_migrations_are_the_postgres_ones_in_sqlite_types() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |backend: &str| {
            let mut names: Vec<String> = std::fs::read_dir(dir.join(backend))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let postgres = names("postgres");
        assert!(!postgres.is_empty());
        assert_eq!(postgres, names("sqlite"));
        for name in postgres {
            let pg = std::fs::read_to_string(dir.join("postgres").join(&name)).unwrap();
            let sqlite = std::fs::read_to_string(dir.join("sqlite").join(&name)).unwrap();
            let expected: Vec<String> = pg
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with("--") {
                        line.to_owned()
                    } else {
                        line.replace("BIGINT", "INTEGER")
                            .replace("BOOLEAN", "INTEGER")
                            .replace("BYTEA", "BLOB")
                    }
                })
                .collect();
            assert_eq!(sqlite.lines().collect::<Vec<_>>(), expected, "{name}");
        }
    }
}
