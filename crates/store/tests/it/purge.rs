use std::collections::BTreeSet;

use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::crm::{
    ConnectionStatus, CrmAccount, CrmContact, CrmLead, CrmOpportunity, CrmOwner, CrmPersonRef,
    CrmUser, OpportunityState,
};
use domain::directory::{Company, CompanyOrigin, Person, PersonOrigin};
use domain::ids::{CrmConnectionId, CrmOpportunityId, SeatId, TenantId};
use domain::import::ImportDiff;
use domain::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use domain::purge::{MirrorCounts, PurgeKept, PurgeReceipt, PurgeRemoved};
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget};
use domain::settings::{CrmSettings, PipelineStage, WonValueField, WritebackSettings};
use secrecy::SecretString;
use store::activities::NewActivity;
use store::crm::{CrmPage, Mirrored};
use store::directory::NewPerson;

use crate::crm::connected;
use crate::harness::{Harness, both};

both!(purge_removes_what_came_from_the_crm_and_keeps_the_reps_work);

fn uuid(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

fn raw() -> serde_json::Value {
    serde_json::json!({})
}

fn m<R>(row: R) -> Mirrored<R> {
    Mirrored { row, raw: raw() }
}

struct Populated {
    tenant: TenantId,
    connection: CrmConnectionId,
    seat: SeatId,
}

/// A connected tenant with one of everything a sync leaves behind.
async fn populate(h: &Harness, name: &str) -> (Populated, [domain::ids::PersonId; 4]) {
    let (tenant, connection) = connected(h, name).await;
    let (_, seat) = h.rep(tenant, &format!("rep@{name}.example")).await;
    let mut t = h.store.tenant(tenant);
    t.put_secret(
        connection,
        "client_secret",
        &SecretString::from("s".to_owned()),
    )
    .await
    .unwrap();
    t.put_crm_settings(&CrmSettings {
        auto_sync_all_seats: true,
        pipeline_stage: PipelineStage::NotSure,
        won_value_field: WonValueField::NotSure,
        writeback: WritebackSettings::OFF,
    })
    .await
    .unwrap();
    let user = CrmUser {
        id: uuid(900).into(),
        full_name: "Rep".into(),
        email: None,
        disabled: false,
        application_user: false,
    };
    t.upsert_crm_rows(connection, &[m(user)]).await.unwrap();
    t.upsert_crm_rows(
        connection,
        &[m(CrmAccount {
            id: uuid(500).into(),
            name: "Contoso".into(),
            website: None,
            industry: None,
            location: None,
            employees: None,
        })],
    )
    .await
    .unwrap();
    let contact = |n: u128| CrmContact {
        id: uuid(n).into(),
        full_name: format!("Contact {n}"),
        job_title: None,
        email: None,
        phone: None,
        location: None,
        account: None,
    };
    t.apply_crm_page(
        connection,
        &CrmPage {
            upserts: vec![m(contact(1)), m(contact(2))],
            deletes: vec![],
            delta_token: Some("contacts-token".into()),
        },
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[m(CrmLead {
            id: uuid(3).into(),
            full_name: "Lead".into(),
            company_name: None,
            job_title: None,
            email: None,
            phone: None,
        })],
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[m(CrmOpportunity {
            id: uuid(800).into(),
            name: "Deal".into(),
            state: OpportunityState::Open,
            owner: CrmOwner::User(uuid(900).into()),
            sales_stage: None,
            account: Some(uuid(500).into()),
            contacts: vec![uuid(1).into(), uuid(2).into()],
            currency: None,
            money: Default::default(),
        })],
    )
    .await
    .unwrap();
    t.set_seat_crm_user(seat, Some(uuid(900).into()))
        .await
        .unwrap();

    let workspace = t
        .upsert_people(&[
            NewPerson {
                external_id: Some("w".into()),
                full_name: "Hand Saved".into(),
                ..NewPerson::default()
            },
            NewPerson {
                full_name: "Imported Only".into(),
                ..NewPerson::default()
            },
        ])
        .await
        .unwrap();
    let from_crm = |n: u128| Person {
        id: domain::import::person_id_for_contact(connection, uuid(n).into()),
        tenant,
        full_name: format!("Contact {n}"),
        title: None,
        company_name: None,
        company: None,
        location: None,
        email: None,
        phone: None,
        profile_url: None,
        past_companies: Vec::new(),
        origin: PersonOrigin::CreatedFromCrm {
            connection,
            contact: uuid(n).into(),
        },
    };
    let (p1, p2) = (from_crm(1), from_crm(2));
    let company = Company {
        id: domain::import::company_id_for_account(connection, uuid(500).into()),
        tenant,
        name: "Contoso".into(),
        website: None,
        domain: None,
        industry: None,
        location: None,
        size: None,
        origin: CompanyOrigin::CreatedFromCrm {
            connection,
            account: uuid(500).into(),
        },
    };
    let reason = CrmReason {
        opportunity: CrmOpportunityId(uuid(800)),
        stage: None,
    };
    let imported = |target| SavedItem {
        key: SavedKey { seat, target },
        by_hand: false,
        crm_reasons: BTreeSet::from([reason]),
        tags: BTreeSet::new(),
    };
    t.save_by_hand(seat, SavedTarget::Lead(workspace[0]))
        .await
        .unwrap();
    let matched = |person, crm, origin| PersonMatch {
        person,
        crm,
        confidence: Confidence::CERTAIN,
        origin,
        explanation: String::new(),
    };
    t.apply_import_diff(&ImportDiff {
        create_people: vec![p1.clone(), p2.clone()],
        create_companies: vec![company.clone()],
        person_matches: vec![
            matched(
                p1.id,
                CrmPersonRef::Contact(uuid(1).into()),
                MatchOrigin::CreatedFromCrm,
            ),
            matched(
                p2.id,
                CrmPersonRef::Contact(uuid(2).into()),
                MatchOrigin::CreatedFromCrm,
            ),
            matched(
                workspace[0],
                CrmPersonRef::Lead(uuid(3).into()),
                MatchOrigin::Scored,
            ),
        ],
        company_matches: vec![CompanyMatch {
            company: company.id,
            account: uuid(500).into(),
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::CreatedFromCrm,
            explanation: String::new(),
        }],
        save: vec![
            imported(SavedTarget::Lead(workspace[1])),
            imported(SavedTarget::Lead(p1.id)),
            imported(SavedTarget::Lead(p2.id)),
            imported(SavedTarget::Account(company.id)),
        ],
        add_reasons: vec![(
            SavedKey {
                seat,
                target: SavedTarget::Lead(workspace[0]),
            },
            reason,
        )],
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    t.reject_person_match(workspace[0], CrmPersonRef::Contact(uuid(1).into()))
        .await
        .unwrap();
    // A rep's note about a person created from the CRM keeps that person.
    t.add_activity(NewActivity {
        seat,
        kind: ActivityKind::Note,
        about: ActivityAbout::Person(p2.id),
        thread: None,
        body: "Call back in May".into(),
        copy_to_crm: CopyToCrm::Item(true),
    })
    .await
    .unwrap();
    (
        Populated {
            tenant,
            connection,
            seat,
        },
        [workspace[0], workspace[1], p1.id, p2.id],
    )
}

async fn purge_removes_what_came_from_the_crm_and_keeps_the_reps_work(h: Harness) {
    let (acme, [hand, imported_only, p1, p2]) = populate(&h, "acme").await;
    let (globex, _) = populate(&h, "globex").await;
    let globex_before = h.store.tenant(globex.tenant).mirror_counts().await.unwrap();

    let mut t = h.store.tenant(acme.tenant);
    let receipt = t.purge_crm_data().await.unwrap();
    assert_eq!(
        receipt,
        PurgeReceipt {
            removed: PurgeRemoved {
                imported_leads: 3,
                imported_accounts: 1,
                crm_reasons: 1,
                people_created_from_crm: 1,
                companies_created_from_crm: 1,
                mirror: MirrorCounts {
                    users: 1,
                    accounts: 1,
                    contacts: 2,
                    leads: 1,
                    opportunities: 1,
                },
                matches: 4,
                delta_tokens: 1,
                credentials: true,
                seat_crm_links: 1,
                writeback_records: 1,
            },
            kept: PurgeKept {
                hand_saved_leads: 1,
                hand_saved_accounts: 0,
                notes: 1,
                messages: 0,
                inmails: 0,
                people_unlinked: 1,
                companies_unlinked: 0,
            },
        }
    );

    // What the rep did by hand is there, without its CRM reason.
    let saved = t.saved_items(None).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].key.target, SavedTarget::Lead(hand));
    assert!(saved[0].by_hand && saved[0].crm_reasons.is_empty());
    assert_eq!(t.all_activities().await.unwrap().len(), 1);
    assert!(t.person(imported_only).await.unwrap().is_some());
    assert!(t.person(p1).await.unwrap().is_none());
    let kept = t.person(p2).await.unwrap().unwrap();
    assert_eq!(kept.person.origin, PersonOrigin::Workspace);
    // Everything from the CRM is gone.
    assert_eq!(t.mirror_counts().await.unwrap(), MirrorCounts::default());
    assert!(t.person_matches(None).await.unwrap().is_empty());
    assert!(t.company_matches(None).await.unwrap().is_empty());
    assert!(t.person_rejections().await.unwrap().is_empty());
    assert!(t.delta_tokens(acme.connection).await.unwrap().is_empty());
    assert_eq!(t.crm_settings().await.unwrap(), None);
    assert!(
        t.secret(acme.connection, "client_secret")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(t.seat(acme.seat).await.unwrap().unwrap().crm_user, None);
    assert!(
        t.writebacks_in_state(&["pending"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        t.connection(acme.connection)
            .await
            .unwrap()
            .unwrap()
            .connection
            .status,
        ConnectionStatus::Disconnected { purged: true, .. }
    ));
    assert_eq!(t.live_connection().await.unwrap(), None);

    // Another tenant is untouched.
    let mut g = h.store.tenant(globex.tenant);
    assert_eq!(g.mirror_counts().await.unwrap(), globex_before);
    assert_eq!(g.saved_items(None).await.unwrap().len(), 5);
    assert!(g.live_connection().await.unwrap().is_some());

    // Running it again (an interrupted purge resumed) finds nothing more to remove.
    let again = t.purge_crm_data().await.unwrap();
    assert_eq!(again.removed, PurgeRemoved::default());
    assert_eq!(again.kept.hand_saved_leads, 1);
    let receipts = t.purge_receipts().await.unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().any(|r| r.receipt == receipt));
    // Reconnecting afterwards works.
    t.create_connection(crate::crm::app_user()).await.unwrap();
}
