//! The Dynamics implementation of the `Crm` trait against the emulator: table reads and deltas,
//! pre-flight facts, the org's choices, and creating contacts and leads.

use std::collections::BTreeSet;

use dataverse_emulator::seed::{SeedSize, generate};
use domain::crm::{CrmOwner, OpportunityState};
use futures_util::TryStreamExt;
use reqwest::Method;
use serde_json::json;
use sync::crm::dynamics::{Dynamics, DynamicsConfig};
use sync::crm::{Crm, CrmErrorKind, CrmPage, Environment, Hosting, NewCrmPerson};
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
async fn org_facts_tell_pre_flight_what_it_needs() {
    let e = Emulator::seeded().await;
    let admin = e.crm(5000).org_facts().await.unwrap();
    assert_eq!(admin.hosting, Hosting::Online);
    assert_eq!(admin.environment, Environment::Production);
    assert!(admin.version.starts_with("9."), "{}", admin.version);
    assert!(admin.missing_privileges.is_empty(), "{admin:?}");
    assert!(admin.unreadable.is_empty(), "{admin:?}");
    assert!(admin.can_act_on_behalf_of_reps);
    assert_eq!(admin.identity.user.0, e.emu.info.application_user_id);

    // A salesperson reads only its business unit: not enough for change tracking.
    let (id, secret, _) = e.app_with_roles("rep app", &["Salesperson"]).await;
    let rep = e
        .dynamics(5000)
        .open_dynamics(&e.app_target(&id, &secret))
        .unwrap();
    let facts = rep.org_facts().await.unwrap();
    let missing: Vec<&str> = facts
        .missing_privileges
        .iter()
        .map(|m| m.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        missing,
        [
            "prvReadAccount",
            "prvReadContact",
            "prvReadLead",
            "prvReadOpportunity"
        ]
    );
    assert!(!facts.can_act_on_behalf_of_reps);

    // A role that cannot read leads at all.
    e.admin(
        Method::POST,
        "roles",
        json!({"name": "No leads", "privileges": {
            "prvReadAccount": "Global", "prvReadContact": "Global",
            "prvReadOpportunity": "Global", "prvReadUser": "Global"}}),
    )
    .await;
    let (id, secret, _) = e.app_with_roles("no leads", &["No leads"]).await;
    let facts = e
        .dynamics(5000)
        .open_dynamics(&e.app_target(&id, &secret))
        .unwrap()
        .org_facts()
        .await
        .unwrap();
    assert_eq!(
        facts.unreadable.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [domain::crm::CrmTable::Lead]
    );

    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "CustomerTest"}),
    )
    .await;
    assert_eq!(
        e.crm(5000).org_facts().await.unwrap().environment,
        Environment::Sandbox
    );

    // Without the test switch an address outside Dynamics 365 online is on-premises.
    let strict = Dynamics::new(DynamicsConfig {
        extra_ca_pems: vec![e.ca_pem.clone()],
        ..DynamicsConfig::default()
    });
    let facts = strict
        .open_dynamics(&e.admin_target())
        .unwrap()
        .org_facts()
        .await
        .unwrap();
    assert_eq!(facts.hosting, Hosting::OnPremises);
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
