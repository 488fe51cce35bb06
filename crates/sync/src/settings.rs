//! The CRM settings page: the choices the connected org offers (its sales stages, its money
//! columns, the companion app), saving the admin's answers, the what-if preview of each stage
//! choice, the seats' "In CRM" badges and won revenue per seat.

use std::collections::BTreeMap;

use domain::crm::{
    CompanionApp, CrmAccount, CrmContact, CrmOpportunity, CrmOwner, CrmUser, OpportunityState,
};
use domain::ids::{SeatId, TenantId};
use domain::import::{ImportInput, plan};
use domain::matches::MatchIndex;
use domain::revenue::{WonRevenue, won_revenue_per_seat};
use domain::saved::SavedTarget;
use domain::seat_mapping::{CrmUsersByEmail, InCrm, SyncedSeats, in_crm};
use domain::settings::{
    CrmSettings, OrgChoices, OrgStages, PipelineStage, StageThreshold, stage_threshold, validate,
};
use domain::tenant::Seat;
use store::tenants::SeatInfo;

use crate::engine::{Result, SyncEngine, SyncError};
use crate::jobs::{SyncJob, Trigger};

/// How much one stage choice would import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagePreview {
    pub stage: PipelineStage,
    /// The stage's label, or "Not Sure".
    pub label: String,
    /// Open opportunities owned by the CRM users of seats with sync on.
    pub open_opportunities: usize,
    /// Those past the stage (all of them for Not Sure).
    pub qualifying_opportunities: usize,
    /// Saved accounts over all reps (one account saved for two reps counts twice).
    pub accounts: usize,
    pub leads: usize,
    /// Seats with sync on and a CRM user: whose items these are.
    pub seats: usize,
}

impl SyncEngine {
    /// What the org offers as answers, read from it now.
    pub async fn choices(&self, tenant: TenantId) -> Result<OrgChoices> {
        let info = self.live_connection(tenant).await?;
        let crm = self.crm(tenant, &info).await?;
        // Three independent reads of the org, at once: the settings page waits for one round
        // trip, not three.
        let (stage_options, money_columns, companion_app) = tokio::try_join!(
            crm.stage_options(),
            crm.money_columns(),
            crm.companion_app()
        )?;
        let stages =
            OrgStages::new(stage_options).map_err(|e| SyncError::Invalid(e.to_string()))?;
        if companion_app != info.connection.companion_app {
            self.tenant(tenant)
                .set_companion_app(info.connection.id, &companion_app)
                .await?;
        }
        self.keep_rotated_credential(tenant, info.connection.id, &crm)
            .await?;
        Ok(OrgChoices {
            stages,
            money_columns,
            companion_app,
        })
    }

    /// Validates the admin's answers against the org and stores them; a sync is queued so they
    /// take effect at once.
    pub async fn save_settings(&self, tenant: TenantId, settings: &CrmSettings) -> Result<()> {
        let org = self.choices(tenant).await?;
        validate(settings, &org).map_err(SyncError::Settings)?;
        let mut store = self.tenant(tenant).begin().await?;
        store.put_crm_settings(settings).await?;
        store
            .enqueue(&SyncJob {
                trigger: Trigger::SyncNow,
            })
            .await?;
        store.commit().await?;
        Ok(())
    }

    /// Installs the companion app ("Get it now"); safe to repeat.
    pub async fn install_companion_app(&self, tenant: TenantId) -> Result<CompanionApp> {
        let info = self.live_connection(tenant).await?;
        let crm = self.crm(tenant, &info).await?;
        let app = crm.install_companion_app().await?;
        self.tenant(tenant)
            .set_companion_app(info.connection.id, &app)
            .await?;
        self.keep_rotated_credential(tenant, info.connection.id, &crm)
            .await?;
        Ok(app)
    }

    /// The companion app as the org has it now (after the admin installed it by hand, say).
    pub async fn companion_app(&self, tenant: TenantId) -> Result<CompanionApp> {
        let info = self.live_connection(tenant).await?;
        let crm = self.crm(tenant, &info).await?;
        let app = crm.companion_app().await?;
        if app != info.connection.companion_app {
            self.tenant(tenant)
                .set_companion_app(info.connection.id, &app)
                .await?;
        }
        Ok(app)
    }

    /// What one stage choice would save, with the admin's current "auto sync all" answer (Yes
    /// until answered).
    pub async fn preview_stage(
        &self,
        tenant: TenantId,
        stage: PipelineStage,
    ) -> Result<StagePreview> {
        let auto = self
            .tenant(tenant)
            .crm_settings()
            .await?
            .is_none_or(|s| s.auto_sync_all_seats);
        self.preview(tenant, auto)
            .await?
            .into_iter()
            .find(|p| p.stage == stage)
            .ok_or_else(|| {
                SyncError::Settings(vec![domain::settings::SettingsError::UnknownStage(
                    match stage {
                        PipelineStage::Stage(s) => s,
                        PipelineStage::NotSure => 0,
                    },
                )])
            })
    }

    /// How many accounts and leads each stage choice would save, from what the last sync read.
    pub async fn preview(
        &self,
        tenant: TenantId,
        auto_sync_all_seats: bool,
    ) -> Result<Vec<StagePreview>> {
        let info = self.live_connection(tenant).await?;
        let connection = info.connection.id;
        let crm = self.crm(tenant, &info).await?;
        let stages = OrgStages::new(crm.stage_options().await?)
            .map_err(|e| SyncError::Invalid(e.to_string()))?;
        let mut store = self.tenant(tenant);
        let users: Vec<CrmUser> = store.crm_rows(connection).await?;
        let seats: Vec<Seat> = store.seats().await?.into_iter().map(|s| s.seat).collect();
        let synced = SyncedSeats::new(&seats, auto_sync_all_seats, &users);
        let opportunities: Vec<CrmOpportunity> = store.crm_rows(connection).await?;
        let accounts: BTreeMap<_, CrmAccount> = store
            .crm_rows::<CrmAccount>(connection)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let contacts: BTreeMap<_, CrmContact> = store
            .crm_rows::<CrmContact>(connection)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let matches = MatchIndex::build(
            &store.person_matches(None).await?,
            &store.company_matches(None).await?,
        );
        let mut choices = vec![(PipelineStage::NotSure, "Not Sure".to_owned())];
        choices.extend(
            stages
                .options()
                .iter()
                .map(|s| (PipelineStage::Stage(s.value), s.label.clone())),
        );
        let open: Vec<&CrmOpportunity> = opportunities
            .iter()
            .filter(|o| {
                o.state == OpportunityState::Open
                    && matches!(o.owner, CrmOwner::User(u) if synced.seats_of(u).next().is_some())
            })
            .collect();
        let seat_count = synced.seats().count();
        let mut previews = Vec::with_capacity(choices.len());
        for (stage, label) in choices {
            let threshold: StageThreshold =
                stage_threshold(stage, &stages).map_err(|e| SyncError::Invalid(e.to_string()))?;
            let planned = plan(ImportInput {
                tenant,
                connection,
                opportunities: &opportunities,
                accounts: &accounts,
                contacts: &contacts,
                threshold: &threshold,
                synced: &synced,
                matches: &matches,
                saved: &[],
            });
            let accounts = planned
                .desired
                .keys()
                .filter(|k| matches!(k.target, SavedTarget::Account(_)))
                .count();
            previews.push(StagePreview {
                stage,
                label,
                open_opportunities: open.len(),
                qualifying_opportunities: open
                    .iter()
                    .filter(|o| threshold.admits(o.sales_stage))
                    .count(),
                accounts,
                leads: planned.desired.len() - accounts,
                seats: seat_count,
            });
        }
        Ok(previews)
    }

    /// Each seat with its "In CRM" badge (or why it has none), from the CRM users last read.
    pub async fn seat_badges(&self, tenant: TenantId) -> Result<Vec<(SeatInfo, InCrm)>> {
        let mut store = self.tenant(tenant);
        let users: Vec<CrmUser> = match store.live_connection().await? {
            Some(info) => store.crm_rows(info.connection.id).await?,
            None => Vec::new(),
        };
        let auto = store
            .crm_settings()
            .await?
            .is_some_and(|s| s.auto_sync_all_seats);
        let index = CrmUsersByEmail::new(&users);
        Ok(store
            .seats()
            .await?
            .into_iter()
            .map(|info| {
                let badge = in_crm(&info.seat, auto, &index);
                (info, badge)
            })
            .collect())
    }

    /// The org's active CRM users that are people, for "Assign seats from CRM".
    pub async fn crm_users(&self, tenant: TenantId) -> Result<Vec<CrmUser>> {
        let info = self.live_connection(tenant).await?;
        let users: Vec<CrmUser> = self.tenant(tenant).crm_rows(info.connection.id).await?;
        Ok(users
            .into_iter()
            .filter(|u| !u.disabled && !u.application_user)
            .collect())
    }

    /// Won revenue per seat with the "In CRM" badge, valued with the admin's won-value column.
    pub async fn won_revenue(&self, tenant: TenantId) -> Result<BTreeMap<SeatId, WonRevenue>> {
        let info = self.live_connection(tenant).await?;
        let mut store = self.tenant(tenant);
        let Some(settings) = store.crm_settings().await? else {
            return Ok(BTreeMap::new());
        };
        let users: Vec<CrmUser> = store.crm_rows(info.connection.id).await?;
        let seats: Vec<Seat> = store.seats().await?.into_iter().map(|s| s.seat).collect();
        let synced = SyncedSeats::new(&seats, settings.auto_sync_all_seats, &users);
        let opportunities: Vec<CrmOpportunity> = store.crm_rows(info.connection.id).await?;
        Ok(won_revenue_per_seat(
            &opportunities,
            &settings.won_value_field,
            &synced,
        ))
    }
}
