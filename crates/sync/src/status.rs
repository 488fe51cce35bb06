//! What the CRM Settings page shows at all times: connected or not, a sync in progress with its
//! progress and ETA, the last sync date, and why the connection is not working, if it is not.

use chrono::{DateTime, TimeDelta, Utc};
use domain::crm::{CompanionApp, CrmAuth, CrmTable};
use domain::ids::{CrmConnectionId, TenantId};
use store::sync_runs::{SyncRun, SyncRunId};

use crate::engine::{Result, SyncEngine};

pub const CONNECTED: &str = "Connected to Microsoft Dynamics";
pub const FIRST_SYNC_RUNNING: &str = "Successfully connected, sync in progress";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrmStatus {
    NotConnected,
    Connected(Box<ConnectedStatus>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectedStatus {
    pub connection: CrmConnectionId,
    pub org_url: String,
    /// Who the connection acts as, as the CRM names it.
    pub connected_as: Option<String>,
    pub auth: CrmAuth,
    pub since: DateTime<Utc>,
    /// [`CONNECTED`], always; [`FIRST_SYNC_RUNNING`] below it until the first sync finished.
    pub headline: &'static str,
    pub subline: Option<&'static str>,
    pub last_sync: Option<DateTime<Utc>>,
    pub running: Option<SyncProgress>,
    /// Why the connection is not working (revoked secret, missing privilege…), with what to do.
    pub problem: Option<ShownError>,
    pub companion_app: CompanionApp,
    /// Activities are written on behalf of each rep; otherwise the connecting identity shows as
    /// their creator.
    pub reps_are_creators: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownError {
    pub message: String,
    pub next_step: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncProgress {
    pub run: SyncRunId,
    /// "Reading contacts", "Matching"…
    pub phase: String,
    pub rows_done: u64,
    /// Estimated from the CRM's record counts; `None` when unknown.
    pub rows_total: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub eta: Option<DateTime<Utc>>,
}

/// The phase line while a table is read.
pub(crate) fn reading(table: CrmTable) -> &'static str {
    match table {
        CrmTable::SystemUser => "Reading users",
        CrmTable::Account => "Reading accounts",
        CrmTable::Contact => "Reading contacts",
        CrmTable::Lead => "Reading leads",
        CrmTable::Opportunity => "Reading opportunities",
    }
}

/// When the run will be done at the pace so far; `None` before anything is done or without an
/// estimated total.
pub fn eta(
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    done: u64,
    total: Option<u64>,
) -> Option<DateTime<Utc>> {
    let total = total?;
    if done == 0 {
        return None;
    }
    if done >= total {
        return Some(now);
    }
    let elapsed = (now - started_at).num_milliseconds().max(0);
    let left = i64::try_from(total - done).ok()?;
    let per_row = elapsed as f64 / done as f64;
    let remaining = TimeDelta::milliseconds((per_row * left as f64) as i64);
    now.checked_add_signed(remaining)
}

impl SyncEngine {
    pub async fn status(&self, tenant: TenantId) -> Result<CrmStatus> {
        let mut store = self.tenant(tenant);
        let Some(info) = store.live_connection().await? else {
            return Ok(CrmStatus::NotConnected);
        };
        let (last_sync, last_error) = match &info.connection.status {
            domain::crm::ConnectionStatus::Connected {
                last_sync,
                last_error,
                ..
            } => (*last_sync, last_error.clone()),
            domain::crm::ConnectionStatus::Disconnected { .. } => (None, None),
        };
        let lease_held = store.sync_lease_holder().await?.is_some();
        let running = store
            .sync_runs(1)
            .await?
            .into_iter()
            .next()
            .filter(|run| {
                run.outcome.is_none() && lease_held && run.connection == info.connection.id
            })
            .map(|run| self.run_progress(&run));
        let since = match info.connection.status {
            domain::crm::ConnectionStatus::Connected { since, .. } => since,
            domain::crm::ConnectionStatus::Disconnected { at, .. } => at,
        };
        Ok(CrmStatus::Connected(Box::new(ConnectedStatus {
            connection: info.connection.id,
            org_url: info.connection.org_url.clone(),
            connected_as: info.connected_as.clone(),
            auth: info.connection.auth.clone(),
            since,
            headline: CONNECTED,
            subline: last_sync.is_none().then_some(FIRST_SYNC_RUNNING),
            last_sync,
            running,
            problem: last_error.map(|message| ShownError {
                message,
                next_step: info.last_error_next_step.clone().unwrap_or_default(),
            }),
            companion_app: info.connection.companion_app.clone(),
            reps_are_creators: info.connection.can_act_on_behalf_of_reps,
        })))
    }

    fn run_progress(&self, run: &SyncRun) -> SyncProgress {
        SyncProgress {
            run: run.id,
            phase: run.phase.clone(),
            rows_done: run.rows_done,
            rows_total: run.rows_total,
            started_at: run.started_at,
            eta: eta(
                run.started_at,
                self.store.now(),
                run.rows_done,
                run.rows_total,
            ),
        }
    }

    /// The most recent sync runs, newest first, for the admin's history.
    pub async fn sync_runs(&self, tenant: TenantId, limit: u32) -> Result<Vec<SyncRun>> {
        Ok(self.tenant(tenant).sync_runs(limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn eta_extrapolates_the_pace_so_far() {
        assert_eq!(eta(at(0), at(10), 100, Some(300)), Some(at(30)));
        assert_eq!(eta(at(0), at(10), 0, Some(300)), None);
        assert_eq!(eta(at(0), at(10), 100, None), None);
        assert_eq!(eta(at(0), at(10), 400, Some(300)), Some(at(10)));
    }
}
