//! Writing notes, messages and InMails to the CRM: one writeback job per activity, decided by the
//! domain's rules and written by our own key, every step recorded on its timeline; Unassigned
//! Activities resolved by a rep or, after each sync, by the matches that now exist.
//!
//! A job acts on what the record says now, not on what was true when it was queued, so a job run
//! twice, or after a newer one, changes nothing the second time. An edit or an untick that lands
//! while a write is in flight is caught after the write and followed by another job.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use domain::activity::{Activity, ActivityAbout};
use domain::crm::{CrmPersonRef, CrmUser};
use domain::ids::{ActivityId, CrmUserId, PersonId, TenantId};
use domain::matches::MatchIndex;
use domain::seat_mapping::{CrmUsersByEmail, InCrm, in_crm};
use domain::settings::WritebackSettings;
use domain::timeline::{
    Resolution, ResolvedMatch, WritebackEvent, WritebackState, match_for_resolution,
};
use domain::writeback::{
    ExternalKey, Regarding, WritebackDecision, WritebackInput, WritebackPlan, decide,
};
use store::crm::ConnectionInfo;
use store::writeback::WritebackJob;
use store::{StoreError, TenantStore};
use uuid::Uuid;

use crate::crm::{Crm, CrmError, CrmErrorKind, NewCrmPerson};
use crate::engine::{Result, SyncEngine, SyncError};

/// How a rep resolves an unassigned activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolve {
    /// Create a contact in the CRM from the person.
    CreateContact,
    /// Create a lead in the CRM from the person.
    CreateLead,
    /// Link an existing CRM record.
    Link(Regarding),
}

/// What became of one writeback job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// Try again (at the CRM's Retry-After, when it gave one).
    Retry {
        reason: String,
        at: Option<DateTime<Utc>>,
    },
    /// Trying again cannot help.
    GiveUp {
        reason: String,
    },
}

/// What one tenant's writebacks share within a batch of jobs.
pub(crate) struct TenantContext {
    info: ConnectionInfo,
    crm: Arc<dyn Crm>,
    settings: WritebackSettings,
    auto_sync_all_seats: bool,
    users: Vec<CrmUser>,
    /// No sync has mapped seats to CRM users yet: nothing can be decided about reps.
    first_sync_pending: bool,
}

fn failed_event(e: &CrmError) -> WritebackEvent {
    WritebackEvent::Failed {
        reason: e.to_string(),
        retriable: retriable(e),
    }
}

fn retriable(e: &CrmError) -> bool {
    e.kind.is_transient() || e.kind.breaks_connection() || e.kind == CrmErrorKind::NotFound
}

fn retry_of(e: &CrmError, now: DateTime<Utc>) -> JobOutcome {
    if !retriable(e) {
        return JobOutcome::GiveUp {
            reason: e.to_string(),
        };
    }
    JobOutcome::Retry {
        reason: e.to_string(),
        at: e
            .retry_after
            .and_then(|d| TimeDelta::from_std(d).ok())
            .map(|d| now + d),
    }
}

/// "Ana Maria Souza" → ("Ana Maria", "Souza"): the CRM needs a last name.
fn split_name(full_name: &str) -> (Option<String>, String) {
    let words: Vec<&str> = full_name.split_whitespace().collect();
    match words.split_last() {
        Some((last, [])) => (None, (*last).to_owned()),
        Some((last, first)) => (Some(first.join(" ")), (*last).to_owned()),
        None => (None, "(no name)".to_owned()),
    }
}

impl SyncEngine {
    pub(crate) async fn tenant_context(&self, tenant: TenantId) -> Result<Option<TenantContext>> {
        let mut store = self.tenant(tenant);
        let Some(info) = store.live_connection().await? else {
            return Ok(None);
        };
        let crm = self.crm(tenant, &info).await?;
        let settings = store.crm_settings().await?;
        let users: Vec<CrmUser> = store.crm_rows(info.connection.id).await?;
        let first_sync_pending = matches!(
            info.connection.status,
            domain::crm::ConnectionStatus::Connected {
                last_sync: None,
                ..
            }
        );
        Ok(Some(TenantContext {
            crm,
            auto_sync_all_seats: settings.as_ref().is_some_and(|s| s.auto_sync_all_seats),
            settings: settings.map_or(WritebackSettings::OFF, |s| s.writeback),
            users,
            first_sync_pending,
            info,
        }))
    }

    /// Runs one writeback job. `context` is `None` when the tenant has no live connection.
    pub(crate) async fn run_writeback(
        &self,
        tenant: TenantId,
        context: Option<&TenantContext>,
        job: &WritebackJob,
    ) -> Result<JobOutcome> {
        let activity_id = ActivityId(job.activity);
        let mut store = self.tenant(tenant);
        let Some(record) = store.writeback_record(activity_id).await? else {
            return Ok(JobOutcome::Done);
        };
        // Without a connection (or before the first sync) it waits; the next sync queues it again.
        let Some(context) = context.filter(|c| !c.first_sync_pending) else {
            return Ok(JobOutcome::Done);
        };
        // A row can exist in the CRM only if a write was attempted before.
        let written_before = record.timeline.iter().any(|entry| {
            matches!(
                entry.event,
                Some(
                    WritebackEvent::Written { .. }
                        | WritebackEvent::Failed { .. }
                        | WritebackEvent::Resolved { .. }
                )
            )
        });
        let state = match record.state {
            // Failed during a write it is pending again, during a removal it is to be removed.
            WritebackState::Failed { .. } => {
                store
                    .apply_writeback_event(activity_id, &WritebackEvent::Retried)
                    .await?
            }
            other => other,
        };
        let outcome = match state {
            WritebackState::Pending => {
                self.write(tenant, context, activity_id, written_before)
                    .await?
            }
            WritebackState::RemovalPending => {
                self.remove(tenant, context, activity_id, &record.key, record.kind)
                    .await?
            }
            // Done already, by this job's twin or before it.
            _ => JobOutcome::Done,
        };
        self.keep_rotated_credential(tenant, context.info.connection.id, &context.crm)
            .await?;
        Ok(outcome)
    }

    async fn decide_for(
        &self,
        store: &mut TenantStore,
        context: &TenantContext,
        activity: &Activity,
        matches: &MatchIndex,
    ) -> Result<WritebackDecision> {
        let thread = match activity.thread {
            Some(t) => store.thread(t).await?,
            None => None,
        };
        let seat = store
            .seat(activity.seat)
            .await?
            .ok_or(SyncError::NotFound("seat"))?;
        let rep: InCrm = in_crm(
            &seat.seat,
            context.auto_sync_all_seats,
            &CrmUsersByEmail::new(&context.users),
        );
        Ok(decide(WritebackInput {
            settings: &context.settings,
            companion_app: &context.info.connection.companion_app,
            can_act_on_behalf_of_reps: context.info.connection.can_act_on_behalf_of_reps,
            rep: &rep,
            activity,
            thread: thread.as_ref(),
            matches,
        }))
    }

    async fn matches_about(
        &self,
        store: &mut TenantStore,
        about: ActivityAbout,
    ) -> Result<MatchIndex> {
        Ok(match about {
            ActivityAbout::Person(person) => {
                MatchIndex::build(&store.person_matches(Some(person)).await?, &[])
            }
            ActivityAbout::Company(company) => {
                MatchIndex::build(&[], &store.company_matches(Some(company)).await?)
            }
        })
    }

    async fn write(
        &self,
        tenant: TenantId,
        context: &TenantContext,
        id: ActivityId,
        written_before: bool,
    ) -> Result<JobOutcome> {
        let mut store = self.tenant(tenant);
        let Some(activity) = store.activity(id).await? else {
            return Ok(JobOutcome::Done);
        };
        let matches = self.matches_about(&mut store, activity.about).await?;
        let plan = match self
            .decide_for(&mut store, context, &activity, &matches)
            .await?
        {
            WritebackDecision::Skip(reason) => {
                self.apply(&mut store, id, &WritebackEvent::Skipped(reason))
                    .await?;
                return Ok(JobOutcome::Done);
            }
            WritebackDecision::Write(plan) => plan,
        };
        match context.crm.upsert_activity(&plan, written_before).await {
            Ok(crm_activity) => {
                self.after_write(tenant, context, &activity, &plan, crm_activity)
                    .await?;
                Ok(JobOutcome::Done)
            }
            Err(e) => {
                self.failed(tenant, context, id, &e).await?;
                Ok(retry_of(&e, self.store.now()))
            }
        }
    }

    /// Records the write, unless the rep changed the item meanwhile: an edit is written again,
    /// an untick removes what was just written.
    async fn after_write(
        &self,
        tenant: TenantId,
        context: &TenantContext,
        written: &Activity,
        plan: &WritebackPlan,
        crm_activity: domain::ids::CrmActivityId,
    ) -> Result<()> {
        let mut store = self.tenant(tenant).begin().await?;
        let state = store.writeback_record(written.id).await?.map(|r| r.state);
        match state {
            Some(WritebackState::Pending) => {
                let state = store
                    .apply_writeback_event(
                        written.id,
                        &WritebackEvent::Written {
                            crm_activity,
                            regarding: plan.regarding,
                        },
                    )
                    .await?;
                crate::telemetry::writeback(&state);
                let now = store.activity(written.id).await?;
                if now.is_some_and(|a| a.body != written.body) {
                    store
                        .apply_writeback_event(written.id, &WritebackEvent::Edited)
                        .await?;
                    store
                        .enqueue(&WritebackJob {
                            activity: written.id.0,
                        })
                        .await?;
                }
                store.commit().await?;
            }
            Some(WritebackState::Dropped { .. }) | None => {
                store.commit().await?;
                // Unticked (or deleted) while it was being written: take it back out.
                if let Err(e) = context.crm.delete_activity(plan.kind, &plan.key).await {
                    tracing::warn!(%tenant, activity = %written.id, error = %e, "could not remove an activity unticked during its write");
                }
            }
            Some(_) => store.commit().await?,
        }
        Ok(())
    }

    async fn failed(
        &self,
        tenant: TenantId,
        context: &TenantContext,
        id: ActivityId,
        e: &CrmError,
    ) -> Result<()> {
        let mut store = self.tenant(tenant);
        self.apply(&mut store, id, &failed_event(e)).await?;
        if e.kind.breaks_connection() {
            let problem = e.problem();
            store
                .set_connection_error(
                    context.info.connection.id,
                    Some((
                        &format!("{} ({})", problem.message(), e.detail),
                        problem.next_step(),
                    )),
                )
                .await?;
        }
        if e.kind == CrmErrorKind::Credentials {
            self.reopen_after_credentials_failure(tenant).await?;
        }
        Ok(())
    }

    async fn remove(
        &self,
        tenant: TenantId,
        context: &TenantContext,
        id: ActivityId,
        key: &ExternalKey,
        kind: domain::activity::ActivityKind,
    ) -> Result<JobOutcome> {
        let mut store = self.tenant(tenant);
        match context.crm.delete_activity(kind, key).await {
            Ok(_) => {
                self.apply(&mut store, id, &WritebackEvent::Removed).await?;
                Ok(JobOutcome::Done)
            }
            Err(e) => {
                self.failed(tenant, context, id, &e).await?;
                Ok(retry_of(&e, self.store.now()))
            }
        }
    }

    /// Applies an event; one the state no longer allows (the rep changed it meanwhile) is left
    /// out, as the change that moved the state queued its own job.
    async fn apply(
        &self,
        store: &mut TenantStore,
        id: ActivityId,
        event: &WritebackEvent,
    ) -> Result<()> {
        match store.apply_writeback_event(id, event).await {
            Ok(state) => {
                crate::telemetry::writeback(&state);
                Ok(())
            }
            Err(StoreError::Invalid(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Resolves an unassigned activity: the contact or lead is created in the CRM (or the chosen
    /// record linked), the activity rewritten linked and completed, and the match remembered so
    /// the person's other activities follow.
    pub async fn resolve_unassigned(
        &self,
        tenant: TenantId,
        activity: ActivityId,
        how: Resolve,
    ) -> Result<WritebackState> {
        let mut store = self.tenant(tenant);
        let record = store
            .writeback_record(activity)
            .await?
            .ok_or(SyncError::NotFound("writeback"))?;
        if !matches!(record.state, WritebackState::Unassigned { .. }) {
            return Err(SyncError::Invalid(
                "Only an activity in Unassigned Activities can be resolved.".into(),
            ));
        }
        let item = store
            .activity(activity)
            .await?
            .ok_or(SyncError::NotFound("activity"))?;
        let context = self
            .tenant_context(tenant)
            .await?
            .ok_or(SyncError::NotConnected)?;
        let (regarding, resolution) = match how {
            Resolve::Link(regarding) => (regarding, Resolution::LinkedToRecord),
            Resolve::CreateContact | Resolve::CreateLead => {
                let ActivityAbout::Person(person) = item.about else {
                    return Err(SyncError::Invalid(
                        "A contact or lead is created from a person; link this note to an account instead.".into(),
                    ));
                };
                let new = self
                    .new_crm_person(&mut store, tenant, person, item.seat)
                    .await?;
                if how == Resolve::CreateContact {
                    let id = context.crm.create_contact(&new).await?;
                    (Regarding::Contact(id), Resolution::CreatedContact)
                } else {
                    let id = context.crm.create_lead(&new).await?;
                    (Regarding::Lead(id), Resolution::CreatedLead)
                }
            }
        };
        let learned = match_for_resolution(item.about, resolution, regarding);
        match &learned {
            Some(ResolvedMatch::Person(m)) => {
                store
                    .pin_person_match(m.person, m.crm, &m.explanation)
                    .await?
            }
            Some(ResolvedMatch::Company(m)) => {
                store
                    .pin_company_match(m.company, m.account, &m.explanation)
                    .await?
            }
            None => {}
        }
        let matches = self.matches_about(&mut store, item.about).await?;
        let mut plan = match self
            .decide_for(&mut store, &context, &item, &matches)
            .await?
        {
            WritebackDecision::Write(plan) => plan,
            WritebackDecision::Skip(reason) => return Err(SyncError::Invalid(reason.to_string())),
        };
        // A record that cannot stand for the person (an account for a person) teaches no match
        // but still links the activity.
        plan.regarding = Some(regarding);
        plan.state = domain::writeback::CrmActivityState::Completed;
        context.crm.upsert_activity(&plan, true).await?;
        let state = store
            .apply_writeback_event(
                activity,
                &WritebackEvent::Resolved {
                    how: resolution,
                    regarding,
                },
            )
            .await?;
        crate::telemetry::writeback(&state);
        if let ActivityAbout::Person(person) = item.about {
            self.rematch_person(tenant, person).await?;
        }
        self.keep_rotated_credential(tenant, context.info.connection.id, &context.crm)
            .await?;
        Ok(state)
    }

    async fn new_crm_person(
        &self,
        store: &mut TenantStore,
        tenant: TenantId,
        person: PersonId,
        seat: domain::ids::SeatId,
    ) -> Result<NewCrmPerson> {
        let record = store
            .person(person)
            .await?
            .ok_or(SyncError::NotFound("person"))?;
        let person = record.person;
        let account = match person.company {
            Some(company) => MatchIndex::build(&[], &store.company_matches(Some(company)).await?)
                .account_for_company(company),
            None => None,
        };
        let owner: Option<CrmUserId> = store.seat(seat).await?.and_then(|s| s.crm_user);
        let (first_name, last_name) = split_name(&person.full_name);
        // One id per tenant and person: creating again finds the record made the first time.
        let id = Uuid::new_v5(
            &tenant.0,
            format!("crm-person:{}", person.id.0.simple()).as_bytes(),
        );
        Ok(NewCrmPerson {
            id,
            first_name,
            last_name,
            email: person.email,
            job_title: person.title,
            phone: person.phone,
            company_name: person.company_name,
            account,
            owner,
        })
    }

    /// The person's other unassigned activities now have a match: they are rewritten linked.
    async fn rematch_person(&self, tenant: TenantId, person: PersonId) -> Result<()> {
        let mut store = self.tenant(tenant);
        let matches = MatchIndex::build(&store.person_matches(Some(person)).await?, &[]);
        let Some(crm) = matches.crm_for_person(person) else {
            return Ok(());
        };
        let regarding = match crm {
            CrmPersonRef::Contact(c) => Regarding::Contact(c),
            CrmPersonRef::Lead(l) => Regarding::Lead(l),
        };
        for unassigned in store.unassigned_activities(None).await? {
            let Some(activity) = store.activity(unassigned.activity).await? else {
                continue;
            };
            if activity.about == ActivityAbout::Person(person) {
                self.rematched(&mut store, activity.id, regarding).await?;
            }
        }
        Ok(())
    }

    async fn rematched(
        &self,
        store: &mut TenantStore,
        id: ActivityId,
        regarding: Regarding,
    ) -> Result<()> {
        let mut tx = self.tenant(store.id()).begin().await?;
        tx.apply_writeback_event(id, &WritebackEvent::Matched { regarding })
            .await?;
        tx.enqueue(&WritebackJob { activity: id.0 }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// After a sync: unassigned activities whose person (or company) now has a match are
    /// rewritten linked, and writebacks still pending or failed are queued again.
    pub(crate) async fn after_sync_writebacks(&self, tenant: TenantId) -> Result<()> {
        let mut store = self.tenant(tenant);
        let matches = MatchIndex::build(
            &store.person_matches(None).await?,
            &store.company_matches(None).await?,
        );
        for unassigned in store.unassigned_activities(None).await? {
            let Some(activity) = store.activity(unassigned.activity).await? else {
                continue;
            };
            let regarding = match activity.about {
                ActivityAbout::Person(p) => matches.crm_for_person(p).map(|crm| match crm {
                    CrmPersonRef::Contact(c) => Regarding::Contact(c),
                    CrmPersonRef::Lead(l) => Regarding::Lead(l),
                }),
                ActivityAbout::Company(c) => matches.account_for_company(c).map(Regarding::Account),
            };
            if let Some(regarding) = regarding {
                self.rematched(&mut store, activity.id, regarding).await?;
            }
        }
        let waiting = store
            .writebacks_in_state(&["pending", "removal_pending", "failed"], u32::MAX)
            .await?;
        let mut jobs: BTreeMap<ActivityId, ()> = BTreeMap::new();
        for (activity, state) in waiting {
            let retry = match state {
                WritebackState::Failed { retriable, .. } => retriable,
                _ => true,
            };
            if retry {
                jobs.insert(activity, ());
            }
        }
        for activity in jobs.into_keys() {
            store
                .enqueue(&WritebackJob {
                    activity: activity.0,
                })
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_first_and_last() {
        assert_eq!(
            split_name("Ana Maria Souza"),
            (Some("Ana Maria".into()), "Souza".into())
        );
        assert_eq!(split_name("Madonna"), (None, "Madonna".into()));
        assert_eq!(split_name("  "), (None, "(no name)".into()));
    }

    use std::time::Duration;

    #[test]
    fn failures_that_can_pass_are_retried_at_the_crms_pace() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut throttled = CrmError::new(CrmErrorKind::Throttled, "429");
        throttled.retry_after = Some(Duration::from_secs(7));
        assert_eq!(
            retry_of(&throttled, now),
            JobOutcome::Retry {
                reason: "429".into(),
                at: Some(now + TimeDelta::seconds(7))
            }
        );
        assert!(matches!(
            retry_of(&CrmError::new(CrmErrorKind::Credentials, "revoked"), now),
            JobOutcome::Retry { at: None, .. }
        ));
        assert!(matches!(
            retry_of(&CrmError::new(CrmErrorKind::Rejected, "too long"), now),
            JobOutcome::GiveUp { .. }
        ));
    }
}
