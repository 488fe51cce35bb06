//! The workers: the schedule that queues each connected tenant's sync, the loop that runs syncs,
//! and the loop that runs writebacks. `serve` runs them in-process on SQLite; on PostgreSQL any
//! number of `leadbridge worker` processes share them.
//!
//! Nothing is held in memory between jobs: jobs are claimed from the store's queue (SKIP LOCKED on
//! PostgreSQL) under a lease, and a tenant's sync also takes the tenant's sync lease, so a worker
//! that dies leaves work another picks up once the leases expire.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use domain::ids::TenantId;
use futures_util::StreamExt;
use store::jobs::{ClaimedJob, Job, Retry};
use store::writeback::WritebackJob;
use tokio::sync::watch;
use tracing::Instrument;

use crate::engine::{Result, SyncEngine};
use crate::import::SyncRunResult;
use crate::jobs::{SyncJob, Trigger};
use crate::writeback::JobOutcome;

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

    async fn writeback_loop(&self, mut shutdown: Shutdown) -> Result<()> {
        loop {
            let claimed = match self
                .store
                .claim_jobs(
                    &self.config.worker_name,
                    &[WritebackJob::KIND],
                    self.config.writeback_batch,
                )
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming writeback jobs failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                if pause(&mut shutdown, self.config.poll_interval).await {
                    return Ok(());
                }
                continue;
            }
            self.run_writeback_batch(claimed).await;
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// Runs a batch of writeback jobs, several at a time, each tenant's context read once.
    pub(crate) async fn run_writeback_batch(&self, claimed: Vec<ClaimedJob>) {
        let mut by_tenant: BTreeMap<TenantId, Vec<ClaimedJob>> = BTreeMap::new();
        for job in claimed {
            by_tenant.entry(job.tenant).or_default().push(job);
        }
        for (tenant, jobs) in by_tenant {
            let context = match self.tenant_context(tenant).await {
                Ok(context) => context,
                Err(e) => {
                    for job in &jobs {
                        let _ = self
                            .store
                            .fail_job(job, &e.to_string(), Retry::Backoff)
                            .await;
                    }
                    continue;
                }
            };
            futures_util::stream::iter(jobs)
                .for_each_concurrent(self.config.writeback_concurrency, |job| {
                    let context = context.as_ref();
                    async move {
                        let outcome = match job.decode::<WritebackJob>() {
                            Ok(writeback) => {
                                let span = tracing::info_span!(
                                    "writeback",
                                    %tenant,
                                    activity = %writeback.activity
                                );
                                self.run_writeback(tenant, context, &writeback)
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
                    }
                })
                .await;
            self.count_transport(tenant);
        }
    }
}
