//! The Dynamics implementation of the `Crm` trait against the emulator: table reads and deltas,
//! pre-flight facts, the org's choices, and creating contacts and leads.

use std::collections::BTreeSet;

use dataverse_emulator::seed::{SeedSize, generate};
use domain::activity::ActivityKind;
use domain::crm::{CompanionApp, CrmOwner, OpportunityState};
use domain::ids::{ActivityId, CrmContactId, CrmUserId, TenantId};
use domain::writeback::{
    CrmActivityState, ExternalKey, Overflow, Regarding, WritebackPlan, activity_texts,
};
use futures_util::TryStreamExt;
use reqwest::Method;
use serde_json::json;
use sync::crm::dynamics::{Dynamics, DynamicsConfig};
use sync::crm::{ConnectionProblem, Crm, CrmErrorKind, CrmPage, Deleted, NewCrmPerson};
use uuid::Uuid;

use crate::harness::Emulator;

async fn all<R>(pages: sync::crm::Pages<R>) -> Vec<CrmPage<R>> {
    pages.try_collect().await.unwrap()
}

#[tokio::test]
async fn every_table_reads_in_full_then_as_deltas() {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let crm = e.crm(25);

    let users = all(crm.users(None)).await;
    let users: Vec<_> = users.into_iter().flat_map(|p| p.upserts).collect();
    // The seeded people plus the application user leadbridge connects as.
    assert_eq!(users.len(), seed.users.len() + 1);
    let people: Vec<_> = users.iter().filter(|u| !u.row.application_user).collect();
    assert_eq!(people.len(), seed.users.len());
    assert!(people.iter().all(|u| u.row.email.is_some()));
    assert_eq!(
        people.iter().filter(|u| u.row.disabled).count(),
        seed.users.iter().filter(|u| u.is_disabled).count()
    );

    let accounts = all(crm.accounts(None)).await;
    assert_eq!(accounts.len(), 3, "60 accounts in pages of 25");
    assert!(accounts[..2].iter().all(|p| p.delta_token.is_none()));
    let account_rows: Vec<_> = accounts.iter().flat_map(|p| &p.upserts).collect();
    assert_eq!(account_rows.len(), seed.accounts.len());
    assert!(account_rows.iter().all(|a| !a.row.name.is_empty()));
    let with_industry = seed
        .accounts
        .iter()
        .filter(|a| a.industry_code.is_some())
        .count();
    assert_eq!(
        account_rows
            .iter()
            .filter(|a| a.row.industry.is_some())
            .count(),
        with_industry
    );

    let contact_pages = all(crm.contacts(None)).await;
    let contacts: Vec<_> = contact_pages.iter().flat_map(|p| &p.upserts).collect();
    assert_eq!(contacts.len(), seed.contacts.len());
    let linked = seed
        .contacts
        .iter()
        .filter(|c| c.parent_account.is_some())
        .count();
    assert_eq!(
        contacts.iter().filter(|c| c.row.account.is_some()).count(),
        linked
    );

    let leads: usize = all(crm.leads(None))
        .await
        .iter()
        .map(|p| p.upserts.len())
        .sum();
    assert_eq!(leads, seed.leads.len());

    let opportunities: Vec<_> = all(crm.opportunities(None))
        .await
        .into_iter()
        .flat_map(|p| p.upserts)
        .map(|r| r.row)
        .collect();
    assert_eq!(opportunities.len(), seed.opportunities.len());
    for expected in &seed.opportunities {
        let read = opportunities
            .iter()
            .find(|o| o.id.0 == expected.id)
            .unwrap();
        assert_eq!(read.owner, CrmOwner::User(expected.owner.into()));
        assert_eq!(read.account.map(|a| a.0), Some(expected.account));
        assert_eq!(
            read.contacts.iter().map(|c| c.0).collect::<Vec<_>>(),
            expected.contact.into_iter().collect::<Vec<_>>()
        );
        assert_eq!(read.sales_stage, Some(expected.sales_stage as i32));
        let state = OpportunityState::from_statecode(expected.state as i32).unwrap();
        assert_eq!(read.state, state);
        assert!(read.money.contains_key("estimatedvalue"));
        assert_eq!(
            read.money.contains_key("actualvalue"),
            expected.actual_value.is_some()
        );
    }

    // Deltas: one contact added, one renamed, one deleted.
    let token = contact_pages.last().unwrap().delta_token.clone().unwrap();
    let added = e
        .create(
            "contacts",
            json!({"firstname": "Nova", "lastname": "Pessoa"}),
        )
        .await;
    let renamed = contacts[0].row.id.0;
    let deleted = contacts[1].row.id.0;
    let (status, _) = e
        .api(
            Method::PATCH,
            &format!("contacts({renamed})"),
            Some(json!({"jobtitle": "Chief Tester"})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = e
        .api(Method::DELETE, &format!("contacts({deleted})"), None)
        .await;
    assert_eq!(status, 204);
    let delta = all(crm.contacts(Some(token))).await;
    let upserts: BTreeSet<Uuid> = delta
        .iter()
        .flat_map(|p| &p.upserts)
        .map(|r| r.row.id.0)
        .collect();
    let deletes: Vec<Uuid> = delta.iter().flat_map(|p| p.deletes.clone()).collect();
    assert_eq!(
        upserts,
        BTreeSet::from([Uuid::parse_str(&added).unwrap(), renamed])
    );
    assert_eq!(deletes, vec![deleted]);
    let title = delta
        .iter()
        .flat_map(|p| &p.upserts)
        .find(|r| r.row.id.0 == renamed)
        .and_then(|r| r.row.job_title.clone());
    assert_eq!(title.as_deref(), Some("Chief Tester"));
    assert!(delta.last().unwrap().delta_token.is_some());
}

#[tokio::test]
async fn an_expired_delta_token_says_so() {
    let e = Emulator::seeded().await;
    let crm = e.crm(5000);
    let pages = all(crm.leads(None)).await;
    let token = pages.last().unwrap().delta_token.clone().unwrap();
    e.admin(
        Method::POST,
        "clock",
        json!({"advance_seconds": 8 * 24 * 3600}),
    )
    .await;
    let error = crm
        .leads(Some(token))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(error.kind, CrmErrorKind::DeltaExpired);
}

#[tokio::test]
async fn preflight_refuses_each_org_it_cannot_use_with_its_own_message() {
    let e = Emulator::seeded().await;
    let admin = e.crm(5000).preflight().await;
    assert!(admin.passed(), "{admin:?}");
    assert!(admin.can_act_on_behalf_of_reps);
    assert_eq!(
        admin.identity.as_ref().map(|i| i.user.0),
        Some(e.emu.info.application_user_id)
    );
    assert_eq!(admin.companion_app, CompanionApp::Missing);

    // A salesperson reads only its business unit: not enough for change tracking.
    let (id, secret, _) = e.app_with_roles("rep app", &["Salesperson"]).await;
    let rep = e
        .dynamics(5000)
        .open_dynamics(&e.app_target(&id, &secret))
        .unwrap()
        .preflight()
        .await;
    assert!(!rep.passed());
    assert_eq!(
        rep.failure().and_then(|c| c.problem),
        Some(ConnectionProblem::InsufficientPrivileges)
    );
    assert!(!rep.can_act_on_behalf_of_reps);

    // Without the test switch an address outside Dynamics 365 online is on-premises.
    let strict = Dynamics::new(DynamicsConfig {
        extra_ca_pems: vec![e.ca_pem.clone()],
        ..DynamicsConfig::default()
    });
    let onprem = strict
        .open_dynamics(&e.admin_target())
        .unwrap()
        .preflight()
        .await;
    assert_eq!(
        onprem.failure().and_then(|c| c.problem),
        Some(ConnectionProblem::OnPremises)
    );

    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "CustomerTest"}),
    )
    .await;
    let sandbox = e.crm(5000).preflight().await;
    assert_eq!(
        sandbox.failure().and_then(|c| c.problem),
        Some(ConnectionProblem::Sandbox)
    );
    assert_eq!(
        ConnectionProblem::Sandbox.message(),
        "Sandbox environments are not supported yet. Connect your production environment."
    );
}

#[tokio::test]
async fn an_activity_is_written_once_by_its_key_with_owner_link_state_and_full_text() {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let crm = e.crm(5000);
    assert!(crm.install_companion_app().await.unwrap().is_installed());
    assert!(crm.companion_app().await.unwrap().is_installed());
    let rep = seed
        .users
        .iter()
        .find(|u| u.roles.len() == 1 && !u.is_disabled && u.title.is_some())
        .unwrap();
    let contact = seed.contacts[0].id;
    let key = ExternalKey::for_activity(TenantId::new_random(), ActivityId::new_random());
    let long = "x".repeat(2500);
    let texts = activity_texts(ActivityKind::Note, None, &long);
    let mut plan = WritebackPlan {
        key: key.clone(),
        kind: ActivityKind::Note,
        owner: CrmUserId(rep.id),
        on_behalf_of: None,
        regarding: Some(Regarding::Contact(CrmContactId(contact))),
        state: CrmActivityState::Completed,
        subject: texts.subject,
        description: texts.description,
        overflow: texts.overflow.map(|text| Overflow {
            note_id: key.overflow_note_id(),
            text,
        }),
        occurred_at: chrono::Utc::now(),
    };
    let first = crm.upsert_activity(&plan, false).await.unwrap();
    let again = crm.upsert_activity(&plan, false).await.unwrap();
    assert_eq!(first, again);
    let rows = e
        .get(&format!(
            "lb_notes?$select=statecode,statuscode,_regardingobjectid_value,_ownerid_value,_createdby_value,description&$filter=lb_externalkey eq '{}'",
            key.as_str()
        ))
        .await;
    let rows = rows["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one row however often it is written");
    assert_eq!(rows[0]["statecode"], 1);
    assert_eq!(rows[0]["statuscode"], 2);
    assert_eq!(rows[0]["_regardingobjectid_value"], json!(contact));
    assert_eq!(rows[0]["_ownerid_value"], json!(rep.id));
    assert_eq!(
        rows[0]["_createdby_value"],
        json!(e.emu.info.application_user_id)
    );
    assert!(rows[0]["description"].as_str().unwrap().chars().count() <= 2000);
    let notes = e
        .get(&format!(
            "annotations?$select=notetext,_objectid_value&$filter=_objectid_value eq {}",
            first.0
        ))
        .await;
    let notes = notes["value"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0]["notetext"].as_str().unwrap().contains(&long));
    let read = crm
        .activity(ActivityKind::Note, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.id, first);
    assert_eq!(read.state, CrmActivityState::Completed);
    assert_eq!(
        read.regarding,
        Some(Regarding::Contact(CrmContactId(contact)))
    );

    // Edited and unlinked: the completed row is reopened and rewritten in place.
    plan.regarding = None;
    plan.state = CrmActivityState::Open;
    plan.description = "shorter".into();
    plan.overflow = None;
    assert_eq!(crm.upsert_activity(&plan, true).await.unwrap(), first);
    let read = crm
        .activity(ActivityKind::Note, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.state, CrmActivityState::Open);

    // Written on behalf of the rep: the rep is the creator too.
    let impersonated = ExternalKey::for_activity(TenantId::new_random(), ActivityId::new_random());
    let plan = WritebackPlan {
        key: impersonated.clone(),
        on_behalf_of: Some(CrmUserId(rep.id)),
        kind: ActivityKind::InMail,
        ..plan
    };
    let id = crm.upsert_activity(&plan, false).await.unwrap();
    let row = e
        .get(&format!(
            "lb_inmails({})?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value",
            id.0
        ))
        .await;
    assert_eq!(row["_createdby_value"], json!(rep.id));
    assert_eq!(row["_ownerid_value"], json!(rep.id));

    assert_eq!(
        crm.delete_activity(ActivityKind::Note, &key).await.unwrap(),
        Deleted::Deleted
    );
    assert_eq!(
        crm.delete_activity(ActivityKind::Note, &key).await.unwrap(),
        Deleted::AlreadyGone
    );
    assert_eq!(crm.activity(ActivityKind::Note, &key).await.unwrap(), None);
}

#[tokio::test]
async fn the_orgs_stages_and_money_columns_are_offered() {
    let e = Emulator::seeded().await;
    let crm = e.crm(5000);
    let stages: Vec<(i32, String)> = crm
        .stage_options()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.value, s.label))
        .collect();
    assert_eq!(
        stages,
        [
            (0, "Qualify".to_owned()),
            (1, "Develop".to_owned()),
            (2, "Propose".to_owned()),
            (3, "Close".to_owned())
        ]
    );
    let money: BTreeSet<String> = crm
        .money_columns()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.logical_name)
        .collect();
    assert!(money.contains("estimatedvalue") && money.contains("actualvalue"));
    assert!(money.iter().all(|c| !c.ends_with("_base")));
}

#[tokio::test]
async fn a_contact_or_lead_is_created_once_however_often_it_is_asked() {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let crm = e.crm(5000);
    let rep = seed.users.iter().find(|u| !u.is_disabled).unwrap().id;
    let person = NewCrmPerson {
        id: Uuid::new_v4(),
        first_name: Some("Giulia".into()),
        last_name: "Bianchi".into(),
        email: Some("giulia@example.org".into()),
        job_title: Some("CTO".into()),
        phone: None,
        company_name: Some("Bianchi Srl".into()),
        account: Some(seed.accounts[0].id.into()),
        owner: Some(rep.into()),
    };
    let first = crm.create_contact(&person).await.unwrap();
    let again = crm.create_contact(&person).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.0, person.id);
    let rows = e
        .get("contacts?$select=fullname,_ownerid_value,_parentcustomerid_value&$filter=emailaddress1 eq 'giulia@example.org'")
        .await;
    let rows = rows["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["_ownerid_value"], json!(rep));
    assert_eq!(
        rows[0]["_parentcustomerid_value"],
        json!(seed.accounts[0].id)
    );

    let lead = NewCrmPerson {
        id: Uuid::new_v4(),
        ..person
    };
    let created = crm.create_lead(&lead).await.unwrap();
    let row = e
        .get(&format!("leads({})?$select=companyname,subject", created.0))
        .await;
    assert_eq!(row["companyname"], "Bianchi Srl");
}
