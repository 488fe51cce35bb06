//! What the sync did per day, for the admins' sync dashboard: CRM records imported by the outcome
//! of their sync run, activities written to the CRM by outcome, throttling by the CRM and errors.
//! Read from the store's sync runs and writeback timelines; the UI draws it, an API can serve it.
//!
//! The store keeps no per-day counters yet, so this walks the runs and the timelines of the days
//! asked for; its cost grows with the tenant's activity (see `MAX_RUNS`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::timeline::WritebackEvent;
use store::sync_runs::SyncOutcome;
use store::{StoreError, TenantStore};

/// The most sync runs read (newest first).
pub const MAX_RUNS: u32 = 2000;

/// How the sync runs that imported records ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImportOutcome {
    Succeeded,
    Failed,
    Interrupted,
    Running,
}

impl ImportOutcome {
    pub const ALL: [ImportOutcome; 4] = [
        ImportOutcome::Succeeded,
        ImportOutcome::Failed,
        ImportOutcome::Interrupted,
        ImportOutcome::Running,
    ];

    pub fn word(self) -> &'static str {
        match self {
            ImportOutcome::Succeeded => "succeeded",
            ImportOutcome::Failed => "failed",
            ImportOutcome::Interrupted => "interrupted",
            ImportOutcome::Running => "running",
        }
    }
}

/// What happened when leadbridge wrote an activity to the CRM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteOutcome {
    /// Written Completed and linked to a contact, lead or account.
    Completed,
    /// Written Open with nothing to link to (Unassigned Activities).
    Open,
    /// Linked and completed from Unassigned Activities.
    Resolved,
    Failed,
}

impl WriteOutcome {
    pub const ALL: [WriteOutcome; 4] = [
        WriteOutcome::Completed,
        WriteOutcome::Open,
        WriteOutcome::Resolved,
        WriteOutcome::Failed,
    ];

    pub fn word(self) -> &'static str {
        match self {
            WriteOutcome::Completed => "completed",
            WriteOutcome::Open => "open",
            WriteOutcome::Resolved => "resolved",
            WriteOutcome::Failed => "failed",
        }
    }
}

/// Counts per day, oldest day first; every series has one value per day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyStats {
    pub days: Vec<NaiveDate>,
    pub imported: BTreeMap<ImportOutcome, Vec<u64>>,
    pub written: BTreeMap<WriteOutcome, Vec<u64>>,
    /// Errors the CRM's service protection limits caused (HTTP 429 and its messages).
    pub throttled: Vec<u64>,
    /// Every other error: of sync runs, of writebacks.
    pub errors: Vec<u64>,
}

/// Whether an error text is the CRM throttling us: the words of the Dataverse service protection
/// limits (their three documented messages) and of our client's `Throttled` error.
pub fn is_throttling(message: &str) -> bool {
    let message = message.to_lowercase();
    [
        "throttl",
        "service protection",
        "http 429",
        "too many requests",
        "number of requests exceeded",
        "combined execution time",
        "number of concurrent requests exceeded",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

struct Window {
    first: NaiveDate,
    days: usize,
}

impl Window {
    fn index(&self, at: &DateTime<Utc>) -> Option<usize> {
        let offset = at.date_naive().signed_duration_since(self.first).num_days();
        usize::try_from(offset).ok().filter(|i| *i < self.days)
    }
}

impl DailyStats {
    fn empty(window: &Window) -> DailyStats {
        let zeros = vec![0; window.days];
        DailyStats {
            days: (0..window.days)
                .map(|i| window.first + TimeDelta::days(i64::try_from(i).unwrap_or_default()))
                .collect(),
            imported: ImportOutcome::ALL
                .into_iter()
                .map(|o| (o, zeros.clone()))
                .collect(),
            written: WriteOutcome::ALL
                .into_iter()
                .map(|o| (o, zeros.clone()))
                .collect(),
            throttled: zeros.clone(),
            errors: zeros,
        }
    }

    fn error(&mut self, day: usize, message: &str) {
        let series = if is_throttling(message) {
            &mut self.throttled
        } else {
            &mut self.errors
        };
        if let Some(n) = series.get_mut(day) {
            *n += 1;
        }
    }
}

fn bump<K: Ord>(series: &mut BTreeMap<K, Vec<u64>>, key: K, day: usize, by: u64) {
    if let Some(n) = series.get_mut(&key).and_then(|v| v.get_mut(day)) {
        *n += by;
    }
}

/// The `days` days up to and including `today`.
pub async fn daily_stats(
    tenant: &mut TenantStore,
    today: NaiveDate,
    days: usize,
) -> Result<DailyStats, StoreError> {
    let window = Window {
        first: today - TimeDelta::days(i64::try_from(days).unwrap_or(1) - 1),
        days,
    };
    let mut stats = DailyStats::empty(&window);

    for run in tenant.sync_runs(MAX_RUNS).await? {
        let Some(day) = window.index(&run.started_at) else {
            continue;
        };
        let outcome = match run.outcome {
            None => ImportOutcome::Running,
            Some(SyncOutcome::Succeeded) => ImportOutcome::Succeeded,
            Some(SyncOutcome::Failed) => ImportOutcome::Failed,
            Some(SyncOutcome::Interrupted) => ImportOutcome::Interrupted,
        };
        bump(&mut stats.imported, outcome, day, run.rows_done);
        if let Some(error) = &run.error {
            stats.error(day, error);
        }
        for error in tenant.sync_run_errors(run.id).await? {
            if let Some(day) = window.index(&error.at) {
                stats.error(day, &error.message);
            }
        }
    }

    for activity in tenant.all_activities().await? {
        let Some(record) = tenant.writeback_record(activity.id).await? else {
            continue;
        };
        for entry in &record.timeline {
            let Some(day) = window.index(&entry.at) else {
                continue;
            };
            match &entry.event {
                Some(WritebackEvent::Written { regarding, .. }) => {
                    let outcome = if regarding.is_some() {
                        WriteOutcome::Completed
                    } else {
                        WriteOutcome::Open
                    };
                    bump(&mut stats.written, outcome, day, 1);
                }
                Some(WritebackEvent::Resolved { .. }) => {
                    bump(&mut stats.written, WriteOutcome::Resolved, day, 1);
                }
                Some(WritebackEvent::Failed { reason, .. }) => {
                    bump(&mut stats.written, WriteOutcome::Failed, day, 1);
                    stats.error(day, reason);
                }
                _ => {}
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crm_throttling_is_told_from_other_errors() {
        for throttled in [
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds",
            "Number of concurrent requests exceeded the limit of 52.",
            "throttled by the CRM's service protection limits: HTTP 429",
        ] {
            assert!(is_throttling(throttled), "{throttled}");
        }
        for other in [
            "Could not connect to CRM. Please try again later.",
            "HTTP 503 Service Unavailable",
            "The contact was deleted in the CRM.",
        ] {
            assert!(!is_throttling(other), "{other}");
        }
    }

    #[test]
    fn days_outside_the_window_are_left_out() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let window = Window {
            first: today - TimeDelta::days(13),
            days: 14,
        };
        let at = |d: u32| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert_eq!(window.index(&at(1)), Some(0));
        assert_eq!(window.index(&at(14)), Some(13));
        assert_eq!(window.index(&at(15)), None);
        assert_eq!(
            window.index(&(at(1) - TimeDelta::days(1))),
            None,
            "the day before the window"
        );
        let stats = DailyStats::empty(&window);
        assert_eq!(stats.days.len(), 14);
        assert_eq!(stats.days[13], today);
        assert!(stats.imported.values().all(|v| v.len() == 14));
    }
}
