//! Change tracking against the emulator: the initial read, deltas with upserts and deletes, an
//! expired token, the organization-wide read it needs, and enabling it on a table.

use dataverse::{Change, ErrorKind, PageOptions};
use futures_util::TryStreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::Emulator;

fn small_pages() -> PageOptions {
    PageOptions {
        page_size: 10,
        annotations: vec![],
    }
}

#[tokio::test]
async fn an_initial_read_then_a_delta_with_upserts_and_deletes() {
    let e = Emulator::start().await;
    let c = e.client();
    let mut ids = Vec::new();
    for i in 0..23 {
        let id = c
            .post_json("contacts", &json!({"lastname": format!("Tracked {i}")}))
            .await
            .unwrap()
            .entity_id()
            .unwrap();
        ids.push(id);
    }
    let pages: Vec<dataverse::Page> = c
        .tracked_read("contacts", &["lastname"], &small_pages())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages.iter().map(|p| p.rows.len()).sum::<usize>(), 23);
    assert!(pages[..2].iter().all(|p| p.delta_link.is_none()));
    let delta = pages[2].delta_link.clone().unwrap();

    // Nothing changed: an empty delta and a new link.
    let quiet: Vec<dataverse::ChangePage> = c
        .changes(&delta, &small_pages())
        .try_collect()
        .await
        .unwrap();
    assert!(quiet.iter().all(|p| p.changes.is_empty()));

    let added = c
        .post_json("contacts", &json!({"lastname": "Added"}))
        .await
        .unwrap()
        .entity_id()
        .unwrap();
    c.patch_json(
        &format!("contacts({})", ids[0]),
        &json!({"lastname": "Renamed"}),
    )
    .await
    .unwrap();
    c.delete(&format!("contacts({})", ids[1])).await.unwrap();
    let fleeting = c
        .post_json("contacts", &json!({"lastname": "Fleeting"}))
        .await
        .unwrap()
        .entity_id()
        .unwrap();
    c.delete(&format!("contacts({fleeting})")).await.unwrap();

    let pages: Vec<dataverse::ChangePage> = c
        .changes(&delta, &small_pages())
        .try_collect()
        .await
        .unwrap();
    let next = pages.last().unwrap().delta_link.clone().unwrap();
    let mut upserts: Vec<(Uuid, String)> = Vec::new();
    let mut deletes: Vec<Uuid> = Vec::new();
    for change in pages.into_iter().flat_map(|p| p.changes) {
        match change {
            Change::Upsert(row) => upserts.push((
                row.guid("contactid").unwrap(),
                row.text("lastname").unwrap().to_string(),
            )),
            Change::Delete { id } => deletes.push(id),
        }
    }
    upserts.sort();
    let mut expected = vec![
        (added, "Added".to_string()),
        (ids[0], "Renamed".to_string()),
    ];
    expected.sort();
    assert_eq!(upserts, expected);
    deletes.sort();
    let mut expected_deletes = vec![ids[1], fleeting];
    expected_deletes.sort();
    assert_eq!(deletes, expected_deletes);

    // The new link starts after these changes.
    let after: Vec<dataverse::ChangePage> = c
        .changes(&next, &small_pages())
        .try_collect()
        .await
        .unwrap();
    assert!(after.iter().all(|p| p.changes.is_empty()));
}

#[tokio::test]
async fn an_expired_delta_token_is_its_own_error() {
    let e = Emulator::start().await;
    let c = e.client();
    let pages: Vec<dataverse::Page> = c
        .tracked_read("accounts", &["name"], &PageOptions::default())
        .try_collect()
        .await
        .unwrap();
    let delta = pages.last().unwrap().delta_link.clone().unwrap();
    // The org keeps versions for one day.
    let org: Value = c
        .get_json("organizations?$select=organizationid")
        .await
        .unwrap();
    let org_id = org["value"][0]["organizationid"].as_str().unwrap();
    c.patch_json(
        &format!("organizations({org_id})"),
        &json!({"expirechangetrackingindays": 1}),
    )
    .await
    .unwrap();
    e.admin(
        Method::POST,
        "clock",
        json!({"advance_seconds": 2 * 86_400}),
    )
    .await;
    let err = c
        .changes(&delta, &PageOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeltaExpired, "{err}");
    assert_eq!(err.code(), Some("0x80044352"));
    // The fallback, a full read, works.
    let again: Vec<dataverse::Page> = c
        .tracked_read("accounts", &["name"], &PageOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert!(again.last().unwrap().delta_link.is_some());
}

#[tokio::test]
async fn a_tracked_read_needs_organization_wide_read() {
    let e = Emulator::start().await;
    let rep = e.app_client("rep", &["Salesperson"]).await;
    let err = rep
        .tracked_read("contacts", &["lastname"], &PageOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPrivileges);
    assert!(err.to_string().contains("prvReadContact"));
    let manager = e.app_client("manager", &["Sales Manager"]).await;
    assert!(
        manager
            .tracked_read("contacts", &["lastname"], &PageOptions::default())
            .try_collect::<Vec<_>>()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn change_tracking_is_detected_and_enabled_per_table() {
    let e = Emulator::start().await;
    let c = e.client();
    let tables = [
        "account",
        "contact",
        "lead",
        "opportunity",
        "systemuser",
        "task",
    ];
    let state = c.change_tracking(&tables).await.unwrap();
    assert_eq!(state.len(), tables.len());
    let task = state.iter().find(|t| t.logical_name == "task").unwrap();
    assert_eq!(task.entity_set, "tasks");
    assert!(!task.enabled);
    assert!(task.can_be_enabled);
    let err = c
        .tracked_read("tasks", &["subject"], &PageOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);

    c.enable_change_tracking("task").await.unwrap();
    // Enabling twice is fine.
    c.enable_change_tracking("task").await.unwrap();
    let state = c.change_tracking(&["task"]).await.unwrap();
    assert!(state[0].enabled);
    let pages: Vec<dataverse::Page> = c
        .tracked_read("tasks", &["subject"], &PageOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert!(pages.last().unwrap().delta_link.is_some());

    // Without the privilege to customize tables, enabling is refused as a privilege problem.
    let rep = e.app_client("rep", &["Salesperson"]).await;
    assert_eq!(
        rep.enable_change_tracking("email")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InsufficientPrivileges
    );
}

#[tokio::test]
async fn organization_wide_read_lowered_between_two_syncs_fails_the_delta() {
    let e = Emulator::start().await;
    e.admin(
        Method::POST,
        "roles",
        json!({"name": "Reader", "privileges": {"prvReadContact": "Global"}}),
    )
    .await;
    let reader = e.app_client("reader", &["Reader"]).await;
    let pages: Vec<dataverse::Page> = reader
        .tracked_read("contacts", &["lastname"], &PageOptions::default())
        .try_collect()
        .await
        .unwrap();
    let delta = pages.last().unwrap().delta_link.clone().unwrap();
    e.admin(
        Method::PUT,
        "roles/Reader/privileges/prvReadContact",
        json!({"depth": "Local"}),
    )
    .await;
    let err = reader
        .changes(&delta, &PageOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPrivileges);
    assert_eq!(err.code(), Some("0x80040220"));
}
