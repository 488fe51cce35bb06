//! The engine's own job: a tenant's sync, queued by the schedule, by connecting and by Sync now.
//! Writebacks use the store's [`store::writeback::WritebackJob`], enqueued with the activity.

use serde::{Deserialize, Serialize};
use store::jobs::Job;
use store::sync_runs::SyncTrigger;

/// Sync one tenant: read the CRM's changes, match, apply the import rule, retry writebacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub trigger: Trigger,
}

/// What asked for the sync (shown on the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Connect,
    Schedule,
    SyncNow,
}

impl From<Trigger> for SyncTrigger {
    fn from(trigger: Trigger) -> Self {
        match trigger {
            Trigger::Connect => SyncTrigger::Connect,
            Trigger::Schedule => SyncTrigger::Schedule,
            Trigger::SyncNow => SyncTrigger::SyncNow,
        }
    }
}

impl Job for SyncJob {
    const KIND: &'static str = "crm_sync";

    /// A tenant waits for at most one sync: asking again while one waits changes nothing.
    fn dedup_key(&self) -> Option<String> {
        Some("sync".to_owned())
    }
}
