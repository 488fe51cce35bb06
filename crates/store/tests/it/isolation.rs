//! No method of one tenant's handle reads or changes another tenant's rows, even given their ids.

use chrono::TimeDelta;
use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::crm::{CompanionApp, CrmContact, CrmPersonRef, CrmTable};
use domain::ids::{
    ActivityId, CompanyId, CrmConnectionId, PersonId, SeatId, TagId, ThreadId, UserId,
};
use domain::matches::{Confidence, MatchOrigin, PersonMatch};
use domain::saved::{SavedKey, SavedTarget};
use domain::tenant::SeatCrmSync;
use domain::timeline::WritebackEvent;
use secrecy::SecretString;
use store::StoreError;
use store::accounts::ApiTokenId;
use store::activities::{NewActivity, NewThread};
use store::crm::{CrmPage, Mirrored};
use store::directory::{NewCompany, NewPerson};
use store::jobs::JobId;
use store::sync_runs::{SyncRunId, SyncTrigger};

use crate::crm::connected;
use crate::harness::{Harness, both};

both!(another_tenant_can_neither_see_nor_change_a_tenants_rows);

struct Ids {
    user: UserId,
    seat: SeatId,
    person: PersonId,
    company: CompanyId,
    tag: TagId,
    thread: ThreadId,
    activity: ActivityId,
    connection: CrmConnectionId,
    job: JobId,
    run: SyncRunId,
    token: ApiTokenId,
}

async fn populate(h: &Harness) -> (domain::ids::TenantId, Ids) {
    let (tenant, connection) = connected(h, "Acme").await;
    let (user, seat) = h.rep(tenant, "ana@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let person = t
        .upsert_people(&[NewPerson {
            external_id: Some("p-1".into()),
            full_name: "Jordan Lee".into(),
            ..NewPerson::default()
        }])
        .await
        .unwrap()[0];
    let company = t
        .upsert_companies(&[NewCompany {
            external_id: Some("c-1".into()),
            name: "Contoso".into(),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    t.save_by_hand(seat, SavedTarget::Lead(person))
        .await
        .unwrap();
    let tag = t.create_tag("VIP").await.unwrap().id;
    t.tag_item(
        SavedKey {
            seat,
            target: SavedTarget::Lead(person),
        },
        tag,
    )
    .await
    .unwrap();
    let thread = t
        .create_thread(NewThread {
            seat,
            person,
            subject: None,
            copy_to_crm: true,
        })
        .await
        .unwrap()
        .id;
    let activity = t
        .add_activity(NewActivity {
            seat,
            kind: ActivityKind::Message,
            about: ActivityAbout::Person(person),
            thread: Some(thread),
            body: "hello".into(),
            copy_to_crm: CopyToCrm::AsThread,
        })
        .await
        .unwrap()
        .id;
    let job = t.jobs(None, 1).await.unwrap()[0].id;
    t.put_secret(
        connection,
        "refresh_token",
        &SecretString::from("r".to_owned()),
    )
    .await
    .unwrap();
    t.apply_crm_page(
        connection,
        &CrmPage {
            upserts: vec![Mirrored {
                row: CrmContact {
                    id: uuid::Uuid::from_u128(1).into(),
                    full_name: "Contact".into(),
                    job_title: None,
                    email: None,
                    phone: None,
                    location: None,
                    account: None,
                },
                raw: serde_json::json!({}),
            }],
            deletes: vec![],
            delta_token: Some("t".into()),
        },
    )
    .await
    .unwrap();
    t.upsert_person_matches(&[PersonMatch {
        person,
        crm: CrmPersonRef::Contact(uuid::Uuid::from_u128(1).into()),
        confidence: Confidence::new(90),
        origin: MatchOrigin::Exact,
        explanation: "email".into(),
    }])
    .await
    .unwrap();
    let run = t
        .start_sync_run(connection, SyncTrigger::Connect)
        .await
        .unwrap()
        .id;
    t.acquire_sync_lease("w", TimeDelta::minutes(5))
        .await
        .unwrap()
        .unwrap();
    let token = t
        .create_api_token(user, "cli", TimeDelta::days(1))
        .await
        .unwrap()
        .id;
    (
        tenant,
        Ids {
            user,
            seat,
            person,
            company,
            tag,
            thread,
            activity,
            connection,
            job,
            run,
            token,
        },
    )
}

fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    assert!(
        matches!(
            result,
            Err(StoreError::NotFound(_) | StoreError::Invalid(_))
        ),
        "{what}: {result:?}"
    );
}

async fn another_tenant_can_neither_see_nor_change_a_tenants_rows(h: Harness) {
    let (acme, a) = populate(&h).await;
    let snapshot = snapshot(&h, acme, &a).await;
    let globex = h.tenant("Globex", 5).await;
    h.rep(globex, "bo@globex.example").await;
    let mut b = h.store.tenant(globex);

    // Reads find nothing of Acme's.
    assert!(b.users().await.unwrap().iter().all(|u| u.tenant == globex));
    assert_eq!(b.user(a.user).await.unwrap(), None);
    assert_eq!(b.user_by_email("ana@acme.example").await.unwrap(), None);
    assert!(
        b.seats()
            .await
            .unwrap()
            .iter()
            .all(|s| s.seat.tenant == globex)
    );
    assert_eq!(b.seat(a.seat).await.unwrap(), None);
    assert_eq!(b.seat_of_user(a.user).await.unwrap(), None);
    assert_eq!(b.person(a.person).await.unwrap(), None);
    assert_eq!(b.person_by_external_id("p-1").await.unwrap(), None);
    assert!(b.people_by_ids(&[a.person]).await.unwrap().is_empty());
    assert!(b.people_page(None, 100).await.unwrap().is_empty());
    assert!(b.search_people("jordan", 10).await.unwrap().is_empty());
    assert_eq!(b.count_people().await.unwrap(), 0);
    assert_eq!(b.company(a.company).await.unwrap(), None);
    assert_eq!(b.company_by_external_id("c-1").await.unwrap(), None);
    assert!(b.companies_page(None, 10).await.unwrap().is_empty());
    assert!(b.search_companies("contoso", 10).await.unwrap().is_empty());
    assert!(b.saved_items(None).await.unwrap().is_empty());
    assert!(
        b.saved_leads(a.seat, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        b.saved_accounts(a.seat, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(b.tags().await.unwrap().is_empty());
    assert_eq!(b.thread(a.thread).await.unwrap(), None);
    assert!(b.threads(None).await.unwrap().is_empty());
    assert_eq!(b.activity(a.activity).await.unwrap(), None);
    assert!(b.seat_activities(a.seat, 10).await.unwrap().is_empty());
    assert!(b.all_activities().await.unwrap().is_empty());
    assert_eq!(b.writeback_record(a.activity).await.unwrap(), None);
    assert!(
        b.writebacks_in_state(&["pending"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(b.unassigned_activities(None).await.unwrap().is_empty());
    refused("copy default", b.copy_to_crm_default(a.seat).await);
    assert_eq!(b.live_connection().await.unwrap(), None);
    assert_eq!(b.connection(a.connection).await.unwrap(), None);
    assert!(b.connections().await.unwrap().is_empty());
    assert!(
        b.secret(a.connection, "refresh_token")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(b.crm_settings().await.unwrap(), None);
    assert!(b.delta_tokens(a.connection).await.unwrap().is_empty());
    assert_eq!(
        b.delta_token(a.connection, CrmTable::Contact)
            .await
            .unwrap(),
        None
    );
    assert!(
        b.crm_rows::<CrmContact>(a.connection)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.crm_row::<CrmContact>(a.connection, uuid::Uuid::from_u128(1))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(b.mirror_counts().await.unwrap(), Default::default());
    assert!(b.person_matches(None).await.unwrap().is_empty());
    assert!(
        b.people_matched_to(CrmPersonRef::Contact(uuid::Uuid::from_u128(1).into()))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(b.company_matches(None).await.unwrap().is_empty());
    assert!(b.person_rejections().await.unwrap().is_empty());
    assert!(b.jobs(None, 10).await.unwrap().is_empty());
    assert_eq!(b.job(a.job).await.unwrap(), None);
    assert!(b.sync_runs(10).await.unwrap().is_empty());
    assert_eq!(b.sync_run(a.run).await.unwrap(), None);
    assert!(b.sync_run_errors(a.run).await.unwrap().is_empty());
    assert_eq!(b.sync_lease_holder().await.unwrap(), None);
    assert!(b.api_tokens(a.user).await.unwrap().is_empty());

    // Writes aimed at Acme's rows are refused or find nothing.
    refused("set_admin", b.set_admin(a.user, true).await);
    refused("set_language", b.set_language(a.user, Some("fr")).await);
    refused("assign_seat", b.assign_seat(a.user).await);
    refused(
        "seat sync",
        b.set_seat_crm_sync(a.seat, SeatCrmSync::Disabled).await,
    );
    refused("seat user", b.set_seat_crm_user(a.seat, None).await);
    refused(
        "password",
        b.set_password(a.user, SecretString::from("a long password".to_owned()))
            .await,
    );
    refused(
        "session",
        b.create_session(a.user, TimeDelta::hours(1)).await,
    );
    assert_eq!(b.end_user_sessions(a.user).await.unwrap(), 0);
    refused(
        "api token",
        b.create_api_token(a.user, "x", TimeDelta::hours(1)).await,
    );
    refused("revoke", b.revoke_api_token(a.token).await);
    refused(
        "save",
        b.save_by_hand(a.seat, SavedTarget::Lead(a.person)).await,
    );
    assert!(!b.unsave(a.seat, SavedTarget::Lead(a.person)).await.unwrap());
    let key = SavedKey {
        seat: a.seat,
        target: SavedTarget::Lead(a.person),
    };
    refused("tag", b.tag_item(key, a.tag).await);
    b.untag_item(key, a.tag).await.unwrap();
    refused("delete tag", b.delete_tag(a.tag).await);
    refused(
        "thread",
        b.create_thread(NewThread {
            seat: a.seat,
            person: a.person,
            subject: None,
            copy_to_crm: true,
        })
        .await,
    );
    refused(
        "activity",
        b.add_activity(NewActivity {
            seat: a.seat,
            kind: ActivityKind::Note,
            about: ActivityAbout::Person(a.person),
            thread: None,
            body: "x".into(),
            copy_to_crm: CopyToCrm::Item(true),
        })
        .await,
    );
    refused("edit", b.edit_activity(a.activity, "changed").await);
    refused(
        "copy",
        b.set_activity_copy_to_crm(a.activity, CopyToCrm::Item(false))
            .await,
    );
    refused(
        "thread copy",
        b.set_thread_copy_to_crm(a.thread, false).await,
    );
    refused(
        "writeback event",
        b.apply_writeback_event(a.activity, &WritebackEvent::Edited)
            .await,
    );
    refused(
        "person company",
        b.upsert_people(&[NewPerson {
            full_name: "X".into(),
            company: Some(a.company),
            ..NewPerson::default()
        }])
        .await,
    );
    refused(
        "match",
        b.upsert_person_matches(&[PersonMatch {
            person: a.person,
            crm: CrmPersonRef::Contact(uuid::Uuid::from_u128(2).into()),
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::ByRep,
            explanation: String::new(),
        }])
        .await,
    );
    b.reject_person_match(
        a.person,
        CrmPersonRef::Contact(uuid::Uuid::from_u128(1).into()),
    )
    .await
    .unwrap();
    b.unpin_person(a.person).await.unwrap();
    b.clear_automatic_person_matches(a.person).await.unwrap();
    refused(
        "app",
        b.set_companion_app(a.connection, &CompanionApp::Missing)
            .await,
    );
    refused(
        "act",
        b.set_can_act_on_behalf_of_reps(a.connection, true).await,
    );
    refused(
        "success",
        b.record_sync_success(a.connection, h.store.now()).await,
    );
    refused("error", b.set_connection_error(a.connection, None).await);
    refused("disconnect", b.disconnect(a.connection).await);
    refused("delete connection", b.delete_connection(a.connection).await);
    refused(
        "secret",
        b.put_secret(
            a.connection,
            "refresh_token",
            &SecretString::from("x".to_owned()),
        )
        .await,
    );
    b.delete_secret(a.connection, "refresh_token")
        .await
        .unwrap();
    b.clear_delta_token(a.connection, CrmTable::Contact)
        .await
        .unwrap();
    assert!(
        b.apply_crm_page::<CrmContact>(
            a.connection,
            &CrmPage {
                upserts: vec![],
                deletes: vec![uuid::Uuid::from_u128(1)],
                delta_token: Some("stolen".into()),
            },
        )
        .await
        .is_err()
    );
    assert_eq!(
        b.delete_crm_rows::<CrmContact>(a.connection, &[uuid::Uuid::from_u128(1)])
            .await
            .unwrap(),
        0
    );
    refused(
        "sync run",
        b.start_sync_run(a.connection, SyncTrigger::SyncNow).await,
    );
    refused(
        "progress",
        b.update_sync_progress(a.run, "x", 1, None).await,
    );
    refused("run error", b.record_sync_error(a.run, None, "x").await);
    refused(
        "finish",
        b.finish_sync_run(a.run, store::sync_runs::SyncOutcome::Failed, None)
            .await,
    );
    refused("requeue", b.requeue_dead_job(a.job).await);
    // Globex's own lease is independent of Acme's.
    assert!(
        b.acquire_sync_lease("w2", TimeDelta::minutes(5))
            .await
            .unwrap()
            .is_some()
    );
    b.purge_crm_data().await.unwrap();

    assert_eq!(self::snapshot(&h, acme, &a).await, snapshot);
}

/// What Acme can see of its own data.
async fn snapshot(h: &Harness, tenant: domain::ids::TenantId, a: &Ids) -> String {
    let mut t = h.store.tenant(tenant);
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        t.users().await.unwrap(),
        t.seats().await.unwrap(),
        t.person(a.person).await.unwrap(),
        t.company(a.company).await.unwrap(),
        t.saved_items(None).await.unwrap(),
        t.tags().await.unwrap(),
        t.all_activities().await.unwrap(),
        t.writeback_record(a.activity).await.unwrap(),
        t.connections().await.unwrap(),
        t.secret(a.connection, "refresh_token")
            .await
            .unwrap()
            .is_some(),
        t.delta_tokens(a.connection).await.unwrap(),
        t.crm_rows::<CrmContact>(a.connection).await.unwrap(),
        t.person_matches(None).await.unwrap(),
        (
            t.person_rejections().await.unwrap(),
            t.jobs(None, 10).await.unwrap().len(),
            t.sync_runs(10).await.unwrap(),
            t.sync_lease_holder().await.unwrap(),
            t.api_tokens(a.user).await.unwrap(),
        ),
    )
}
