//! The workers: the schedule that queues each connected tenant's sync, the loop that runs syncs,
//! and the loop that runs writebacks. `serve` runs them in-process on SQLite; on PostgreSQL any
//! number of `leadbridge worker` processes share them.
//!
//! Nothing is held in memory between jobs: jobs are claimed from the store's queue (SKIP LOCKED on
//! PostgreSQL) under a lease, and a tenant's sync also takes the tenant's sync lease, so a worker
//! that dies leaves work another picks up once the leases expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use domain::ids::TenantId;
use store::jobs::{ClaimedJob, Job, Retry};
use store::writeback::WritebackJob;
use tokio::sync::watch;
use tracing::Instrument;

use crate::engine::{Result, SyncEngine};
use crate::import::SyncRunResult;
use crate::jobs::{SyncJob, Trigger};
use crate::writeback::{JobOutcome, TenantContext};

/// How long a tenant's writeback context is reused: a change of settings or credentials reaches
/// the writebacks within this.
const CONTEXT_TTL: Duration = Duration::from_secs(5);

/// Tells the workers to stop: send `true`. Each finishes the job in hand first.
pub type Shutdown = watch::Receiver<bool>;

/// Runs the schedule, the sync loop and the writeback loop until `shutdown` says stop.
pub async fn run_workers(engine: &SyncEngine, shutdown: Shutdown) -> Result<()> {
    let (schedule, syncs, writebacks) = tokio::join!(
        engine.schedule_loop(shutdown.clone()),
        engine.sync_loop(shutdown.clone()),
        engine.writeback_loop(shutdown),
    );
    schedule?;
    syncs?;
    writebacks
}

/// Waits `wait`, or less if told to stop; `true` when it is time to stop.
async fn pause(shutdown: &mut Shutdown, wait: Duration) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => *shutdown.borrow(),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

impl SyncEngine {
    /// Queues each connected tenant's next sync at its due time.
    async fn schedule_loop(&self, mut shutdown: Shutdown) -> Result<()> {
        let tick = self.config.sync_interval.min(Duration::from_secs(30));
        loop {
            if let Err(e) = self.schedule_due().await {
                tracing::warn!(error = %e, "scheduling syncs failed");
            }
            match self.store.queue_stats().await {
                Ok(stats) => {
                    let age = stats
                        .oldest_queued_at
                        .and_then(|at| (self.store.now() - at).to_std().ok());
                    crate::telemetry::queue(&stats, age);
                }
                Err(e) => tracing::warn!(error = %e, "reading the queue failed"),
            }
            if pause(&mut shutdown, tick).await {
                return Ok(());
            }
        }
    }

    async fn schedule_due(&self) -> Result<()> {
        let interval = TimeDelta::from_std(self.config.sync_interval).unwrap_or(TimeDelta::MAX);
        let now = self.store.now();
        for tenant in self.store.tenants().await? {
            let mut store = self.tenant(tenant.id);
            if store.live_connection().await?.is_none() {
                continue;
            }
            let due = match store.sync_runs(1).await?.first() {
                Some(last) => (last.started_at + interval).max(now),
                None => now,
            };
            store
                .enqueue_at(
                    &SyncJob {
                        trigger: Trigger::Schedule,
                    },
                    due,
                )
                .await?;
        }
        Ok(())
    }

    async fn sync_loop(&self, mut shutdown: Shutdown) -> Result<()> {
        loop {
            let claimed = match self
                .store
                .claim_jobs(&self.config.worker_name, &[SyncJob::KIND], 1)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming sync jobs failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                if pause(&mut shutdown, self.config.poll_interval).await {
                    return Ok(());
                }
                continue;
            }
            for job in claimed {
                if let Err(e) = self.run_sync_job(&job).await {
                    tracing::warn!(tenant = %job.tenant, error = %e, "sync job failed");
                    let _ = self
                        .store
                        .fail_job(&job, &e.to_string(), Retry::Backoff)
                        .await;
                }
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    async fn run_sync_job(&self, job: &ClaimedJob) -> Result<()> {
        let sync: SyncJob = job.decode()?;
        match self.run_sync(job.tenant, sync.trigger).await? {
            SyncRunResult::Busy => {
                // Another process is syncing the tenant: this request runs after it.
                let again = self.store.now() + self.config.sync_lease / 4;
                self.store.complete_job(job).await?;
                self.tenant(job.tenant).enqueue_at(&sync, again).await?;
            }
            SyncRunResult::Finished(_) | SyncRunResult::NotConnected => {
                self.store.complete_job(job).await?;
            }
        }
        Ok(())
    }

    /// Runs writebacks continuously: as soon as one of the `writeback_concurrency` slots frees
    /// up, more jobs are claimed, so a steady stream of notes never waits for a whole batch. A
    /// tenant's context (client, settings, CRM users) is read once and reused for a few seconds.
    async fn writeback_loop(&self, mut shutdown: Shutdown) -> Result<()> {
        let mut running = tokio::task::JoinSet::new();
        let mut contexts: HashMap<TenantId, (Instant, Arc<Option<TenantContext>>)> = HashMap::new();
        let slots = self.config.writeback_concurrency.max(1);
        loop {
            let stopping = *shutdown.borrow();
            let mut claimed_any = false;
            let free = slots.saturating_sub(running.len());
            if !stopping && free > 0 {
                let want = u32::try_from(free)
                    .unwrap_or(u32::MAX)
                    .min(self.config.writeback_batch.max(1));
                let claimed = match self
                    .store
                    .claim_jobs(&self.config.worker_name, &[WritebackJob::KIND], want)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming writeback jobs failed");
                        Vec::new()
                    }
                };
                claimed_any = !claimed.is_empty();
                contexts.retain(|_, (read, _)| read.elapsed() < CONTEXT_TTL);
                for job in claimed {
                    let tenant = job.tenant;
                    let context = match contexts.get(&tenant) {
                        Some((_, context)) => Ok(context.clone()),
                        None => match self.tenant_context(tenant).await {
                            Ok(context) => {
                                let context = Arc::new(context);
                                contexts.insert(tenant, (Instant::now(), context.clone()));
                                Ok(context)
                            }
                            Err(e) => Err(e),
                        },
                    };
                    match context {
                        Ok(context) => {
                            let engine = self.clone();
                            running
                                .spawn(async move { engine.run_writeback_job(job, context).await });
                        }
                        Err(e) => {
                            let _ = self
                                .store
                                .fail_job(&job, &e.to_string(), Retry::Backoff)
                                .await;
                        }
                    }
                }
            }
            if running.is_empty() {
                if stopping {
                    return Ok(());
                }
                if !claimed_any && pause(&mut shutdown, self.config.poll_interval).await {
                    return Ok(());
                }
                continue;
            }
            if stopping || running.len() >= slots || !claimed_any {
                // Full, out of work or stopping: wait for a job to finish (or, with free slots,
                // for the next poll).
                if running.len() >= slots || stopping {
                    running.join_next().await;
                } else {
                    tokio::select! {
                        _ = running.join_next() => {}
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
            while running.try_join_next().is_some() {}
        }
    }

    /// Runs one claimed writeback job and records how it went.
    async fn run_writeback_job(&self, job: ClaimedJob, context: Arc<Option<TenantContext>>) {
        let tenant = job.tenant;
        let outcome = match job.decode::<WritebackJob>() {
            Ok(writeback) => {
                let span =
                    tracing::info_span!("writeback", %tenant, activity = %writeback.activity);
                self.run_writeback(tenant, context.as_ref().as_ref(), &writeback)
                    .instrument(span)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        let done = match outcome {
            Ok(JobOutcome::Done) => self.store.complete_job(&job).await.map(|_| ()),
            Ok(JobOutcome::Retry { reason, at }) => {
                let retry = at.map_or(Retry::Backoff, Retry::At);
                self.store.fail_job(&job, &reason, retry).await.map(|_| ())
            }
            Ok(JobOutcome::GiveUp { reason }) => self
                .store
                .fail_job(&job, &reason, Retry::Never)
                .await
                .map(|_| ()),
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "writeback job failed");
                self.store
                    .fail_job(&job, &e.to_string(), Retry::Backoff)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = done {
            tracing::warn!(%tenant, error = %e, "recording a writeback job failed");
        }
        self.count_transport(tenant);
    }
}
