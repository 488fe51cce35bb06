//! Disconnect: with purge, everything from the CRM goes (receipt with counts, hand-saved work
//! kept, safe to ask again) and a reconnect starts cleanly; without, imported data stays and stops
//! updating, and a reconnect picks up where the CRM is without duplicating anyone.

use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::saved::SavedTarget;
use domain::settings::PipelineStage;
use reqwest::Method;
use serde_json::json;
use store::activities::NewActivity;
use sync::{CrmStatus, SyncError, SyncRunResult};

use crate::harness::{Db, Emulator, both};
use crate::import::{connected_org, settings, sync};

both!(
    disconnecting_with_purge_removes_what_came_from_the_crm_and_a_reconnect_starts_clean,
    disconnecting_without_purge_keeps_imported_data_which_stops_updating,
);

fn app(e: &Emulator) -> sync::ApplicationUser {
    sync::ApplicationUser {
        org_url: e.emu.info.org_url.clone(),
        entra_tenant: e.emu.info.tenant_id.to_string(),
        client_id: e.emu.info.client_id.to_string(),
        client_secret: secrecy::SecretString::from(e.emu.info.client_secret.clone()),
        authority_url: Some(e.emu.info.authority_url.clone()),
    }
}

async fn disconnecting_with_purge_removes_what_came_from_the_crm_and_a_reconnect_starts_clean(
    db: Db,
) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    sync(&org).await;
    let seat = org.seats[0].0;
    let mut t = db.store.tenant(org.tenant);
    let imported = t.saved_items(None).await.unwrap();
    let accounts = imported
        .iter()
        .filter(|i| matches!(i.key.target, SavedTarget::Account(_)))
        .count();
    // The rep keeps one account by hand and writes a note about one imported lead.
    let kept = imported
        .iter()
        .find(|i| i.key.seat == seat && matches!(i.key.target, SavedTarget::Account(_)))
        .unwrap()
        .key
        .target;
    t.save_by_hand(seat, kept).await.unwrap();
    let lead = imported
        .iter()
        .find_map(|i| match i.key.target {
            SavedTarget::Lead(p) if i.key.seat == seat => Some(p),
            _ => None,
        })
        .unwrap();
    t.add_activity(NewActivity {
        seat,
        kind: ActivityKind::Note,
        about: ActivityAbout::Person(lead),
        thread: None,
        body: "Keep this".into(),
        copy_to_crm: CopyToCrm::Item(false),
    })
    .await
    .unwrap();

    let receipt = org
        .engine
        .disconnect(org.tenant, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.removed.imported_accounts, accounts - 1);
    assert_eq!(
        receipt.removed.imported_leads,
        imported.len() - accounts,
        "{receipt:?}"
    );
    assert_eq!(receipt.kept.hand_saved_accounts, 1);
    assert_eq!(receipt.kept.notes, 1);
    assert_eq!(
        receipt.kept.people_unlinked, 1,
        "the person the note is about stays"
    );
    assert!(receipt.removed.credentials);
    assert_eq!(receipt.removed.mirror.contacts, 250);
    assert_eq!(receipt.removed.delta_tokens, 5);
    assert_eq!(
        org.engine.status(org.tenant).await.unwrap(),
        CrmStatus::NotConnected
    );
    let left = t.saved_items(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].by_hand && left[0].crm_reasons.is_empty());
    assert_eq!(t.mirror_counts().await.unwrap().contacts, 0);
    assert!(t.person(lead).await.unwrap().is_some());

    // Asked again (say the first answer was lost): nothing more to remove, nothing breaks.
    let again = org
        .engine
        .disconnect(org.tenant, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.removed.imported_leads + again.removed.imported_accounts,
        0
    );

    // Reconnecting works like the first time.
    org.engine
        .connect_application_user(org.tenant, app(&e))
        .await
        .unwrap();
    t.put_crm_settings(&settings(PipelineStage::NotSure))
        .await
        .unwrap();
    let SyncRunResult::Finished(_) = org
        .engine
        .run_sync(org.tenant, sync::jobs::Trigger::SyncNow)
        .await
        .unwrap()
    else {
        panic!("no sync");
    };
    assert_eq!(t.saved_items(None).await.unwrap().len(), imported.len());
}

async fn disconnecting_without_purge_keeps_imported_data_which_stops_updating(db: Db) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    sync(&org).await;
    let mut t = db.store.tenant(org.tenant);
    let before = t.saved_items(None).await.unwrap();
    let people = t.count_people().await.unwrap();
    assert_eq!(
        org.engine.disconnect(org.tenant, false).await.unwrap(),
        None
    );
    assert_eq!(t.saved_items(None).await.unwrap(), before);
    assert!(matches!(
        org.engine.sync_now(org.tenant).await,
        Err(SyncError::NotConnected)
    ));
    assert_eq!(
        org.engine
            .run_sync(org.tenant, sync::jobs::Trigger::Schedule)
            .await
            .unwrap(),
        SyncRunResult::NotConnected
    );

    // The CRM moves on; nothing here follows until the CRM is connected again.
    let rep = &org.seats[0].1;
    let open = e
        .get(&format!(
            "opportunities?$select=name&$filter=_ownerid_value eq {} and statecode eq 0",
            rep.id
        ))
        .await;
    let opp = open["value"][0]["opportunityid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = e
        .api(
            Method::PATCH,
            &format!("opportunities({opp})"),
            Some(json!({"statecode": 2, "statuscode": 4})),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(t.saved_items(None).await.unwrap(), before);

    let reconnected = org
        .engine
        .connect_application_user(org.tenant, app(&e))
        .await
        .unwrap();
    assert_ne!(reconnected.connection, org.connection);
    let SyncRunResult::Finished(_) = org
        .engine
        .run_sync(org.tenant, sync::jobs::Trigger::SyncNow)
        .await
        .unwrap()
    else {
        panic!("no sync");
    };
    let after = t.saved_items(None).await.unwrap();
    let lost_opportunity = uuid::Uuid::parse_str(&opp).unwrap();
    assert!(after.iter().all(|i| {
        i.crm_reasons
            .iter()
            .all(|r| r.opportunity.0 != lost_opportunity)
    }));
    assert!(after.len() <= before.len());
    assert_eq!(
        t.count_people().await.unwrap(),
        people,
        "the same CRM contacts are the same people after a reconnect"
    );
}
