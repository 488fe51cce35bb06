//! One sync of a tenant: each table read from the CRM (in full the first time and after an expired
//! token, as changes otherwise) into the mirror, seats mapped to CRM users, workspace people and
//! companies matched, and the auto-save rule applied; progress recorded as it goes.
//!
//! Only one sync of a tenant runs at a time, across processes (the store's lease). Every page is
//! applied with its own transaction, and a table's delta token is stored only once the table is
//! complete, so a sync that stops anywhere resumes without losing or duplicating rows. The rule
//! runs only on a complete mirror: a half-read one would unsave what was not read yet.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use domain::crm::{
    CrmAccount, CrmContact, CrmLead, CrmOpportunity, CrmPersonRef, CrmTable, CrmUser, DeltaToken,
};
use domain::ids::{CrmAccountId, CrmConnectionId, CrmContactId, CrmUserId, TenantId};
use domain::import::{ImportInput, plan};
use domain::matches::MatchIndex;
use domain::pipeline::qualifying_opportunities;
use domain::seat_mapping::{CrmUsersByEmail, SeatMapping, SyncedSeats};
use domain::settings::{OrgStages, stage_threshold};
use domain::tenant::Seat;
use futures_util::StreamExt;
use store::crm::{ConnectionInfo, MirrorRow, Mirrored};
use store::sync_runs::{SyncLease, SyncOutcome, SyncRunId};
use tracing::Instrument;
use uuid::Uuid;

use crate::crm::{Crm, CrmError, CrmErrorKind, CrmPage, Pages};
use crate::engine::{Result, SyncEngine, SyncError};
use crate::jobs::Trigger;
use crate::match_pass::RunChanges;
use crate::status::reading;

/// How a request to sync ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncRunResult {
    /// The run finished (well or not: see the run).
    Finished(SyncRunId),
    /// Another process is syncing the tenant.
    Busy,
    NotConnected,
}

/// At most this many unreadable rows are listed on a run per table; the rest are counted.
const LISTED_PER_TABLE: usize = 50;

/// The order tables are read in: users first (seats map to them), opportunities last.
const TABLES: [CrmTable; 5] = [
    CrmTable::SystemUser,
    CrmTable::Account,
    CrmTable::Contact,
    CrmTable::Lead,
    CrmTable::Opportunity,
];

/// Where a run stands, for the progress line, and what it read.
pub(crate) struct Run {
    pub(crate) tenant: TenantId,
    pub(crate) connection: CrmConnectionId,
    pub(crate) id: SyncRunId,
    lease: SyncLease,
    done: u64,
    total: Option<u64>,
    /// The delta tokens kept when the run began, and the rows it read.
    pub(crate) tokens_at_start: Vec<DeltaToken>,
    pub(crate) changes: RunChanges,
    /// The phase under way and when it began, for the log line that closes it.
    phase: Option<(String, std::time::Instant)>,
}

impl Run {
    /// Notes that `phase` is under way, logging how long the one before it took.
    pub(crate) fn enter_phase(&mut self, phase: Option<&str>) {
        if self.phase.as_ref().map(|(p, _)| p.as_str()) == phase {
            return;
        }
        if let Some((done, began)) = self.phase.take() {
            tracing::info!(
                tenant = %self.tenant,
                sync = %self.id,
                phase = %done,
                elapsed_ms = began.elapsed().as_millis() as u64,
                "sync phase finished"
            );
        }
        self.phase = phase.map(|p| (p.to_owned(), std::time::Instant::now()));
    }
}

/// A CRM table the sync reads into the mirror.
trait CrmRow: MirrorRow + Send + 'static {
    fn read(crm: &Arc<dyn Crm>, delta: Option<String>) -> Pages<Self>;
    fn row_id(&self) -> Uuid;
}

macro_rules! crm_row {
    ($row:ty, $method:ident) => {
        impl CrmRow for $row {
            fn read(crm: &Arc<dyn Crm>, delta: Option<String>) -> Pages<Self> {
                crm.$method(delta)
            }

            fn row_id(&self) -> Uuid {
                self.id.0
            }
        }
    };
}

crm_row!(CrmUser, users);
crm_row!(CrmAccount, accounts);
crm_row!(CrmContact, contacts);
crm_row!(CrmLead, leads);
crm_row!(CrmOpportunity, opportunities);

fn mirrored<R>(page: CrmPage<R>) -> (store::crm::CrmPage<R>, Vec<String>) {
    (
        store::crm::CrmPage {
            upserts: page
                .upserts
                .into_iter()
                .map(|r| Mirrored {
                    row: r.row,
                    raw: r.raw,
                })
                .collect(),
            deletes: page.deletes,
            delta_token: page.delta_token,
        },
        page.unreadable,
    )
}

impl SyncEngine {
    /// Syncs the tenant now unless another process is syncing it.
    pub async fn run_sync(&self, tenant: TenantId, trigger: Trigger) -> Result<SyncRunResult> {
        let mut store = self.tenant(tenant);
        let Some(lease) = store
            .acquire_sync_lease(&self.config.worker_name, self.config.sync_lease)
            .await?
        else {
            return Ok(SyncRunResult::Busy);
        };
        let Some(info) = store.live_connection().await? else {
            store.release_sync_lease(lease).await?;
            return Ok(SyncRunResult::NotConnected);
        };
        // A run still open was left by a process that stopped: its lease expired, ours is new.
        for stale in store.sync_runs(10).await? {
            if stale.outcome.is_none() {
                store
                    .finish_sync_run(stale.id, SyncOutcome::Interrupted, None)
                    .await?;
            }
        }
        let started = store
            .start_sync_run(info.connection.id, trigger.into())
            .await?;
        let mut run = Run {
            tenant,
            connection: info.connection.id,
            id: started.id,
            lease,
            done: 0,
            total: None,
            tokens_at_start: Vec::new(),
            changes: RunChanges::default(),
            phase: None,
        };
        tracing::info!(%tenant, sync = %run.id, ?trigger, "sync started");
        let clock = std::time::Instant::now();
        let span = tracing::info_span!("sync", %tenant, sync = %run.id);
        let outcome = self.sync(&info, &mut run).instrument(span).await;
        run.enter_phase(None);
        crate::telemetry::sync_finished(outcome.is_ok(), clock.elapsed());
        self.count_transport(tenant);
        let mut store = self.tenant(tenant);
        match &outcome {
            Ok(()) => {
                store
                    .record_sync_success(info.connection.id, self.store.now())
                    .await?;
                store
                    .finish_sync_run(run.id, SyncOutcome::Succeeded, None)
                    .await?;
                tracing::info!(%tenant, sync = %run.id, rows = run.done, "sync finished");
            }
            Err(e) => {
                let (message, next_step) = shown(e);
                tracing::warn!(%tenant, sync = %run.id, error = %e, "sync failed");
                store
                    .finish_sync_run(run.id, SyncOutcome::Failed, Some((&message, &next_step)))
                    .await?;
                store
                    .set_connection_error(info.connection.id, Some((&message, &next_step)))
                    .await?;
                if let SyncError::Crm(crm) = e
                    && crm.kind == CrmErrorKind::Credentials
                {
                    self.reopen_after_credentials_failure(tenant).await?;
                }
            }
        }
        store.release_sync_lease(run.lease).await?;
        Ok(SyncRunResult::Finished(run.id))
    }

    async fn sync(&self, info: &ConnectionInfo, run: &mut Run) -> Result<()> {
        let crm = self.crm(run.tenant, info).await?;
        let result = self.sync_with(&crm, run).await;
        self.keep_rotated_credential(run.tenant, run.connection, &crm)
            .await?;
        result
    }

    async fn sync_with(&self, crm: &Arc<dyn Crm>, run: &mut Run) -> Result<()> {
        let tokens = self.tenant(run.tenant).delta_tokens(run.connection).await?;
        let mut total = 0;
        for table in TABLES {
            if !tokens.iter().any(|t| t.table == table) {
                total += crm.count(table).await?.count;
            }
        }
        run.tokens_at_start = tokens;
        run.total = (total > 0).then_some(total);
        self.read_table::<CrmUser>(crm, run, CrmTable::SystemUser)
            .await?;
        self.read_table::<CrmAccount>(crm, run, CrmTable::Account)
            .await?;
        self.read_table::<CrmContact>(crm, run, CrmTable::Contact)
            .await?;
        self.read_table::<CrmLead>(crm, run, CrmTable::Lead).await?;
        self.read_table::<CrmOpportunity>(crm, run, CrmTable::Opportunity)
            .await?;
        self.progress(run, "Matching").await?;
        self.apply_rules(crm, run).await?;
        self.progress(run, "Writing activities back").await?;
        self.after_sync_writebacks(run.tenant).await
    }

    async fn progress(&self, run: &mut Run, phase: &str) -> Result<()> {
        run.enter_phase(Some(phase));
        let mut store = self.tenant(run.tenant);
        if let Some(total) = run.total
            && run.done > total
        {
            run.total = Some(run.done);
        }
        store
            .update_sync_progress(run.id, phase, run.done, run.total)
            .await?;
        // Renew well before expiry; a lost lease means another process took the sync over.
        let left = run.lease.expires_at - self.store.now();
        if left < self.config.sync_lease / 2
            && !store
                .renew_sync_lease(&mut run.lease, self.config.sync_lease)
                .await?
        {
            return Err(SyncError::Invalid(
                "the sync was taken over by another process (its lease expired)".into(),
            ));
        }
        Ok(())
    }

    /// Reads one table into the mirror: its changes when a delta token is kept, otherwise all of
    /// it, followed by removing the mirrored rows the CRM no longer has.
    async fn read_table<R>(&self, crm: &Arc<dyn Crm>, run: &mut Run, table: CrmTable) -> Result<()>
    where
        R: CrmRow,
    {
        let phase = reading(table);
        let mut token = self
            .tenant(run.tenant)
            .delta_token(run.connection, table)
            .await?;
        loop {
            match self
                .read_pages::<R>(crm, run, table, phase, token.clone())
                .await
            {
                Err(SyncError::Crm(e))
                    if e.kind == CrmErrorKind::DeltaExpired && token.is_some() =>
                {
                    tracing::info!(tenant = %run.tenant, sync = %run.id, ?table, "delta token expired; reading in full");
                    let mut store = self.tenant(run.tenant);
                    store.clear_delta_token(run.connection, table).await?;
                    store
                        .record_sync_error(
                            run.id,
                            Some(table),
                            "The CRM no longer had the changes since the last sync; the table was read in full.",
                        )
                        .await?;
                    token = None;
                }
                other => return other,
            }
        }
    }

    async fn read_pages<R>(
        &self,
        crm: &Arc<dyn Crm>,
        run: &mut Run,
        table: CrmTable,
        phase: &str,
        token: Option<String>,
    ) -> Result<()>
    where
        R: CrmRow,
    {
        let full = token.is_none();
        if full {
            run.changes.full.insert(table);
        }
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut final_token = None;
        let mut unreadable = 0usize;
        // The next pages are fetched (and parsed) while this one is written: the CRM and the
        // database each work while the other does.
        let mut pages = prefetched(R::read(crm, token));
        while let Some(page) = pages.recv().await {
            let (mut page, bad) = mirrored(page?);
            for why in &bad {
                unreadable += 1;
                if unreadable <= LISTED_PER_TABLE {
                    self.tenant(run.tenant)
                        .record_sync_error(run.id, Some(table), why)
                        .await?;
                }
            }
            let applied = page.upserts.len() + page.deletes.len();
            crate::telemetry::rows_read(table, applied + bad.len());
            run.done += applied as u64;
            if full {
                seen.extend(page.upserts.iter().map(|m| m.row.row_id()));
                // A full read's token is stored only after the sweep below.
                final_token = page.delta_token.take();
            } else {
                if page.delta_token.is_some() {
                    final_token.clone_from(&page.delta_token);
                }
                run.changes
                    .upserted
                    .entry(table)
                    .or_default()
                    .extend(page.upserts.iter().map(|m| m.row.row_id()));
                run.changes
                    .deleted
                    .entry(table)
                    .or_default()
                    .extend(&page.deletes);
            }
            self.tenant(run.tenant)
                .apply_crm_page(run.connection, &page)
                .await?;
            crate::telemetry::rows_applied(table, applied);
            self.progress(run, phase).await?;
        }
        if unreadable > LISTED_PER_TABLE {
            self.tenant(run.tenant)
                .record_sync_error(
                    run.id,
                    Some(table),
                    &format!(
                        "{} more rows could not be read.",
                        unreadable - LISTED_PER_TABLE
                    ),
                )
                .await?;
        }
        let Some(final_token) = final_token else {
            return Err(SyncError::Crm(CrmError::new(
                CrmErrorKind::Api,
                format!(
                    "the CRM ended the {} read without a change token",
                    table.logical_name()
                ),
            )));
        };
        if full {
            let mut store = self.tenant(run.tenant).begin().await?;
            let gone: Vec<Uuid> = store
                .crm_row_ids::<R>(run.connection)
                .await?
                .into_iter()
                .filter(|id| !seen.contains(id))
                .collect();
            store.delete_crm_rows::<R>(run.connection, &gone).await?;
            store
                .apply_crm_page::<R>(
                    run.connection,
                    &store::crm::CrmPage {
                        upserts: Vec::new(),
                        deletes: Vec::new(),
                        delta_token: Some(final_token),
                    },
                )
                .await?;
            store.commit().await?;
        }
        Ok(())
    }

    /// Seats to CRM users, matching, then the auto-save rule, on the complete mirror.
    async fn apply_rules(&self, crm: &Arc<dyn Crm>, run: &mut Run) -> Result<()> {
        let mut store = self.tenant(run.tenant);
        let connection = run.connection;
        let users: Vec<CrmUser> = store.crm_rows(connection).await?;
        let seats = store.seats().await?;
        let by_email = CrmUsersByEmail::new(&users);
        for info in &seats {
            let mapped = match by_email.map(info.seat.email.as_deref()) {
                SeatMapping::Matched(user) => Some(user),
                SeatMapping::NotMatched(_) => None,
            };
            if mapped != info.crm_user {
                store.set_seat_crm_user(info.seat.id, mapped).await?;
            }
        }

        self.match_workspace(run).await?;

        let Some(settings) = store.crm_settings().await? else {
            // Nothing is saved for anyone until the admin has answered the CRM settings.
            return Ok(());
        };
        self.progress(run, "Saving leads and accounts").await?;
        let stages = OrgStages::new(crm.stage_options().await?)
            .map_err(|e| SyncError::Invalid(e.to_string()))?;
        let threshold = match stage_threshold(settings.pipeline_stage, &stages) {
            Ok(threshold) => threshold,
            Err(e) => {
                // Guessing would save or unsave everything: stop importing and tell the admin.
                store
                    .record_sync_error(run.id, Some(CrmTable::Opportunity), &e.to_string())
                    .await?;
                return Ok(());
            }
        };
        let seat_list: Vec<Seat> = seats.into_iter().map(|s| s.seat).collect();
        let synced = SyncedSeats::new(&seat_list, settings.auto_sync_all_seats, &users);
        run.enter_phase(Some("planning"));
        // Only the opportunities in some rep's pipeline, the accounts and contacts they point to
        // (and those contacts' accounts, for their company's name) and the matches of those are
        // read in full: not the whole mirror.
        let owners: Vec<CrmUserId> = synced.users().collect();
        let opportunities: Vec<CrmOpportunity> = qualifying_opportunities(
            &store
                .crm_opportunities_owned_by(connection, &owners)
                .await?,
            &threshold,
            &synced,
        )
        .into_iter()
        .map(|(o, _)| o.clone())
        .collect();
        let mut account_ids: Vec<Uuid> = opportunities
            .iter()
            .filter_map(|o| o.account.map(|a| a.0))
            .collect();
        let mut contact_ids: Vec<Uuid> = opportunities
            .iter()
            .flat_map(|o| o.contacts.iter().map(|c| c.0))
            .collect();
        contact_ids.sort_unstable();
        contact_ids.dedup();
        let contacts: BTreeMap<_, CrmContact> = store
            .crm_rows_by_ids::<CrmContact>(connection, &contact_ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        account_ids.extend(contacts.values().filter_map(|c| c.account.map(|a| a.0)));
        account_ids.sort_unstable();
        account_ids.dedup();
        let accounts: BTreeMap<_, CrmAccount> = store
            .crm_rows_by_ids::<CrmAccount>(connection, &account_ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let person_refs: Vec<CrmPersonRef> = contact_ids
            .iter()
            .map(|id| CrmPersonRef::Contact(CrmContactId(*id)))
            .collect();
        let account_refs: Vec<CrmAccountId> =
            account_ids.iter().copied().map(CrmAccountId).collect();
        let matches = MatchIndex::build(
            &store.people_matched_to_any(&person_refs).await?,
            &store.companies_matched_to_any(&account_refs).await?,
        );
        let saved = store.saved_items(None).await?;
        let plan = plan(ImportInput {
            tenant: run.tenant,
            connection,
            opportunities: &opportunities,
            accounts: &accounts,
            contacts: &contacts,
            threshold: &threshold,
            synced: &synced,
            matches: &matches,
            saved: &saved,
        });
        if !plan.missing.is_empty() {
            store
                .record_sync_error(
                    run.id,
                    Some(CrmTable::Opportunity),
                    &format!(
                        "{} accounts or contacts that opportunities point to could not be read; their items are not saved.",
                        plan.missing.len()
                    ),
                )
                .await?;
        }
        run.enter_phase(Some("applying the plan"));
        if !plan.diff.is_empty() {
            store.apply_import_diff(&plan.diff).await?;
        }
        Ok(())
    }

    /// Queues a sync of the tenant now ("Sync now").
    pub async fn sync_now(&self, tenant: TenantId) -> Result<()> {
        self.live_connection(tenant).await?;
        self.tenant(tenant)
            .enqueue(&crate::jobs::SyncJob {
                trigger: Trigger::SyncNow,
            })
            .await?;
        Ok(())
    }
}

/// A table's pages read ahead of their use by a task of their own, at most two pages ahead.
/// Dropping the receiver stops the reading.
fn prefetched<R: Send + 'static>(
    mut pages: Pages<R>,
) -> tokio::sync::mpsc::Receiver<std::result::Result<CrmPage<R>, CrmError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                next = pages.next() => next,
                () = tx.closed() => return,
            };
            let Some(page) = next else { return };
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// The message and next step a failed sync shows: the documented message with the reason.
pub(crate) fn shown(e: &SyncError) -> (String, String) {
    match e {
        SyncError::Crm(crm) => {
            let problem = crm.problem();
            (
                format!("{} ({})", problem.message(), crm.detail),
                problem.next_step().to_owned(),
            )
        }
        SyncError::Refused { problem, detail } => (
            format!("{} ({detail})", problem.message()),
            problem.next_step().to_owned(),
        ),
        other => (
            format!("The sync stopped: {other}"),
            "It is tried again at the next sync. If it keeps failing, contact support.".to_owned(),
        ),
    }
}
