//! "Disconnect CRM Sync": the connection stops (imported data stays but stops updating), or, with
//! "Yes, clean up all previously imported CRM data", everything that came from the CRM goes and a
//! receipt with the counts is returned. What reps did by hand stays either way.
//!
//! The purge is one store transaction, so an interrupted one is simply asked for again; it runs
//! under the tenant's sync lease, so no sync can write CRM rows back while it runs.

use std::time::Duration;

use domain::ids::TenantId;
use domain::purge::PurgeReceipt;

use crate::engine::{Result, SyncEngine, SyncError};

impl SyncEngine {
    /// Disconnects the tenant's CRM; with `purge`, also removes everything imported from it (and
    /// finishes an earlier purge that was interrupted, or cleans up after a disconnect without
    /// one). Reconnecting afterwards starts a new connection with a full read.
    pub async fn disconnect(&self, tenant: TenantId, purge: bool) -> Result<Option<PurgeReceipt>> {
        let mut store = self.tenant(tenant);
        let live = store.live_connection().await?;
        if live.is_none() && !purge {
            return Err(SyncError::NotConnected);
        }
        let lease = self.wait_for_sync_lease(tenant).await?;
        self.forget(tenant);
        self.forget_match_state(tenant);
        let result = match (purge, &live) {
            (true, _) => store.purge_crm_data().await.map(Some),
            (false, Some(info)) => store.disconnect(info.connection.id).await.map(|()| None),
            (false, None) => Ok(None),
        };
        store.release_sync_lease(lease).await?;
        let receipt = result?;
        tracing::info!(%tenant, purge, "CRM disconnected");
        Ok(receipt)
    }

    /// Takes the tenant's sync lease, waiting for a running sync to finish (or for the lease of
    /// one whose process died to expire).
    async fn wait_for_sync_lease(&self, tenant: TenantId) -> Result<store::sync_runs::SyncLease> {
        let mut store = self.tenant(tenant);
        let patience = self.config.sync_lease * 2;
        let deadline = self.store.now() + patience;
        loop {
            if let Some(lease) = store
                .acquire_sync_lease(&self.config.worker_name, self.config.sync_lease)
                .await?
            {
                return Ok(lease);
            }
            if self.store.now() > deadline {
                return Err(SyncError::Invalid(
                    "A sync is still running; try again in a few minutes.".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
