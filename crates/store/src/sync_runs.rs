//! Sync runs as the admin page shows them (phase, rows done of an estimated total, errors), and the
//! per-tenant sync lease that lets only one sync of a tenant run at a time across processes.

use chrono::{DateTime, TimeDelta, Utc};
use domain::crm::CrmTable;
use domain::ids::CrmConnectionId;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, millis};
use crate::error::{Result, StoreError};
use crate::tenants::found;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncRunId(pub Uuid);

impl std::fmt::Display for SyncRunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What started a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncTrigger {
    /// The first sync after connecting.
    Connect,
    Schedule,
    /// An admin pressed Sync now.
    SyncNow,
}

impl Word for SyncTrigger {
    const WHAT: &'static str = "sync trigger";
    const ALL: &'static [(Self, &'static str)] = &[
        (SyncTrigger::Connect, "connect"),
        (SyncTrigger::Schedule, "schedule"),
        (SyncTrigger::SyncNow, "sync_now"),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Succeeded,
    Failed,
    /// The process running it stopped; the next sync picks up from the stored delta tokens.
    Interrupted,
}

impl Word for SyncOutcome {
    const WHAT: &'static str = "sync outcome";
    const ALL: &'static [(Self, &'static str)] = &[
        (SyncOutcome::Succeeded, "succeeded"),
        (SyncOutcome::Failed, "failed"),
        (SyncOutcome::Interrupted, "interrupted"),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub connection: CrmConnectionId,
    pub trigger: SyncTrigger,
    /// Free text for the progress line, e.g. "Reading contacts".
    pub phase: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` while it runs.
    pub outcome: Option<SyncOutcome>,
    pub rows_done: u64,
    /// The estimated total, when known (for the ETA).
    pub rows_total: Option<u64>,
    pub error: Option<String>,
    pub error_next_step: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRunError {
    pub at: DateTime<Utc>,
    pub table: Option<CrmTable>,
    pub message: String,
}

/// The right to run the tenant's sync until `expires_at`; renew it while working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncLease {
    pub holder: String,
    pub expires_at: DateTime<Utc>,
    token: String,
}

const RUN_COLUMNS: &str = "id, connection_id, trigger, phase, started_at, updated_at, finished_at, \
     outcome, rows_done, rows_total, error, error_next_step";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn run_from_row(row: &AnyRow) -> Result<SyncRun> {
    Ok(SyncRun {
        id: SyncRunId(row.uuid("id")?),
        connection: row.id("connection_id")?,
        trigger: SyncTrigger::from_word(&row.text("trigger")?)?,
        phase: row.text("phase")?,
        started_at: row.time("started_at")?,
        updated_at: row.time("updated_at")?,
        finished_at: row.opt_time("finished_at")?,
        outcome: row
            .opt_text("outcome")?
            .map(|o| SyncOutcome::from_word(&o))
            .transpose()?,
        rows_done: count(row.int("rows_done")?),
        rows_total: row.opt_int("rows_total")?.map(count),
        error: row.opt_text("error")?,
        error_next_step: row.opt_text("error_next_step")?,
    })
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl TenantStore {
    pub async fn start_sync_run(
        &mut self,
        connection: CrmConnectionId,
        trigger: SyncTrigger,
    ) -> Result<SyncRun> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let id = SyncRunId(Uuid::new_v4());
        let done = sqlx::query(
            "INSERT INTO sync_runs (tenant_id, id, connection_id, trigger, phase, started_at, \
             updated_at, rows_done) SELECT tenant_id, $3, id, $4, 'Starting', $5, $5, 0 \
             FROM crm_connections WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(id.to_string())
        .bind(trigger.word())
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")?;
        self.sync_run(id)
            .await?
            .ok_or(StoreError::NotFound("sync run"))
    }

    /// Records progress; the admin page derives the ETA from it and the start time.
    pub async fn update_sync_progress(
        &mut self,
        run: SyncRunId,
        phase: &str,
        rows_done: u64,
        rows_total: Option<u64>,
    ) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let done = sqlx::query(
            "UPDATE sync_runs SET phase = $3, rows_done = $4, rows_total = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2 AND finished_at IS NULL",
        )
        .bind(tenant)
        .bind(run.to_string())
        .bind(phase)
        .bind(as_i64(rows_done))
        .bind(rows_total.map(as_i64))
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "running sync run")
    }

    /// Notes a problem that did not stop the run (a row that could not be read, say).
    pub async fn record_sync_error(
        &mut self,
        run: SyncRunId,
        table: Option<CrmTable>,
        message: &str,
    ) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let mut tx = self.atomic().await?;
        let locked =
            sqlx::query("UPDATE sync_runs SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant)
                .bind(run.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        found(locked.rows_affected(), "sync run")?;
        sqlx::query(
            "INSERT INTO sync_run_errors (tenant_id, run_id, seq, at, table_name, message) \
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5 FROM sync_run_errors \
             WHERE tenant_id = $1 AND run_id = $2",
        )
        .bind(&tenant)
        .bind(run.to_string())
        .bind(now)
        .bind(table.map(|t| t.word()))
        .bind(message)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn finish_sync_run(
        &mut self,
        run: SyncRunId,
        outcome: SyncOutcome,
        error: Option<(&str, &str)>,
    ) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let done = sqlx::query(
            "UPDATE sync_runs SET outcome = $3, finished_at = $4, updated_at = $4, error = $5, \
             error_next_step = $6 WHERE tenant_id = $1 AND id = $2 AND finished_at IS NULL",
        )
        .bind(tenant)
        .bind(run.to_string())
        .bind(outcome.word())
        .bind(now)
        .bind(error.map(|(message, _)| message))
        .bind(error.map(|(_, next)| next))
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "running sync run")
    }

    pub async fn sync_run(&mut self, id: SyncRunId) -> Result<Option<SyncRun>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The most recent runs, newest first.
    pub async fn sync_runs(&mut self, limit: u32) -> Result<Vec<SyncRun>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 \
             ORDER BY started_at DESC, id LIMIT $2"
        )))
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    pub async fn sync_run_errors(&mut self, run: SyncRunId) -> Result<Vec<SyncRunError>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT at, table_name, message FROM sync_run_errors WHERE tenant_id = $1 AND run_id = $2 \
             ORDER BY seq",
        )
        .bind(tenant)
        .bind(run.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SyncRunError {
                    at: row.time("at")?,
                    table: row
                        .opt_text("table_name")?
                        .map(|t| CrmTable::from_word(&t))
                        .transpose()?,
                    message: row.text("message")?,
                })
            })
            .collect()
    }

    /// Takes the tenant's sync lease for `ttl` unless another holder has an unexpired one.
    pub async fn acquire_sync_lease(
        &mut self,
        holder: &str,
        ttl: TimeDelta,
    ) -> Result<Option<SyncLease>> {
        let (tenant, now) = (self.tid(), self.now());
        let token = Uuid::new_v4().to_string();
        let expires_at = now + ttl;
        // The conditional upsert is one atomic statement in both databases: of two processes
        // racing for an expired lease, the second sees the first's fresh expiry and gets no row.
        let row = sqlx::query(
            "INSERT INTO sync_leases (tenant_id, holder, token, acquired_at, expires_at) \
             SELECT id, $2, $3, $4, $5 FROM tenants WHERE id = $1 \
             ON CONFLICT (tenant_id) DO UPDATE SET holder = excluded.holder, \
             token = excluded.token, acquired_at = excluded.acquired_at, \
             expires_at = excluded.expires_at WHERE sync_leases.expires_at <= $4 \
             RETURNING token",
        )
        .bind(tenant)
        .bind(holder)
        .bind(&token)
        .bind(millis(now))
        .bind(millis(expires_at))
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(|_| SyncLease {
            holder: holder.to_owned(),
            expires_at,
            token,
        }))
    }

    /// Extends the lease; `false` when it was lost (it expired and someone else took it).
    pub async fn renew_sync_lease(
        &mut self,
        lease: &mut SyncLease,
        ttl: TimeDelta,
    ) -> Result<bool> {
        let (tenant, now) = (self.tid(), self.now());
        let expires_at = now + ttl;
        let done = sqlx::query(
            "UPDATE sync_leases SET expires_at = $3 WHERE tenant_id = $1 AND token = $2",
        )
        .bind(tenant)
        .bind(&lease.token)
        .bind(millis(expires_at))
        .execute(&mut *self.conn().await?)
        .await?;
        let held = done.rows_affected() == 1;
        if held {
            lease.expires_at = expires_at;
        }
        Ok(held)
    }

    /// Gives the lease back so the next sync need not wait for it to expire.
    pub async fn release_sync_lease(&mut self, lease: SyncLease) -> Result<()> {
        let tenant = self.tid();
        sqlx::query("DELETE FROM sync_leases WHERE tenant_id = $1 AND token = $2")
            .bind(tenant)
            .bind(&lease.token)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// Who holds the tenant's sync lease and until when, if anyone does.
    pub async fn sync_lease_holder(&mut self) -> Result<Option<(String, DateTime<Utc>)>> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let row = sqlx::query(
            "SELECT holder, expires_at FROM sync_leases WHERE tenant_id = $1 AND expires_at > $2",
        )
        .bind(tenant)
        .bind(now)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.map(|r| Ok((r.text("holder")?, r.time("expires_at")?)))
            .transpose()
    }
}
