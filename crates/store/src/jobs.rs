//! The durable job queue (outbox) in the same database as the data: typed jobs enqueued in the
//! caller's transaction, claimed under a lease, retried with backoff, dead-lettered with a reason.
//!
//! A claim marks jobs `running` with `locked_until = now + lease` in one statement; on PostgreSQL
//! its inner SELECT uses `FOR UPDATE SKIP LOCKED`, so concurrent workers take different jobs
//! without waiting, and on SQLite the single writer serialises claims. No transaction stays open
//! while a job runs: the lease is what holds it. A worker that dies leaves its lease to expire and
//! another worker claims the job again, so every job must be idempotent. A finished job is deleted.

use chrono::{DateTime, TimeDelta, Utc};
use domain::ids::TenantId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::{RowExt, list_placeholders, millis};
use crate::error::{Result, StoreError};
use crate::{Store, TenantStore};

/// A kind of background work. The payload is the job serialised as JSON.
pub trait Job: Serialize + DeserializeOwned {
    /// Stable name stored with the job; workers dispatch on it.
    const KIND: &'static str;

    /// Jobs with the same key (per tenant and kind) that are still waiting are one job: enqueueing
    /// again updates the waiting one (newest payload, earliest time) instead of adding another.
    fn dedup_key(&self) -> Option<String> {
        None
    }
}

/// Retry and lease policy shared by all jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Attempts before a job is dead-lettered.
    pub max_attempts: u32,
    /// How long a claim holds a job without a heartbeat.
    pub lease: TimeDelta,
    /// The wait before the second attempt; it doubles with each further one.
    pub backoff_base: TimeDelta,
    pub backoff_cap: TimeDelta,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_attempts: 8,
            lease: TimeDelta::minutes(5),
            backoff_base: TimeDelta::seconds(10),
            backoff_cap: TimeDelta::hours(1),
        }
    }
}

impl QueueConfig {
    /// The wait after failed attempt number `attempt` (1-based): base · 2^(attempt−1), capped.
    pub fn backoff(&self, attempt: u32) -> TimeDelta {
        let doublings = attempt.saturating_sub(1).min(30);
        let factor = 1_i32 << doublings;
        self.backoff_base
            .checked_mul(factor)
            .map_or(self.backoff_cap, |wait| wait.min(self.backoff_cap))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub Uuid);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Dead,
}

impl JobState {
    fn word(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }

    fn from_word(word: &str) -> Result<Self> {
        match word {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "dead" => Ok(JobState::Dead),
            other => Err(StoreError::corrupt(format!("{other:?} is not a job state"))),
        }
    }
}

/// A job a worker holds until `locked_until`; act on it with the `Store` methods that take it.
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    pub id: JobId,
    pub tenant: TenantId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    pub locked_until: DateTime<Utc>,
    lease_token: String,
}

impl ClaimedJob {
    pub fn decode<J: Job>(&self) -> Result<J> {
        serde_json::from_value(self.payload.clone()).map_err(|e| {
            StoreError::corrupt(format!("payload of {} job {}: {e}", self.kind, self.id))
        })
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Again after the backoff for this attempt, unless it was the last.
    Backoff,
    /// Again at this time (e.g. the CRM's Retry-After), unless it was the last attempt.
    At(DateTime<Utc>),
    /// The failure is permanent: dead-letter now.
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    RetryAt(DateTime<Utc>),
    DeadLettered,
    /// An equal job (same dedup key) was already waiting; it will do the work, this one is gone.
    Superseded,
    /// The lease had expired and another worker claimed the job: nothing was changed.
    LeaseLost,
}

/// A job as an admin sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobInfo {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub dedup_key: Option<String>,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Queue depth and age, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: u64,
    pub running: u64,
    pub dead: u64,
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn payload_of(row: &AnyRow) -> Result<serde_json::Value> {
    serde_json::from_str(&row.text("payload")?)
        .map_err(|e| StoreError::corrupt(format!("job payload: {e}")))
}

fn job_info(row: &AnyRow) -> Result<JobInfo> {
    Ok(JobInfo {
        id: JobId(row.uuid("id")?),
        kind: row.text("kind")?,
        payload: payload_of(row)?,
        dedup_key: row.opt_text("dedup_key")?,
        state: JobState::from_word(&row.text("state")?)?,
        attempts: count(row.int("attempts")?),
        max_attempts: count(row.int("max_attempts")?),
        run_at: row.time("run_at")?,
        locked_until: row.opt_time("locked_until")?,
        worker: row.opt_text("worker")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

const JOB_COLUMNS: &str = "id, kind, payload, dedup_key, state, attempts, max_attempts, run_at, \
     locked_until, worker, last_error, created_at, updated_at";

impl TenantStore {
    /// Enqueues a job to run now, in the caller's transaction if there is one.
    pub async fn enqueue<J: Job>(&mut self, job: &J) -> Result<JobId> {
        let now = self.now();
        self.enqueue_at(job, now).await
    }

    /// Enqueues a job to run at `run_at` (or later). With a dedup key already waiting, that job
    /// takes this payload and the earlier of the two times, and its id is returned.
    pub async fn enqueue_at<J: Job>(&mut self, job: &J, run_at: DateTime<Utc>) -> Result<JobId> {
        let payload = serde_json::to_string(job)
            .map_err(|e| StoreError::Invalid(format!("{} job payload: {e}", J::KIND)))?;
        let (t, now) = (self.tid(), millis(self.now()));
        let max_attempts = i64::from(self.store.queue.max_attempts);
        let row = sqlx::query(
            "INSERT INTO jobs (id, tenant_id, kind, payload, dedup_key, state, attempts, \
             max_attempts, run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) \
             ON CONFLICT (tenant_id, kind, dedup_key) WHERE state = 'queued' DO UPDATE SET \
             payload = excluded.payload, updated_at = excluded.updated_at, \
             run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at \
                      ELSE jobs.run_at END \
             RETURNING id",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(t)
        .bind(J::KIND)
        .bind(payload)
        .bind(job.dedup_key())
        .bind(max_attempts)
        .bind(millis(run_at))
        .bind(now)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(JobId(row.uuid("id")?))
    }

    /// The tenant's jobs in one state (all states when `None`), oldest first, for admins.
    pub async fn jobs(&mut self, state: Option<JobState>, limit: u32) -> Result<Vec<JobInfo>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             ORDER BY created_at, id LIMIT $3"
        )))
        .bind(t)
        .bind(state.map(JobState::word))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(job_info).collect()
    }

    pub async fn job(&mut self, id: JobId) -> Result<Option<JobInfo>> {
        let t = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(job_info).transpose()
    }

    /// Gives a dead-lettered job a fresh set of attempts, to run now. When an equal job is already
    /// waiting, the dead one is dropped instead: that one will do the work.
    pub async fn requeue_dead_job(&mut self, id: JobId) -> Result<()> {
        let (t, now) = (self.tid(), millis(self.now()));
        let mut tx = self.atomic().await?;
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND state = 'dead' AND NOT EXISTS ( \
               SELECT 1 FROM jobs d WHERE d.tenant_id = jobs.tenant_id AND d.kind = jobs.kind \
               AND d.dedup_key = jobs.dedup_key AND d.state = 'queued')",
        )
        .bind(&t)
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if requeued.rows_affected() == 0 {
            let dropped =
                sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND id = $2 AND state = 'dead'")
                    .bind(&t)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            if dropped.rows_affected() == 0 {
                return Err(StoreError::NotFound("dead-lettered job"));
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` jobs of the given kinds (any kind when empty) that are due, or whose
    /// previous claim expired. Each comes with a lease of [`QueueConfig::lease`].
    pub async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        limit: u32,
    ) -> Result<Vec<ClaimedJob>> {
        let now = self.now();
        self.bury_abandoned(now).await?;
        let locked_until = now + self.queue.lease;
        let lease_token = Uuid::new_v4().to_string();
        let kind_filter = if kinds.is_empty() {
            String::new()
        } else {
            format!(" AND kind IN ({})", list_placeholders(6, kinds.len()))
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, \
             lease_token = $2, worker = $3, updated_at = $4 \
             WHERE id IN (SELECT id FROM jobs \
               WHERE ((state = 'queued' AND run_at <= $4) \
                  OR (state = 'running' AND locked_until <= $4)){kind_filter} \
               ORDER BY run_at, created_at, id LIMIT $5{}) \
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts",
            self.backend.skip_locked()
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(millis(locked_until))
            .bind(&lease_token)
            .bind(worker)
            .bind(millis(now))
            .bind(i64::from(limit));
        for kind in kinds {
            query = query.bind(*kind);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedJob {
                    id: JobId(row.uuid("id")?),
                    tenant: row.id("tenant_id")?,
                    kind: row.text("kind")?,
                    payload: payload_of(row)?,
                    attempt: count(row.int("attempts")?),
                    max_attempts: count(row.int("max_attempts")?),
                    locked_until,
                    lease_token: lease_token.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|job| job.id);
        Ok(claimed)
    }

    /// A job whose worker vanished during its last attempt is dead-lettered rather than run again.
    async fn bury_abandoned(&self, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'dead', locked_until = NULL, lease_token = NULL, \
             updated_at = $1, last_error = 'The worker running its last attempt stopped before \
             finishing (its lease expired).' \
             WHERE state = 'running' AND locked_until <= $1 AND attempts >= max_attempts",
        )
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Extends the lease of a running job; `false` when it was lost (expired and claimed by
    /// another worker), in which case the worker must stop working on it.
    pub async fn extend_lease(&self, job: &mut ClaimedJob) -> Result<bool> {
        let now = self.now();
        let locked_until = now + self.queue.lease;
        let done = sqlx::query(
            "UPDATE jobs SET locked_until = $3, updated_at = $4 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .bind(millis(locked_until))
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        let held = done.rows_affected() == 1;
        if held {
            job.locked_until = locked_until;
        }
        Ok(held)
    }

    /// Removes a finished job; `false` when its lease was lost (the other worker's run counts).
    pub async fn complete_job(&self, job: &ClaimedJob) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: schedules the next one, or dead-letters the job with `reason`
    /// when the attempts are used up or the failure is permanent.
    pub async fn fail_job(&self, job: &ClaimedJob, reason: &str, retry: Retry) -> Result<Failed> {
        let now = self.now();
        let id = job.id.to_string();
        let retry_at = match retry {
            _ if job.is_last_attempt() => None,
            Retry::Never => None,
            Retry::Backoff => Some(now + self.queue.backoff(job.attempt)),
            Retry::At(at) => Some(at.max(now)),
        };
        let Some(retry_at) = retry_at else {
            let done = sqlx::query(
                "UPDATE jobs SET state = 'dead', last_error = $3, locked_until = NULL, \
                 lease_token = NULL, updated_at = $4 \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(&id)
            .bind(&job.lease_token)
            .bind(reason)
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
            return Ok(if done.rows_affected() == 1 {
                Failed::DeadLettered
            } else {
                Failed::LeaseLost
            });
        };
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $3, last_error = $4, locked_until = NULL, \
             lease_token = NULL, worker = NULL, updated_at = $5 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running' AND NOT EXISTS ( \
               SELECT 1 FROM jobs d WHERE d.tenant_id = jobs.tenant_id AND d.kind = jobs.kind \
               AND d.dedup_key = jobs.dedup_key AND d.state = 'queued')",
        )
        .bind(&id)
        .bind(&job.lease_token)
        .bind(millis(retry_at))
        .bind(reason)
        .bind(millis(now))
        .execute(&self.pool)
        .await;
        match requeued {
            Ok(done) if done.rows_affected() == 1 => return Ok(Failed::RetryAt(retry_at)),
            Ok(_) => {}
            // An equal job was enqueued between the check and the update.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
        let dropped = sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(&id)
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(if dropped.rows_affected() == 1 {
            Failed::Superseded
        } else {
            Failed::LeaseLost
        })
    }

    /// Counts over all tenants, for the metrics endpoint.
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs GROUP BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stats = QueueStats::default();
        for row in &rows {
            let n = u64::try_from(row.int("n")?).unwrap_or_default();
            match JobState::from_word(&row.text("state")?)? {
                JobState::Queued => {
                    stats.queued = n;
                    stats.oldest_queued_at = row.opt_time("oldest")?;
                }
                JobState::Running => stats.running = n,
                JobState::Dead => stats.dead = n,
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_stops_at_the_cap() {
        let config = QueueConfig {
            backoff_base: TimeDelta::seconds(10),
            backoff_cap: TimeDelta::minutes(5),
            ..QueueConfig::default()
        };
        let waits: Vec<i64> = (1..=8)
            .map(|attempt| config.backoff(attempt).num_seconds())
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(config.backoff(0).num_seconds(), 10);
        assert_eq!(config.backoff(u32::MAX), config.backoff_cap);
    }
}
