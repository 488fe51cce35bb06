//! The engine's metrics, one function per event so names and labels are written once; the web
//! layer's Prometheus recorder exports them at `/metrics`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `leadbridge_sync_rows_read_total` | counter | `table` — rows the CRM sent (changed, deleted, unreadable) |
//! | `leadbridge_sync_rows_applied_total` | counter | `table` — rows written to (or removed from) the mirror |
//! | `leadbridge_sync_runs_total` | counter | `outcome` (`succeeded`, `failed`) |
//! | `leadbridge_sync_duration_seconds` | histogram | `outcome` |
//! | `leadbridge_writeback_total` | counter | `outcome` (`written`, `unassigned`, `removed`, `dropped`, `failed`) |
//! | `leadbridge_crm_throttled_total` | counter | — 429 answers from the CRM |
//! | `leadbridge_crm_retries_total` | counter | — requests the CRM client sent again |
//! | `leadbridge_jobs` | gauge | `state` (`queued`, `running`, `dead`) |
//! | `leadbridge_jobs_oldest_queued_age_seconds` | gauge | — |

use std::time::Duration;

use domain::crm::CrmTable;
use domain::timeline::WritebackState;
use store::jobs::QueueStats;

pub(crate) fn rows_read(table: CrmTable, rows: usize) {
    metrics::counter!("leadbridge_sync_rows_read_total", "table" => table.logical_name())
        .increment(rows as u64);
}

pub(crate) fn rows_applied(table: CrmTable, rows: usize) {
    metrics::counter!("leadbridge_sync_rows_applied_total", "table" => table.logical_name())
        .increment(rows as u64);
}

pub(crate) fn sync_finished(succeeded: bool, took: Duration) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    metrics::counter!("leadbridge_sync_runs_total", "outcome" => outcome).increment(1);
    metrics::histogram!("leadbridge_sync_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// A writeback moved to `state`; states that are no outcome are not counted.
pub(crate) fn writeback(state: &WritebackState) {
    let outcome = match state {
        WritebackState::Written { .. } => "written",
        WritebackState::Unassigned { .. } => "unassigned",
        WritebackState::Removed => "removed",
        WritebackState::Dropped { .. } => "dropped",
        WritebackState::Failed { .. } => "failed",
        WritebackState::Pending | WritebackState::RemovalPending => return,
    };
    metrics::counter!("leadbridge_writeback_total", "outcome" => outcome).increment(1);
}

pub(crate) fn crm_transport(throttled: u64, retries: u64) {
    metrics::counter!("leadbridge_crm_throttled_total").increment(throttled);
    metrics::counter!("leadbridge_crm_retries_total").increment(retries);
}

pub(crate) fn queue(stats: &QueueStats, oldest_age: Option<Duration>) {
    metrics::gauge!("leadbridge_jobs", "state" => "queued").set(stats.queued as f64);
    metrics::gauge!("leadbridge_jobs", "state" => "running").set(stats.running as f64);
    metrics::gauge!("leadbridge_jobs", "state" => "dead").set(stats.dead as f64);
    metrics::gauge!("leadbridge_jobs_oldest_queued_age_seconds")
        .set(oldest_age.map_or(0.0, |a| a.as_secs_f64()));
}
