//! Matching as part of a sync: the workspace's own people and companies against the CRM's
//! contacts, leads and accounts.
//!
//! The indexes are kept between syncs of a tenant (in this process), so that a sync which read a
//! few changes matches only what those changes can affect: the workspace records sharing a block
//! with a changed CRM record (as it was and as it is), those matched to it, those added or edited
//! in the workspace since the last pass, and those whose corrections (pins, rejections) changed.
//! Whatever could leave the kept indexes behind the mirror — a table read in full, another
//! process syncing the tenant in between, a run that stopped half-way, a day gone by — makes the
//! pass rebuild them from the mirror, a page at a time, and match everyone.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use domain::crm::{CrmAccount, CrmContact, CrmLead, CrmPersonRef, CrmTable, DeltaToken};
use domain::directory::{Company, Person};
use domain::ids::{
    CompanyId, CrmAccountId, CrmConnectionId, CrmContactId, CrmLeadId, PersonId, TenantId,
};
use domain::matches::{CompanyMatch, PersonMatch};
use matching::{CompanyIndex, PeopleIndex};
use uuid::Uuid;

use crate::engine::{Result, SyncEngine};
use crate::import::Run;
use crate::matcher::{
    Companies, MatchChanges, People, Side, account_record, contact_record, lead_record, person_key,
    rematch, workspace_company, workspace_person,
};

/// Rows read in a page of the mirror, and people or companies matched per batch.
const PAGE: u32 = 5_000;
/// A full pass at least this often: frequencies drift as records change, and records deleted from
/// the workspace linger in the kept index until then.
const REBUILD_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Records changed this long before the last pass began are matched again too, so that one
/// written by a transaction that committed after that pass read is not missed.
const SINCE_MARGIN: TimeDelta = TimeDelta::minutes(1);

/// What one run read from the CRM, per table.
#[derive(Debug, Default)]
pub(crate) struct RunChanges {
    /// Tables read in full: anything in them may have changed.
    pub full: BTreeSet<CrmTable>,
    /// Tables read as changes: the rows changed or added, and those deleted.
    pub upserted: HashMap<CrmTable, Vec<Uuid>>,
    pub deleted: HashMap<CrmTable, Vec<Uuid>>,
}

impl RunChanges {
    fn upserted(&self, table: CrmTable) -> &[Uuid] {
        self.upserted.get(&table).map_or(&[], Vec::as_slice)
    }

    fn deleted(&self, table: CrmTable) -> &[Uuid] {
        self.deleted.get(&table).map_or(&[], Vec::as_slice)
    }
}

/// A tenant's matching indexes, current with the mirror as the delta tokens `tokens` left it.
pub(crate) struct MatchState {
    connection: CrmConnectionId,
    tokens: Vec<DeltaToken>,
    built: Instant,
    pub(crate) used: Instant,
    /// When the last pass began: workspace records changed since (less a margin) are matched
    /// again.
    since: DateTime<Utc>,
    /// The versions (last change) of the people and companies inside that margin that the last
    /// pass already matched: not matched again while they have not changed. Without this, a
    /// directory imported just before a sync would be matched a second time by the next one.
    matched_people: HashMap<PersonId, DateTime<Utc>>,
    matched_companies: HashMap<CompanyId, DateTime<Utc>>,
    /// Contacts and leads, with reps' rejections; `None` while the workspace had no people of its
    /// own to match (a million contacts are not indexed for nobody).
    crm_people: Option<PeopleIndex>,
    /// The workspace's own people, to find whom a CRM change can affect.
    workspace_people: PeopleIndex,
    people_rejections: BTreeSet<(PersonId, CrmPersonRef)>,
    pinned_people: BTreeSet<PersonId>,
    accounts: Option<CompanyIndex>,
    workspace_companies: CompanyIndex,
    company_rejections: BTreeSet<(CompanyId, CrmAccountId)>,
    pinned_companies: BTreeSet<CompanyId>,
    /// Account names, for contacts' company.
    account_names: HashMap<CrmAccountId, String>,
}

impl MatchState {
    fn new(connection: CrmConnectionId, tokens: Vec<DeltaToken>, since: DateTime<Utc>) -> Self {
        MatchState {
            connection,
            tokens,
            built: Instant::now(),
            used: Instant::now(),
            since,
            matched_people: HashMap::new(),
            matched_companies: HashMap::new(),
            crm_people: None,
            workspace_people: PeopleIndex::default(),
            people_rejections: BTreeSet::new(),
            pinned_people: BTreeSet::new(),
            accounts: None,
            workspace_companies: CompanyIndex::default(),
            company_rejections: BTreeSet::new(),
            pinned_companies: BTreeSet::new(),
            account_names: HashMap::new(),
        }
    }

    /// Whether the kept indexes can be brought up to date with this run's changes alone.
    fn current_for(&self, run: &Run) -> bool {
        self.connection == run.connection
            && same_tokens(&self.tokens, &run.tokens_at_start)
            && run.changes.full.is_empty()
            && self.built.elapsed() < REBUILD_AFTER
    }
}

fn same_tokens(a: &[DeltaToken], b: &[DeltaToken]) -> bool {
    fn sorted(t: &[DeltaToken]) -> Vec<(CrmTable, &str)> {
        let mut v: Vec<(CrmTable, &str)> = t.iter().map(|t| (t.table, t.token.as_str())).collect();
        v.sort_unstable();
        v
    }
    sorted(a) == sorted(b)
}

/// The workspace's own records: not created by the import from a CRM row.
fn own<S: Side>(record: &S::Record) -> bool {
    !S::from_crm(record)
}

/// Of the records changed since the last pass (each with the time of its last change), the own
/// ones whose version that pass did not already match (`matched`); and the versions changed at
/// `margin` or later, which the next pass must not match again while they stay as they are.
/// `key` gives a record's id and whether it is the workspace's own.
fn to_rematch<T, I: Copy + Eq + std::hash::Hash>(
    changed: Vec<(T, DateTime<Utc>)>,
    matched: &HashMap<I, DateTime<Utc>>,
    margin: DateTime<Utc>,
    key: impl Fn(&T) -> (I, bool),
) -> (Vec<T>, HashMap<I, DateTime<Utc>>) {
    let mut again = Vec::new();
    let mut seen = HashMap::new();
    for (record, at) in changed {
        let (id, own) = key(&record);
        if at >= margin {
            seen.insert(id, at);
        }
        if own && matched.get(&id) != Some(&at) {
            again.push(record);
        }
    }
    (again, seen)
}

fn parse_ids<T: From<Uuid>>(ids: Vec<&str>) -> Vec<T> {
    ids.into_iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .map(T::from)
        .collect()
}

/// The kept states of the tenants this process synced lately.
pub(crate) type MatchStates = std::sync::Mutex<HashMap<TenantId, MatchState>>;

impl SyncEngine {
    fn take_match_state(&self, tenant: TenantId) -> Option<MatchState> {
        self.match_states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&tenant)
    }

    /// Keeps a tenant's state for its next sync, dropping the least recently used beyond the
    /// configured number of tenants.
    fn keep_match_state(&self, tenant: TenantId, mut state: MatchState) {
        if self.config.match_cache_tenants == 0 {
            return;
        }
        state.used = Instant::now();
        let mut states = self
            .match_states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        states.insert(tenant, state);
        while states.len() > self.config.match_cache_tenants {
            let Some(oldest) = states.iter().min_by_key(|(_, s)| s.used).map(|(t, _)| *t) else {
                break;
            };
            states.remove(&oldest);
        }
    }

    /// Forgets a tenant's kept indexes (after a disconnect or purge).
    pub(crate) fn forget_match_state(&self, tenant: TenantId) {
        self.take_match_state(tenant);
    }

    /// Matches the workspace against the complete mirror: only what this run's changes can
    /// affect when the kept indexes allow it, everyone otherwise.
    pub(crate) async fn match_workspace(&self, run: &mut Run) -> Result<()> {
        let tokens = self.tenant(run.tenant).delta_tokens(run.connection).await?;
        let kept = self
            .take_match_state(run.tenant)
            .filter(|state| state.current_for(run));
        let state = match kept {
            Some(mut state) => {
                run.enter_phase(Some("matching changes"));
                if self.match_changes(run, &mut state).await? {
                    Some(state)
                } else {
                    None
                }
            }
            None => None,
        };
        let mut state = match state {
            Some(state) => state,
            None => self.match_everything(run).await?,
        };
        state.tokens = tokens;
        self.keep_match_state(run.tenant, state);
        Ok(())
    }

    /// Builds the indexes from the mirror a page at a time and matches every own person and
    /// company of the workspace.
    async fn match_everything(&self, run: &mut Run) -> Result<MatchState> {
        run.enter_phase(Some("indexing the CRM"));
        self.store.refresh_statistics().await?;
        let mut store = self.tenant(run.tenant);
        let connection = run.connection;
        let mut state = MatchState::new(connection, Vec::new(), self.store.now());
        // What changed within the margin before this pass, as it is now: this pass reads it (or a
        // later version) below and matches it.
        let margin = state.since - SINCE_MARGIN;
        state.matched_people = store
            .people_changed_since(margin)
            .await?
            .into_iter()
            .map(|(r, at)| (r.person.id, at))
            .collect();
        state.matched_companies = store
            .companies_changed_since(margin)
            .await?
            .into_iter()
            .map(|(r, at)| (r.company.id, at))
            .collect();
        let index_people = store.has_own_people().await?;
        let index_companies = store.has_own_companies().await?;

        let mut accounts = index_companies.then(CompanyIndex::default);
        let mut after = None;
        loop {
            let page: Vec<CrmAccount> = store.crm_rows_page(connection, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.0);
            for account in page {
                if let Some(index) = &mut accounts {
                    index.upsert(&account_record(&account));
                }
                state.account_names.insert(account.id, account.name);
            }
        }
        if let Some(index) = &mut accounts {
            for (company, account) in store.company_rejections().await? {
                index.reject(&company.0.to_string(), &account.0.to_string());
                state.company_rejections.insert((company, account));
            }
        }
        state.accounts = accounts;

        if index_people {
            let mut index = PeopleIndex::default();
            let mut after = None;
            loop {
                let page: Vec<CrmContact> = store.crm_rows_page(connection, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.0);
                for contact in &page {
                    index.upsert(&contact_record(contact, &state.account_names));
                }
            }
            let mut after = None;
            loop {
                let page: Vec<CrmLead> = store.crm_rows_page(connection, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.0);
                for lead in &page {
                    index.upsert(&lead_record(lead));
                }
            }
            for (person, crm) in store.person_rejections().await? {
                index.reject(&person.0.to_string(), &person_key(crm));
                state.people_rejections.insert((person, crm));
            }
            state.crm_people = Some(index);
        }
        state.pinned_people = store.pinned_people().await?.into_iter().collect();
        state.pinned_companies = store.pinned_companies().await?.into_iter().collect();

        run.enter_phase(Some("matching people"));
        if let Some(index) = &state.crm_people {
            let mut after = None;
            loop {
                let page = store.people_page(after, PAGE).await?;
                let (Some(first), Some(last)) = (page.first(), page.last()) else {
                    break;
                };
                let (first, last) = (first.person.id, last.person.id);
                after = Some(last);
                let people: Vec<Person> = page
                    .into_iter()
                    .map(|r| r.person)
                    .filter(own::<People>)
                    .collect();
                for person in &people {
                    state.workspace_people.upsert(&workspace_person(person));
                }
                let current = store.person_matches_between(first, last).await?;
                self.write_people_changes(run.tenant, rematch::<People>(index, &people, &current))
                    .await?;
            }
        }
        run.enter_phase(Some("matching companies"));
        if let Some(index) = &state.accounts {
            let mut after = None;
            loop {
                let page = store.companies_page(after, PAGE).await?;
                let (Some(first), Some(last)) = (page.first(), page.last()) else {
                    break;
                };
                let (first, last) = (first.company.id, last.company.id);
                after = Some(last);
                let companies: Vec<Company> = page
                    .into_iter()
                    .map(|r| r.company)
                    .filter(own::<Companies>)
                    .collect();
                for company in &companies {
                    state
                        .workspace_companies
                        .upsert(&workspace_company(company));
                }
                let current = store.company_matches_between(first, last).await?;
                self.write_company_changes(
                    run.tenant,
                    rematch::<Companies>(index, &companies, &current),
                )
                .await?;
            }
        }
        // The matches just written are what the auto-save plan reads next.
        self.store.refresh_statistics().await?;
        Ok(state)
    }

    /// Brings the kept indexes up to date with this run's changes and matches again what they
    /// can affect. `false` when they cannot serve (the workspace gained its first own people or
    /// companies since they were built without them): match everything instead.
    async fn match_changes(&self, run: &mut Run, state: &mut MatchState) -> Result<bool> {
        let mut store = self.tenant(run.tenant);
        let connection = run.connection;
        let began = self.store.now();
        let since = state.since - SINCE_MARGIN;
        let margin = began - SINCE_MARGIN;
        let (people, matched_people) = to_rematch(
            store.people_changed_since(since).await?,
            &state.matched_people,
            margin,
            |r| (r.person.id, own::<People>(&r.person)),
        );
        let people: Vec<Person> = people.into_iter().map(|r| r.person).collect();
        let (companies, matched_companies) = to_rematch(
            store.companies_changed_since(since).await?,
            &state.matched_companies,
            margin,
            |r| (r.company.id, own::<Companies>(&r.company)),
        );
        let companies: Vec<Company> = companies.into_iter().map(|r| r.company).collect();
        if (state.crm_people.is_none() && !people.is_empty())
            || (state.accounts.is_none() && !companies.is_empty())
        {
            return Ok(false);
        }

        // Accounts: companies looking at each changed account as it was and as it is.
        let mut affected_companies: BTreeSet<CompanyId> = BTreeSet::new();
        let up = run.changes.upserted(CrmTable::Account);
        let gone = run.changes.deleted(CrmTable::Account);
        let mut renamed: Vec<CrmAccountId> = gone.iter().copied().map(CrmAccountId).collect();
        if let Some(index) = &mut state.accounts {
            for id in up.iter().chain(gone) {
                if let Some(old) = index.prepared(&id.to_string()) {
                    affected_companies.extend(parse_ids::<CompanyId>(
                        state.workspace_companies.looking_at(index, old),
                    ));
                }
            }
            for id in gone {
                index.remove(&id.to_string());
            }
        }
        for id in gone {
            state.account_names.remove(&CrmAccountId(*id));
        }
        for account in store.crm_rows_by_ids::<CrmAccount>(connection, up).await? {
            if state.account_names.get(&account.id) != Some(&account.name) {
                renamed.push(account.id);
            }
            if let Some(index) = &mut state.accounts {
                let key = account.id.0.to_string();
                index.upsert(&account_record(&account));
                if let Some(new) = index.prepared(&key) {
                    affected_companies.extend(parse_ids::<CompanyId>(
                        state.workspace_companies.looking_at(index, new),
                    ));
                }
            }
            state.account_names.insert(account.id, account.name);
        }
        let accounts: Vec<CrmAccountId> =
            up.iter().chain(gone).copied().map(CrmAccountId).collect();
        affected_companies.extend(
            store
                .companies_matched_to_any(&accounts)
                .await?
                .into_iter()
                .map(|m| m.company),
        );

        // Contacts (also those whose account was renamed or went) and leads.
        let mut affected_people: BTreeSet<PersonId> = BTreeSet::new();
        if let Some(index) = &mut state.crm_people {
            let mut contacts: Vec<CrmContact> = store
                .crm_rows_by_ids(connection, run.changes.upserted(CrmTable::Contact))
                .await?;
            contacts.extend(store.crm_contacts_of_accounts(connection, &renamed).await?);
            contacts.sort_by_key(|c| c.id);
            contacts.dedup_by_key(|c| c.id);
            let leads: Vec<CrmLead> = store
                .crm_rows_by_ids(connection, run.changes.upserted(CrmTable::Lead))
                .await?;
            let mut records: Vec<matching::PersonRecord> = contacts
                .iter()
                .map(|c| contact_record(c, &state.account_names))
                .collect();
            records.extend(leads.iter().map(lead_record));
            let mut refs: Vec<CrmPersonRef> = contacts
                .iter()
                .map(|c| CrmPersonRef::Contact(c.id))
                .chain(leads.iter().map(|l| CrmPersonRef::Lead(l.id)))
                .collect();
            let deleted: Vec<CrmPersonRef> = run
                .changes
                .deleted(CrmTable::Contact)
                .iter()
                .map(|id| CrmPersonRef::Contact(CrmContactId(*id)))
                .chain(
                    run.changes
                        .deleted(CrmTable::Lead)
                        .iter()
                        .map(|id| CrmPersonRef::Lead(CrmLeadId(*id))),
                )
                .collect();
            refs.extend(&deleted);
            for crm in &refs {
                if let Some(old) = index.prepared(&person_key(*crm)) {
                    affected_people.extend(parse_ids::<PersonId>(
                        state.workspace_people.looking_at(index, old),
                    ));
                }
            }
            for crm in &deleted {
                index.remove(&person_key(*crm));
            }
            for record in &records {
                index.upsert(record);
                if let Some(new) = index.prepared(&record.id) {
                    affected_people.extend(parse_ids::<PersonId>(
                        state.workspace_people.looking_at(index, new),
                    ));
                }
            }
            affected_people.extend(
                store
                    .people_matched_to_any(&refs)
                    .await?
                    .into_iter()
                    .map(|m| m.person),
            );
        }

        // The workspace's own changes and the reps' corrections.
        for person in &people {
            state.workspace_people.upsert(&workspace_person(person));
            affected_people.insert(person.id);
        }
        for company in &companies {
            state
                .workspace_companies
                .upsert(&workspace_company(company));
            affected_companies.insert(company.id);
        }
        if let Some(index) = &mut state.crm_people {
            let now: BTreeSet<(PersonId, CrmPersonRef)> =
                store.person_rejections().await?.into_iter().collect();
            for (person, crm) in now.difference(&state.people_rejections) {
                index.reject(&person.0.to_string(), &person_key(*crm));
                affected_people.insert(*person);
            }
            for (person, crm) in state.people_rejections.difference(&now) {
                index.unreject(&person.0.to_string(), &person_key(*crm));
                affected_people.insert(*person);
            }
            state.people_rejections = now;
        }
        if let Some(index) = &mut state.accounts {
            let now: BTreeSet<(CompanyId, CrmAccountId)> =
                store.company_rejections().await?.into_iter().collect();
            for (company, account) in now.difference(&state.company_rejections) {
                index.reject(&company.0.to_string(), &account.0.to_string());
                affected_companies.insert(*company);
            }
            for (company, account) in state.company_rejections.difference(&now) {
                index.unreject(&company.0.to_string(), &account.0.to_string());
                affected_companies.insert(*company);
            }
            state.company_rejections = now;
        }
        let pinned: BTreeSet<PersonId> = store.pinned_people().await?.into_iter().collect();
        affected_people.extend(pinned.symmetric_difference(&state.pinned_people));
        state.pinned_people = pinned;
        let pinned: BTreeSet<CompanyId> = store.pinned_companies().await?.into_iter().collect();
        affected_companies.extend(pinned.symmetric_difference(&state.pinned_companies));
        state.pinned_companies = pinned;

        tracing::info!(
            tenant = %run.tenant,
            sync = %run.id,
            people = affected_people.len(),
            companies = affected_companies.len(),
            "matching what the changes can affect"
        );
        if let Some(index) = &state.crm_people {
            let ids: Vec<PersonId> = affected_people.into_iter().collect();
            for chunk in ids.chunks(PAGE as usize) {
                let people: Vec<Person> = store
                    .people_by_ids(chunk)
                    .await?
                    .into_iter()
                    .map(|r| r.person)
                    .filter(own::<People>)
                    .collect();
                let current = store.person_matches_of(chunk).await?;
                self.write_people_changes(run.tenant, rematch::<People>(index, &people, &current))
                    .await?;
            }
        }
        if let Some(index) = &state.accounts {
            let ids: Vec<CompanyId> = affected_companies.into_iter().collect();
            for chunk in ids.chunks(PAGE as usize) {
                let companies: Vec<Company> = store
                    .companies_by_ids(chunk)
                    .await?
                    .into_iter()
                    .map(|r| r.company)
                    .filter(own::<Companies>)
                    .collect();
                let current = store.company_matches_of(chunk).await?;
                self.write_company_changes(
                    run.tenant,
                    rematch::<Companies>(index, &companies, &current),
                )
                .await?;
            }
        }
        state.since = began;
        state.matched_people = matched_people;
        state.matched_companies = matched_companies;
        Ok(true)
    }

    async fn write_people_changes(
        &self,
        tenant: TenantId,
        changes: MatchChanges<PersonId, PersonMatch>,
    ) -> Result<()> {
        if changes.cleared.is_empty() && changes.upsert.is_empty() {
            return Ok(());
        }
        let mut tx = self.tenant(tenant).begin().await?;
        for person in &changes.cleared {
            tx.clear_automatic_person_matches(*person).await?;
        }
        tx.upsert_person_matches(&changes.upsert).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn write_company_changes(
        &self,
        tenant: TenantId,
        changes: MatchChanges<CompanyId, CompanyMatch>,
    ) -> Result<()> {
        if changes.cleared.is_empty() && changes.upsert.is_empty() {
            return Ok(());
        }
        let mut tx = self.tenant(tenant).begin().await?;
        for company in &changes.cleared {
            tx.clear_automatic_company_matches(*company).await?;
        }
        tx.upsert_company_matches(&changes.upsert).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_already_matched_is_not_matched_again_until_it_changes() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        // (id, own, last change)
        let changed = vec![
            (1, true, t(100)),
            (2, true, t(150)),
            (3, false, t(160)),
            (4, true, t(50)),
        ];
        let matched = HashMap::from([(1, t(100)), (2, t(140))]);
        let (again, seen) = to_rematch(
            changed
                .into_iter()
                .map(|(id, own, at)| ((id, own), at))
                .collect(),
            &matched,
            t(90),
            |&(id, own)| (id, own),
        );
        // 1 is the version already matched; 2 changed since; 3 is not the workspace's own; 4
        // was not in the last pass's margin, so it changed after that pass read.
        assert_eq!(again, vec![(2, true), (4, true)]);
        // Inside the new margin: 1, 2 and 3 (as they are now), not 4.
        assert_eq!(seen, HashMap::from([(1, t(100)), (2, t(150)), (3, t(160))]));
    }
}
