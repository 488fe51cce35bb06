//! The companion app against the emulator: a fresh install, a partial install repaired, an upgrade
//! from an older version, and writing back an activity by its external key.

use dataverse::companion::{self, ACTIVITY_TABLES, EXTERNAL_KEY, VERSION};
use dataverse::preflight::Status;
use dataverse::{ErrorKind, Filter, Key, Query};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Emulator;

#[tokio::test]
async fn a_fresh_install_creates_every_component_in_the_solution() {
    let e = Emulator::start().await;
    let c = e.client();
    let before = c.companion_state().await.unwrap();
    assert!(!before.installed());
    assert!(before.missing.contains(&"solution".to_string()));
    let after = c.install_companion().await.unwrap();
    assert!(after.up_to_date(), "{after:?}");
    assert_eq!(after.version.as_deref(), Some(VERSION));

    let tables: Value = c
        .get_json("EntityDefinitions?$select=LogicalName,IsActivity,IsCustomEntity,EntitySetName&$filter=IsCustomEntity eq true")
        .await
        .unwrap();
    for t in ACTIVITY_TABLES {
        let found = tables["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["LogicalName"] == t.logical_name)
            .unwrap();
        assert_eq!(found["IsActivity"], true);
    }
    // Installing again changes nothing and fails nothing.
    assert_eq!(c.install_companion().await.unwrap(), after);
    let report = c.preflight().await;
    assert_eq!(
        report.check("companion_app").unwrap().status,
        Status::Passed
    );
}

#[tokio::test]
async fn a_partial_install_is_repaired() {
    let e = Emulator::start().await;
    let c = e.client();
    // The install breaks down when it reaches the message table.
    e.admin(
        Method::PUT,
        "faults",
        json!([{"method": "POST", "path_prefix": "EntityDefinitions(LogicalName='lb_message')", "rate_500": 1.0}]),
    )
    .await;
    let err = c.install_companion().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrmApi);
    let partial = c.companion_state().await.unwrap();
    assert!(!partial.installed());
    assert!(
        partial.missing.iter().any(|m| m.starts_with("lb_message")),
        "{partial:?}"
    );
    assert!(!partial.missing.iter().any(|m| m.starts_with("lb_inmail")));
    assert_eq!(partial.version.as_deref(), Some("0.0.0.0"));
    let report = c.preflight().await;
    assert_eq!(
        report.check("companion_app").unwrap().status,
        Status::Warning
    );

    e.admin(Method::PUT, "faults", json!([])).await;
    let repaired = c.install_companion().await.unwrap();
    assert!(repaired.up_to_date(), "{repaired:?}");
}

#[tokio::test]
async fn an_older_version_is_upgraded_and_a_deleted_table_comes_back() {
    let e = Emulator::start().await;
    let c = e.client();
    c.install_companion().await.unwrap();
    let solution = c
        .query_all(
            &Query::new("solutions")
                .select(["solutionid"])
                .filter(Filter::eq("uniquename", companion::SOLUTION)),
        )
        .await
        .unwrap();
    let id = solution[0].guid("solutionid").unwrap();
    c.patch_json(&format!("solutions({id})"), &json!({"version": "0.9.0.0"}))
        .await
        .unwrap();
    let note: Value = c
        .get_json("EntityDefinitions(LogicalName='lb_note')?$select=MetadataId")
        .await
        .unwrap();
    c.delete(&format!(
        "EntityDefinitions({})",
        note["MetadataId"].as_str().unwrap()
    ))
    .await
    .unwrap();
    let old = c.companion_state().await.unwrap();
    assert!(!old.up_to_date());
    assert!(old.missing.contains(&"lb_note".to_string()));
    let upgraded = c.install_companion().await.unwrap();
    assert!(upgraded.up_to_date(), "{upgraded:?}");
    assert_eq!(upgraded.version.as_deref(), Some(VERSION));
}

#[tokio::test]
async fn an_activity_is_written_back_once_by_its_external_key() {
    let e = Emulator::start().await;
    let c = e.client();
    c.install_companion().await.unwrap();
    let contact = c
        .post_json("contacts", &json!({"lastname": "Souza"}))
        .await
        .unwrap()
        .entity_id()
        .unwrap();
    let notes = c.table(companion::NOTE.logical_name).await.unwrap();
    let key = Key::alternate(EXTERNAL_KEY, "note:7f1c2a");
    let body = json!({
        "subject": "Call notes",
        "description": "Wants a demo in March",
        "lb_profileurl": "https://www.linkedin.com/in/ana-souza",
        "lb_threadid": "thread-9",
        "regardingobjectid_contact_lb_note@odata.bind": format!("/contacts({contact})"),
    });
    let first = c.upsert(&notes, &key, &body).await.unwrap();
    assert_eq!(first.created, Some(true));
    // Written back again (a retry after a lost response): the same row, not a duplicate.
    let again = c.upsert(&notes, &key, &body).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.created, Some(false));
    let rows = c
        .query_all(&Query::new(&notes.entity_set).select([
            "subject",
            "_regardingobjectid_value",
            EXTERNAL_KEY,
        ]))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].lookup("regardingobjectid"), Some(contact));
    assert_eq!(rows[0].text(EXTERNAL_KEY), Some("note:7f1c2a"));
}
