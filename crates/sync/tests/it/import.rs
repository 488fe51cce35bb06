//! The import end to end: each rep's pipeline saved with its reasons, deltas (closed, reassigned,
//! fallen back, deleted) unsaving what they alone brought, hand-saved items untouched, an expired
//! delta token read in full, matches with pins and rejections, the preview and won revenue.

use std::collections::{BTreeMap, BTreeSet};

use dataverse_emulator::seed::{SeedSize, SeedUser, generate};
use domain::crm::{CrmContact, CrmPersonRef};
use domain::ids::{
    CrmAccountId, CrmConnectionId, CrmContactId, CrmOpportunityId, SeatId, TenantId,
};
use domain::import::{company_id_for_account, person_id_for_contact};
use domain::matches::MatchOrigin;
use domain::saved::{CrmReason, SavedTarget};
use domain::settings::{CrmSettings, PipelineStage, WonValueField, WritebackSettings};
use reqwest::Method;
use serde_json::{Value, json};
use store::directory::NewPerson;
use sync::jobs::Trigger;
use sync::{SyncEngine, SyncRunResult};
use uuid::Uuid;

use crate::harness::{Db, Emulator, both, engine};

/// The seeded reps that hold seats in these tests.
fn reps(count: usize) -> Vec<SeedUser> {
    generate(SeedSize::Small, 1)
        .users
        .into_iter()
        .filter(|u| !u.is_disabled && u.title.as_deref().is_some_and(|t| t.contains("Account")))
        .take(count)
        .collect()
}

pub struct Org {
    pub engine: SyncEngine,
    pub tenant: TenantId,
    pub connection: CrmConnectionId,
    /// Seats and the seeded CRM user each one's email belongs to.
    pub seats: Vec<(SeatId, SeedUser)>,
}

pub fn settings(stage: PipelineStage) -> CrmSettings {
    CrmSettings {
        auto_sync_all_seats: true,
        pipeline_stage: stage,
        won_value_field: WonValueField::NotSure,
        writeback: WritebackSettings::OFF,
    }
}

/// A tenant with two reps (seats whose emails are seeded CRM users), connected, with settings.
pub async fn connected_org(db: &Db, e: &Emulator, stage: PipelineStage) -> Org {
    let engine = engine(&db.store, e, 40);
    let tenant = db.tenant("Contoso", 10).await;
    let mut seats = Vec::new();
    for rep in reps(2) {
        let (_, seat) = db.rep(tenant, &rep.email.to_uppercase()).await;
        seats.push((seat, rep));
    }
    let connected = engine
        .connect_application_user(
            tenant,
            sync::ApplicationUser {
                org_url: e.emu.info.org_url.clone(),
                entra_tenant: e.emu.info.tenant_id.to_string(),
                client_id: e.emu.info.client_id.to_string(),
                client_secret: secrecy::SecretString::from(e.emu.info.client_secret.clone()),
                authority_url: Some(e.emu.info.authority_url.clone()),
            },
        )
        .await
        .unwrap();
    db.store
        .tenant(tenant)
        .put_crm_settings(&settings(stage))
        .await
        .unwrap();
    Org {
        engine,
        tenant,
        connection: connected.connection,
        seats,
    }
}

/// Runs a sync now, waiting for one that background workers may be running to finish first.
pub async fn sync(org: &Org) -> store::sync_runs::SyncRun {
    let run = crate::harness::eventually("the tenant to be free to sync", || async {
        match org
            .engine
            .run_sync(org.tenant, Trigger::SyncNow)
            .await
            .unwrap()
        {
            SyncRunResult::Finished(run) => Some(run),
            SyncRunResult::Busy => None,
            SyncRunResult::NotConnected => panic!("not connected"),
        }
    })
    .await;
    let run = org
        .engine
        .store()
        .tenant(org.tenant)
        .sync_run(run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        run.outcome,
        Some(store::sync_runs::SyncOutcome::Succeeded),
        "{run:?}"
    );
    run
}

/// What the rule should save for a CRM user, from the opportunities as the CRM holds them now.
async fn expected(
    e: &Emulator,
    org: &Org,
    user: Uuid,
    past: &[i64],
) -> BTreeMap<SavedTarget, BTreeSet<CrmReason>> {
    let rows = e
        .get(&format!(
            "opportunities?$select=statecode,salesstage,_customerid_value,_parentcontactid_value&$filter=_ownerid_value eq {user}"
        ))
        .await;
    let mut out: BTreeMap<SavedTarget, BTreeSet<CrmReason>> = BTreeMap::new();
    for row in rows["value"].as_array().unwrap() {
        let stage = row["salesstage"].as_i64();
        if row["statecode"] != 0 || !stage.is_some_and(|s| past.contains(&s)) {
            continue;
        }
        let reason = CrmReason {
            opportunity: CrmOpportunityId(id(&row["opportunityid"])),
            stage: stage.map(|s| s as i32),
        };
        let account = CrmAccountId(id(&row["_customerid_value"]));
        out.entry(SavedTarget::Account(company_id_for_account(
            org.connection,
            account,
        )))
        .or_default()
        .insert(reason);
        if let Some(contact) = row["_parentcontactid_value"].as_str() {
            let contact = CrmContactId(Uuid::parse_str(contact).unwrap());
            out.entry(SavedTarget::Lead(person_id_for_contact(
                org.connection,
                contact,
            )))
            .or_default()
            .insert(reason);
        }
    }
    out
}

fn id(value: &Value) -> Uuid {
    Uuid::parse_str(value.as_str().unwrap()).unwrap()
}

async fn saved(org: &Org, seat: SeatId) -> BTreeMap<SavedTarget, (bool, BTreeSet<CrmReason>)> {
    org.engine
        .store()
        .tenant(org.tenant)
        .saved_items(Some(seat))
        .await
        .unwrap()
        .into_iter()
        .map(|item| (item.key.target, (item.by_hand, item.crm_reasons)))
        .collect()
}

fn imported(
    expected: BTreeMap<SavedTarget, BTreeSet<CrmReason>>,
) -> BTreeMap<SavedTarget, (bool, BTreeSet<CrmReason>)> {
    expected
        .into_iter()
        .map(|(target, reasons)| (target, (false, reasons)))
        .collect()
}

both!(
    each_reps_pipeline_is_saved_with_its_reasons_and_follows_the_crm,
    an_expired_delta_token_reads_in_full_without_losing_or_duplicating,
    workspace_people_are_matched_and_reps_corrections_stick,
    a_sync_of_changes_matches_again_whom_they_concern,
    the_preview_counts_each_stage_choice_and_won_revenue_is_per_seat,
);

async fn each_reps_pipeline_is_saved_with_its_reasons_and_follows_the_crm(db: Db) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::Stage(1)).await;
    sync(&org).await;
    let past = [2, 3];
    for (seat, rep) in &org.seats {
        let want = expected(&e, &org, rep.id, &past).await;
        assert!(!want.is_empty(), "every seeded rep has a pipeline");
        assert_eq!(saved(&org, *seat).await, imported(want));
        let info = db
            .store
            .tenant(org.tenant)
            .seat(*seat)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.crm_user.map(|u| u.0), Some(rep.id), "mapped by email");
    }
    // A seat whose email no CRM user has gets nothing, and no CRM user.
    let (_, stranger) = db.rep(org.tenant, "nobody@elsewhere.example").await;
    sync(&org).await;
    assert!(saved(&org, stranger).await.is_empty());

    // In the CRM: one opportunity is won, one reassigned, one falls back to Qualify, and a
    // contact is deleted. The rep had saved one of the accounts by hand.
    let (seat, rep) = &org.seats[0];
    let rows = e
        .get(&format!(
            "opportunities?$select=name,salesstage,_customerid_value&$filter=_ownerid_value eq {} and statecode eq 0 and salesstage ge 2",
            rep.id
        ))
        .await;
    let opps: Vec<Uuid> = rows["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| id(&r["opportunityid"]))
        .collect();
    assert!(opps.len() >= 3, "{opps:?}");
    let won_account = id(&rows["value"][0]["_customerid_value"]);
    let hand_saved = SavedTarget::Account(company_id_for_account(
        org.connection,
        CrmAccountId(won_account),
    ));
    db.store
        .tenant(org.tenant)
        .save_by_hand(*seat, hand_saved)
        .await
        .unwrap();
    let patch = |opp: Uuid, body: Value| {
        let e = &e;
        async move {
            let (status, reply) = e
                .api(Method::PATCH, &format!("opportunities({opp})"), Some(body))
                .await;
            assert_eq!(status, 204, "{reply}");
        }
    };
    patch(opps[0], json!({"statecode": 1, "statuscode": 3})).await;
    let other = &org.seats[1].1;
    patch(
        opps[1],
        json!({"ownerid@odata.bind": format!("/systemusers({})", other.id)}),
    )
    .await;
    patch(opps[2], json!({"salesstage": 0})).await;
    sync(&org).await;

    let mut want = imported(expected(&e, &org, rep.id, &past).await);
    // The hand-saved account stays, without the reasons that no longer hold.
    let reasons_left = want
        .get(&hand_saved)
        .map(|(_, r)| r.clone())
        .unwrap_or_default();
    want.insert(hand_saved, (true, reasons_left));
    assert_eq!(saved(&org, *seat).await, want);
    assert_eq!(
        saved(&org, org.seats[1].0).await,
        imported(expected(&e, &org, other.id, &past).await),
        "the reassigned opportunity now counts for the other rep"
    );

    // Deletes in the CRM leave the mirror.
    let contacts: Vec<CrmContact> = db
        .store
        .tenant(org.tenant)
        .crm_rows(org.connection)
        .await
        .unwrap();
    let gone = contacts[0].id;
    let (status, _) = e
        .api(Method::DELETE, &format!("contacts({})", gone.0), None)
        .await;
    assert_eq!(status, 204);
    sync(&org).await;
    let after: Vec<CrmContact> = db
        .store
        .tenant(org.tenant)
        .crm_rows(org.connection)
        .await
        .unwrap();
    assert_eq!(after.len(), contacts.len() - 1);
    assert!(!after.iter().any(|c| c.id == gone));
}

async fn an_expired_delta_token_reads_in_full_without_losing_or_duplicating(db: Db) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    sync(&org).await;
    let before: Vec<CrmContact> = db
        .store
        .tenant(org.tenant)
        .crm_rows(org.connection)
        .await
        .unwrap();
    let (status, _) = e
        .api(
            Method::DELETE,
            &format!("contacts({})", before[5].id.0),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let added = e
        .create(
            "contacts",
            json!({"firstname": "Nuno", "lastname": "Added"}),
        )
        .await;
    e.admin(
        Method::POST,
        "clock",
        json!({"advance_seconds": 8 * 24 * 3600}),
    )
    .await;
    let run = sync(&org).await;
    let errors = db
        .store
        .tenant(org.tenant)
        .sync_run_errors(run.id)
        .await
        .unwrap();
    assert!(
        errors.iter().any(|e| e.message.contains("read in full")),
        "{errors:?}"
    );
    let after: Vec<CrmContact> = db
        .store
        .tenant(org.tenant)
        .crm_rows(org.connection)
        .await
        .unwrap();
    let crm_count = e.get("contacts/$count").await;
    assert_eq!(after.len() as i64, crm_count.as_i64().unwrap());
    assert_eq!(after.len(), before.len());
    assert!(!after.iter().any(|c| c.id == before[5].id));
    assert!(
        after
            .iter()
            .any(|c| c.id.0 == Uuid::parse_str(&added).unwrap())
    );
    // The next sync is a delta again.
    let run = sync(&org).await;
    assert!(run.rows_done < 10, "{run:?}");
}

async fn workspace_people_are_matched_and_reps_corrections_stick(db: Db) {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    let rep = &org.seats[0].1;
    // A contact on one of the rep's open opportunities, already in the workspace directory.
    let opp = seed
        .opportunities
        .iter()
        .find(|o| o.owner == rep.id && o.state == 0 && o.contact.is_some())
        .unwrap();
    let contact = seed
        .contacts
        .iter()
        .find(|c| Some(c.id) == opp.contact)
        .unwrap();
    let other = seed
        .contacts
        .iter()
        .find(|c| c.email.is_some() && c.id != contact.id)
        .unwrap();
    let mut t = db.store.tenant(org.tenant);
    let ids = t
        .upsert_people(&[
            NewPerson {
                external_id: Some("p1".into()),
                full_name: format!("{} {}", contact.first_name, contact.last_name),
                title: contact.job_title.clone(),
                company_name: None,
                company: None,
                location: None,
                email: contact.email.clone(),
                phone: None,
                profile_url: None,
                past_companies: Vec::new(),
            },
            NewPerson {
                external_id: Some("p2".into()),
                full_name: format!("{} {}", other.first_name, other.last_name),
                title: None,
                company_name: None,
                company: None,
                location: None,
                email: other.email.clone(),
                phone: None,
                profile_url: None,
                past_companies: Vec::new(),
            },
        ])
        .await
        .unwrap();
    let (known, second) = (ids[0], ids[1]);
    sync(&org).await;
    let matches = t.person_matches(Some(known)).await.unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(
        matches[0].crm,
        CrmPersonRef::Contact(CrmContactId(contact.id))
    );
    assert_eq!(matches[0].origin, MatchOrigin::Exact);
    // The lead saved for the rep is the workspace person, not a copy made from the CRM.
    let items = saved(&org, org.seats[0].0).await;
    assert!(items.contains_key(&SavedTarget::Lead(known)));
    assert!(
        !items.contains_key(&SavedTarget::Lead(person_id_for_contact(
            org.connection,
            CrmContactId(contact.id)
        )))
    );

    // The rep says the second person is not that contact; another sync does not bring it back.
    let wrong = CrmPersonRef::Contact(CrmContactId(other.id));
    assert_eq!(t.person_matches(Some(second)).await.unwrap()[0].crm, wrong);
    t.reject_person_match(second, wrong).await.unwrap();
    // And pins the first to another contact: the pin stays.
    let pinned = CrmPersonRef::Contact(CrmContactId(seed.contacts[0].id));
    t.pin_person_match(known, pinned, "Checked by the rep.")
        .await
        .unwrap();
    sync(&org).await;
    assert!(t.person_matches(Some(second)).await.unwrap().is_empty());
    let known_matches = t.person_matches(Some(known)).await.unwrap();
    assert_eq!(known_matches.len(), 1);
    assert_eq!(known_matches[0].crm, pinned);
    assert_eq!(known_matches[0].origin, MatchOrigin::ByRep);
}

fn person_like(external_id: &str, name: &str, email: Option<&str>) -> NewPerson {
    NewPerson {
        external_id: Some(external_id.into()),
        full_name: name.into(),
        title: None,
        company_name: None,
        company: None,
        location: None,
        email: email.map(str::to_owned),
        phone: None,
        profile_url: None,
        past_companies: Vec::new(),
    }
}

/// A sync that reads only changes matches again exactly the people they concern: a contact whose
/// email now names a workspace person matches it, a deleted contact's person loses its match, a
/// person added to the workspace between syncs is matched, and nobody else's match moves.
async fn a_sync_of_changes_matches_again_whom_they_concern(db: Db) {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    let mut with_email = seed.contacts.iter().filter(|c| c.email.is_some());
    let (kept, deleted, renamed, later) = (
        with_email.next().unwrap(),
        with_email.next().unwrap(),
        with_email.next().unwrap(),
        with_email.next().unwrap(),
    );
    let name =
        |c: &dataverse_emulator::seed::SeedContact| format!("{} {}", c.first_name, c.last_name);
    let mut t = db.store.tenant(org.tenant);
    let ids = t
        .upsert_people(&[
            person_like("kept", &name(kept), kept.email.as_deref()),
            person_like("deleted", &name(deleted), deleted.email.as_deref()),
            // Nobody in the CRM has this address yet.
            person_like(
                "newcomer",
                &name(renamed),
                Some("fresh.address@newcomer.example"),
            ),
        ])
        .await
        .unwrap();
    let (kept_id, deleted_id, newcomer_id) = (ids[0], ids[1], ids[2]);
    sync(&org).await;
    let crm_of = |matches: Vec<domain::matches::PersonMatch>| -> Vec<CrmPersonRef> {
        matches.into_iter().map(|m| m.crm).collect()
    };
    let contact =
        |c: &dataverse_emulator::seed::SeedContact| CrmPersonRef::Contact(CrmContactId(c.id));
    assert_eq!(
        crm_of(t.person_matches(Some(kept_id)).await.unwrap()),
        [contact(kept)]
    );
    assert_eq!(
        crm_of(t.person_matches(Some(deleted_id)).await.unwrap()),
        [contact(deleted)]
    );
    assert!(
        t.person_matches(Some(newcomer_id))
            .await
            .unwrap()
            .is_empty()
    );
    let kept_before = t.person_matches(Some(kept_id)).await.unwrap();

    // In the CRM: one contact goes, another takes the newcomer's address.
    let (status, body) = e
        .api(Method::DELETE, &format!("contacts({})", deleted.id), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = e
        .api(
            Method::PATCH,
            &format!("contacts({})", renamed.id),
            Some(json!({"emailaddress1": "fresh.address@newcomer.example"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // In the workspace: a copy of another contact arrives.
    let later_id = t
        .upsert_people(&[person_like("later", &name(later), later.email.as_deref())])
        .await
        .unwrap()[0];

    let run = sync(&org).await;
    assert!(
        run.rows_done < 10,
        "a sync of changes read {} rows",
        run.rows_done
    );
    assert!(t.person_matches(Some(deleted_id)).await.unwrap().is_empty());
    assert_eq!(
        crm_of(t.person_matches(Some(newcomer_id)).await.unwrap()),
        [contact(renamed)]
    );
    assert_eq!(
        crm_of(t.person_matches(Some(later_id)).await.unwrap()),
        [contact(later)]
    );
    assert_eq!(t.person_matches(Some(kept_id)).await.unwrap(), kept_before);
}

async fn the_preview_counts_each_stage_choice_and_won_revenue_is_per_seat(db: Db) {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    sync(&org).await;
    let previews = org.engine.preview(org.tenant, true).await.unwrap();
    let labels: Vec<&str> = previews.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        ["Not Sure", "Qualify", "Develop", "Propose", "Close"]
    );
    let reps: BTreeSet<Uuid> = org.seats.iter().map(|(_, r)| r.id).collect();
    for preview in &previews {
        let past: Vec<i64> = match preview.stage {
            PipelineStage::NotSure => vec![0, 1, 2, 3],
            PipelineStage::Stage(s) => ((s + 1)..=3).map(i64::from).collect(),
        };
        let open = seed
            .opportunities
            .iter()
            .filter(|o| reps.contains(&o.owner) && o.state == 0);
        assert_eq!(preview.open_opportunities, open.clone().count());
        assert_eq!(
            preview.qualifying_opportunities,
            open.filter(|o| past.contains(&o.sales_stage)).count()
        );
        assert_eq!(preview.seats, 2);
        let mut accounts = BTreeSet::new();
        let mut leads = BTreeSet::new();
        for o in seed
            .opportunities
            .iter()
            .filter(|o| reps.contains(&o.owner) && o.state == 0 && past.contains(&o.sales_stage))
        {
            accounts.insert((o.owner, o.account));
            if let Some(c) = o.contact {
                leads.insert((o.owner, c));
            }
        }
        assert_eq!(
            (preview.accounts, preview.leads),
            (accounts.len(), leads.len()),
            "{preview:?}"
        );
    }
    assert_eq!(
        previews.last().unwrap().accounts,
        0,
        "nothing is past Close"
    );
    // Nobody's seat syncs: nothing would be saved.
    let off = org.engine.preview(org.tenant, false).await.unwrap();
    assert!(off.iter().all(|p| p.accounts == 0 && p.leads == 0));

    let revenue = org.engine.won_revenue(org.tenant).await.unwrap();
    for (seat, rep) in &org.seats {
        let won: Vec<_> = seed
            .opportunities
            .iter()
            .filter(|o| o.owner == rep.id && o.state == 1)
            .collect();
        let got = &revenue[seat];
        assert_eq!(got.won, won.len());
        let total: f64 = won
            .iter()
            .map(|o| o.actual_value.unwrap_or(o.estimated_value))
            .sum();
        let summed: i128 = got.by_currency.values().map(|m| m.ten_thousandths()).sum();
        assert!(
            ((summed as f64) / 10_000.0 - total).abs() < 0.01,
            "{summed} vs {total}"
        );
    }
}
