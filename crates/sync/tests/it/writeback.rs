//! Writeback end to end, workers running: a note on a matched person written completed and linked
//! once (owner, creator, full text), rewritten after an edit, removed after an untick; an
//! unmatched one listed as unassigned and resolved by a rep or by the next sync; the admin's
//! choices respected; failures retried and recorded.

use std::collections::BTreeSet;

use dataverse_emulator::seed::{SeedSize, generate};
use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::ids::{ActivityId, PersonId, TenantId};
use domain::settings::{PipelineStage, WritebackItems, WritebackSettings};
use domain::timeline::{WritebackEvent, WritebackState};
use domain::writeback::{ExternalKey, Regarding};
use reqwest::Method;
use serde_json::{Value, json};
use store::activities::NewActivity;
use store::directory::NewPerson;
use sync::writeback::Resolve;

use crate::harness::{Db, Emulator, Workers, both, eventually};
use crate::import::{Org, connected_org, settings, sync};

async fn writeback_org(db: &Db, e: &Emulator, items: WritebackItems) -> Org {
    let org = connected_org(db, e, PipelineStage::NotSure).await;
    assert!(
        org.engine
            .install_companion_app(org.tenant)
            .await
            .unwrap()
            .is_installed()
    );
    let mut answers = settings(PipelineStage::NotSure);
    answers.writeback = WritebackSettings {
        enabled: true,
        items,
    };
    org.engine
        .save_settings(org.tenant, &answers)
        .await
        .unwrap();
    sync(&org).await;
    org
}

async fn person(db: &Db, tenant: TenantId, name: &str, email: Option<&str>) -> PersonId {
    db.store
        .tenant(tenant)
        .upsert_people(&[NewPerson {
            external_id: Some(format!("ext-{name}")),
            full_name: name.to_owned(),
            title: Some("Head of Purchasing".into()),
            company_name: Some("Bianchi Srl".into()),
            company: None,
            location: None,
            email: email.map(str::to_owned),
            phone: None,
            profile_url: None,
            past_companies: Vec::new(),
        }])
        .await
        .unwrap()[0]
}

async fn note(db: &Db, org: &Org, about: PersonId, kind: ActivityKind, body: &str) -> ActivityId {
    db.store
        .tenant(org.tenant)
        .add_activity(NewActivity {
            seat: org.seats[0].0,
            kind,
            about: ActivityAbout::Person(about),
            thread: None,
            body: body.to_owned(),
            copy_to_crm: CopyToCrm::Item(true),
        })
        .await
        .unwrap()
        .id
}

async fn state_of(db: &Db, tenant: TenantId, activity: ActivityId) -> WritebackState {
    db.store
        .tenant(tenant)
        .writeback_record(activity)
        .await
        .unwrap()
        .unwrap()
        .state
}

async fn until_state(
    db: &Db,
    tenant: TenantId,
    activity: ActivityId,
    want: fn(&WritebackState) -> bool,
) -> WritebackState {
    eventually("the writeback to settle", || async {
        let state = state_of(db, tenant, activity).await;
        want(&state).then_some(state)
    })
    .await
}

/// The companion table rows with our key, as the CRM holds them.
async fn crm_rows(e: &Emulator, table: &str, tenant: TenantId, activity: ActivityId) -> Vec<Value> {
    let key = ExternalKey::for_activity(tenant, activity);
    e.get(&format!(
        "{table}s?$select=statecode,statuscode,description,subject,_regardingobjectid_value,_ownerid_value,_createdby_value&$filter=lb_externalkey eq '{}'",
        key.as_str()
    ))
    .await["value"]
        .as_array()
        .unwrap()
        .clone()
}

both!(
    a_note_on_a_matched_person_is_written_completed_linked_and_once,
    an_unmatched_person_goes_to_unassigned_until_resolved,
    the_admins_choices_decide_what_is_written,
    a_failed_write_is_recorded_and_retried_until_it_lands,
);

async fn a_note_on_a_matched_person_is_written_completed_linked_and_once(db: Db) {
    let e = Emulator::seeded().await;
    let seed = generate(SeedSize::Small, 1);
    let org = writeback_org(&db, &e, WritebackItems::All).await;
    let contact = seed.contacts.iter().find(|c| c.email.is_some()).unwrap();
    let known = person(
        &db,
        org.tenant,
        &format!("{} {}", contact.first_name, contact.last_name),
        contact.email.as_deref(),
    )
    .await;
    sync(&org).await;
    let workers = Workers::start(&org.engine);
    let long = format!("Met at the fair. {}", "Details follow. ".repeat(200));
    let id = note(&db, &org, known, ActivityKind::Note, &long).await;
    let state = until_state(&db, org.tenant, id, |s| {
        matches!(s, WritebackState::Written { .. })
    })
    .await;
    let WritebackState::Written {
        regarding,
        crm_activity,
    } = state
    else {
        unreachable!()
    };
    assert_eq!(regarding, Regarding::Contact(contact.id.into()));
    let rows = crm_rows(&e, "lb_note", org.tenant, id).await;
    assert_eq!(rows.len(), 1);
    let rep = &org.seats[0].1;
    assert_eq!(rows[0]["statecode"], 1, "completed");
    assert_eq!(rows[0]["statuscode"], 2);
    assert_eq!(rows[0]["_regardingobjectid_value"], json!(contact.id));
    assert_eq!(rows[0]["_ownerid_value"], json!(rep.id), "the rep owns it");
    assert_eq!(rows[0]["_createdby_value"], json!(rep.id), "and created it");
    let notes = e
        .get(&format!(
            "annotations?$select=notetext&$filter=_objectid_value eq {}",
            crm_activity.0
        ))
        .await;
    assert!(
        notes["value"][0]["notetext"]
            .as_str()
            .unwrap()
            .contains(&long),
        "the whole text is kept"
    );

    // Edited: rewritten in place.
    db.store
        .tenant(org.tenant)
        .edit_activity(id, "Met at the fair; call back in May.")
        .await
        .unwrap();
    eventually("the edit to reach the CRM", || async {
        let rows = crm_rows(&e, "lb_note", org.tenant, id).await;
        (rows.len() == 1
            && rows[0]["description"] == "Met at the fair; call back in May."
            && rows[0]["statecode"] == 1)
            .then_some(())
    })
    .await;

    // Unticked after the fact: removed from the CRM.
    db.store
        .tenant(org.tenant)
        .set_activity_copy_to_crm(id, CopyToCrm::Item(false))
        .await
        .unwrap();
    until_state(&db, org.tenant, id, |s| {
        matches!(s, WritebackState::Removed)
    })
    .await;
    assert!(crm_rows(&e, "lb_note", org.tenant, id).await.is_empty());
    let record = db
        .store
        .tenant(org.tenant)
        .writeback_record(id)
        .await
        .unwrap()
        .unwrap();
    let events: Vec<&str> = record
        .timeline
        .iter()
        .filter_map(|t| t.event.as_ref())
        .map(|e| match e {
            WritebackEvent::Written { .. } => "written",
            WritebackEvent::Edited => "edited",
            WritebackEvent::CopyUnticked => "unticked",
            WritebackEvent::Removed => "removed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        events,
        ["written", "edited", "written", "unticked", "removed"]
    );
    workers.stop().await;
}

async fn an_unmatched_person_goes_to_unassigned_until_resolved(db: Db) {
    let e = Emulator::seeded().await;
    let org = writeback_org(&db, &e, WritebackItems::All).await;
    let stranger = person(
        &db,
        org.tenant,
        "Giulia Bianchi",
        Some("giulia@bianchi.example"),
    )
    .await;
    let other = person(&db, org.tenant, "Marco Rossi", Some("marco@rossi.example")).await;
    let workers = Workers::start(&org.engine);
    let first = note(&db, &org, stranger, ActivityKind::InMail, "Ciao Giulia").await;
    let second = note(&db, &org, other, ActivityKind::Message, "Ciao Marco").await;
    for id in [first, second] {
        until_state(&db, org.tenant, id, |s| {
            matches!(s, WritebackState::Unassigned { .. })
        })
        .await;
    }
    let unassigned: BTreeSet<ActivityId> = db
        .store
        .tenant(org.tenant)
        .unassigned_activities(None)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.activity)
        .collect();
    assert_eq!(unassigned, BTreeSet::from([first, second]));
    let rows = crm_rows(&e, "lb_inmail", org.tenant, first).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["statecode"], 0, "open while unassigned");
    assert_eq!(rows[0]["_regardingobjectid_value"], Value::Null);

    // The rep creates a contact from the person: it is linked and completed, once.
    let state = org
        .engine
        .resolve_unassigned(org.tenant, first, Resolve::CreateContact)
        .await
        .unwrap();
    let WritebackState::Written {
        regarding: Regarding::Contact(contact),
        ..
    } = state
    else {
        panic!("{state:?}");
    };
    let contacts = e
        .get("contacts?$select=fullname,_ownerid_value&$filter=emailaddress1 eq 'giulia@bianchi.example'")
        .await;
    assert_eq!(contacts["value"].as_array().unwrap().len(), 1);
    assert_eq!(contacts["value"][0]["contactid"], json!(contact.0));
    assert_eq!(
        contacts["value"][0]["_ownerid_value"],
        json!(org.seats[0].1.id)
    );
    let rows = crm_rows(&e, "lb_inmail", org.tenant, first).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["statecode"], 1);
    assert_eq!(rows[0]["_regardingobjectid_value"], json!(contact.0));

    // Someone adds Marco to the CRM: the next sync matches him and links his message itself.
    let marco = e
        .create(
            "contacts",
            json!({"firstname": "Marco", "lastname": "Rossi", "emailaddress1": "marco@rossi.example"}),
        )
        .await;
    sync(&org).await;
    let state = until_state(&db, org.tenant, second, |s| {
        matches!(s, WritebackState::Written { .. })
    })
    .await;
    assert!(matches!(
        state,
        WritebackState::Written { regarding: Regarding::Contact(c), .. } if c.0.to_string() == marco
    ));
    let rows = crm_rows(&e, "lb_message", org.tenant, second).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["statecode"], 1);
    assert!(
        db.store
            .tenant(org.tenant)
            .unassigned_activities(None)
            .await
            .unwrap()
            .is_empty()
    );
    workers.stop().await;
}

async fn the_admins_choices_decide_what_is_written(db: Db) {
    let e = Emulator::seeded().await;
    let org = writeback_org(
        &db,
        &e,
        WritebackItems::Chosen(BTreeSet::from([ActivityKind::Note])),
    )
    .await;
    let someone = person(&db, org.tenant, "Ana Lopes", None).await;
    let workers = Workers::start(&org.engine);
    let message = note(&db, &org, someone, ActivityKind::Message, "Olá").await;
    let written = note(&db, &org, someone, ActivityKind::Note, "Nota").await;
    let state = until_state(&db, org.tenant, message, |s| {
        matches!(s, WritebackState::Dropped { .. })
    })
    .await;
    assert_eq!(
        state,
        WritebackState::Dropped {
            reason: "Your admin does not sync back this kind of item.".into()
        }
    );
    until_state(&db, org.tenant, written, |s| {
        matches!(s, WritebackState::Unassigned { .. })
    })
    .await;
    assert!(
        crm_rows(&e, "lb_message", org.tenant, message)
            .await
            .is_empty()
    );

    // An item the rep leaves unticked never gets a writeback at all.
    let quiet = db
        .store
        .tenant(org.tenant)
        .add_activity(NewActivity {
            seat: org.seats[0].0,
            kind: ActivityKind::Note,
            about: ActivityAbout::Person(someone),
            thread: None,
            body: "private".into(),
            copy_to_crm: CopyToCrm::Item(false),
        })
        .await
        .unwrap();
    assert!(
        db.store
            .tenant(org.tenant)
            .writeback_record(quiet.id)
            .await
            .unwrap()
            .is_none()
    );
    // A rep whose seat does not sync has nothing written.
    db.store
        .tenant(org.tenant)
        .set_seat_crm_sync(org.seats[0].0, domain::tenant::SeatCrmSync::Disabled)
        .await
        .unwrap();
    let off = note(&db, &org, someone, ActivityKind::Note, "after").await;
    let state = until_state(&db, org.tenant, off, |s| {
        matches!(s, WritebackState::Dropped { .. })
    })
    .await;
    assert!(
        matches!(&state, WritebackState::Dropped { reason } if reason.contains("CRM sync is disabled")),
        "{state:?}"
    );
    workers.stop().await;
}

async fn a_failed_write_is_recorded_and_retried_until_it_lands(db: Db) {
    let e = Emulator::seeded().await;
    let org = writeback_org(&db, &e, WritebackItems::All).await;
    let someone = person(&db, org.tenant, "Rui Costa", None).await;
    e.admin(
        Method::PUT,
        "faults",
        // Notes are written alone, in UpsertMultiple calls or in `$batch` requests.
        json!([
            {"path_prefix": "lb_notes", "rate_503": 1.0},
            {"path_prefix": "$batch", "rate_503": 1.0},
        ]),
    )
    .await;
    let workers = Workers::start(&org.engine);
    let id = note(&db, &org, someone, ActivityKind::Note, "Retry me").await;
    let failed = until_state(&db, org.tenant, id, |s| {
        matches!(s, WritebackState::Failed { .. })
    })
    .await;
    let WritebackState::Failed {
        reason, retriable, ..
    } = failed
    else {
        unreachable!()
    };
    assert!(retriable);
    assert!(
        reason.contains("503") || reason.contains("unavailable"),
        "{reason}"
    );
    e.admin(Method::PUT, "faults", json!([])).await;
    until_state(&db, org.tenant, id, |s| {
        matches!(s, WritebackState::Unassigned { .. })
    })
    .await;
    assert_eq!(crm_rows(&e, "lb_note", org.tenant, id).await.len(), 1);
    let record = db
        .store
        .tenant(org.tenant)
        .writeback_record(id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.timeline.iter().any(|t| matches!(
        &t.event,
        Some(WritebackEvent::Failed { reason, .. }) if !reason.is_empty()
    )));
    assert!(
        record
            .timeline
            .iter()
            .any(|t| t.event == Some(WritebackEvent::Retried))
    );
    workers.stop().await;
}
