//! Writes against the emulator: single rows, upserts by alternate key, many rows through the bulk
//! messages or `$batch`, change sets with Content-ID references.

use dataverse::{
    Batch, BulkMessage, Client, Error, ErrorKind, Filter, Key, Operation, Outcome, Part, Query,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Emulator;

/// An alternate key on account.accountnumber, as an admin would define it.
async fn account_number_key(c: &Client) {
    c.post_json(
        "EntityDefinitions(LogicalName='account')/Keys",
        &json!({"SchemaName": "new_accountnumber_key", "KeyAttributes": ["accountnumber"],
                "DisplayName": {"LocalizedLabels": [{"Label": "Account number", "LanguageCode": 1033}]}}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn single_row_writes() {
    let e = Emulator::start().await;
    let c = e.client();
    let contacts = c.table("contact").await.unwrap();
    assert_eq!(contacts.entity_set, "contacts");
    assert_eq!(contacts.primary_id, "contactid");
    let id = c
        .create(&contacts, &json!({"firstname": "Ana", "lastname": "Souza"}))
        .await
        .unwrap();
    c.update(&contacts, id, &json!({"jobtitle": "CFO"}))
        .await
        .unwrap();
    let row: Value = c
        .get_json(&format!("contacts({id})?$select=jobtitle"))
        .await
        .unwrap();
    assert_eq!(row["jobtitle"], "CFO");
    c.delete_row(&contacts, id).await.unwrap();
    // An update never recreates a deleted row.
    let err = c
        .update(&contacts, id, &json!({"jobtitle": "CEO"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        c.get_json::<Value>(&format!("contacts({id})"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        c.delete_row(&contacts, id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        c.table("lb_nothing").await.unwrap_err().kind(),
        ErrorKind::ObjectsUnreadable
    );
}

#[tokio::test]
async fn an_upsert_by_alternate_key_creates_once_then_updates() {
    let e = Emulator::start().await;
    let c = e.client();
    account_number_key(&c).await;
    let accounts = c.table("account").await.unwrap();
    let key = Key::alternate("accountnumber", "O'Brien/1 & Co");
    let first = c
        .upsert(&accounts, &key, &json!({"name": "O'Brien"}))
        .await
        .unwrap();
    assert_eq!(first.created, Some(true));
    let again = c
        .upsert(&accounts, &key, &json!({"name": "O'Brien Ltd"}))
        .await
        .unwrap();
    assert_eq!(again.created, Some(false));
    assert_eq!(again.id, first.id);
    let rows = c
        .query_all(
            &Query::new("accounts")
                .select(["name", "accountnumber"])
                .filter(Filter::eq("accountnumber", "O'Brien/1 & Co")),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text("name"), Some("O'Brien Ltd"));
}

#[tokio::test]
async fn many_upserts_go_through_upsert_multiple() {
    let e = Emulator::start().await;
    let c = e.client();
    account_number_key(&c).await;
    let accounts = c.table("account").await.unwrap();
    assert!(
        c.supports(BulkMessage::UpsertMultiple, &accounts)
            .await
            .unwrap()
    );
    let rows: Vec<(Key, Value)> = (0..250)
        .map(|i| {
            (
                Key::alternate("accountnumber", format!("B-{i}")),
                json!({"name": format!("Bulk {i}")}),
            )
        })
        .collect();
    let results = c.upsert_many(&accounts, &rows).await.unwrap();
    assert_eq!(results.len(), 250);
    assert!(results.iter().all(Result::is_ok));
    // Repeating the whole write changes nothing but the names.
    let results = c.upsert_many(&accounts, &rows).await.unwrap();
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().created == Some(false))
    );
    assert_eq!(c.count("accounts").await.unwrap().count, 250);
}

#[tokio::test]
async fn a_bad_row_in_a_bulk_create_fails_alone() {
    let e = Emulator::start().await;
    let c = e.client();
    let contacts = c.table("contact").await.unwrap();
    assert!(
        c.supports(BulkMessage::CreateMultiple, &contacts)
            .await
            .unwrap()
    );
    let mut rows: Vec<Value> = (0..30)
        .map(|i| json!({"lastname": format!("Created {i}")}))
        .collect();
    rows[17] = json!({"lastname": "x".repeat(500)});
    let results = c.create_many(&contacts, &rows).await.unwrap();
    assert_eq!(results.len(), 30);
    for (i, r) in results.iter().enumerate() {
        if i == 17 {
            assert_eq!(r.as_ref().unwrap_err().kind(), ErrorKind::Validation);
        } else {
            assert!(r.is_ok(), "{i}: {r:?}");
        }
    }
    assert_eq!(c.count("contacts").await.unwrap().count, 29);
}

#[tokio::test]
async fn without_the_bulk_messages_rows_go_through_batch() {
    let e = Emulator::start().await;
    account_number_key(&e.client()).await;
    // A Sales Manager cannot read sdkmessagefilters, so bulk support is not assumed.
    let manager = e.app_client("manager", &["Sales Manager"]).await;
    let accounts = manager.table("account").await.unwrap();
    assert!(
        !manager
            .supports(BulkMessage::UpsertMultiple, &accounts)
            .await
            .unwrap()
    );
    let mut rows: Vec<(Key, Value)> = (0..120)
        .map(|i| {
            (
                Key::alternate("accountnumber", format!("M-{i}")),
                json!({"name": format!("Batched {i}")}),
            )
        })
        .collect();
    rows[3].1 = json!({"name": "y".repeat(400)});
    let results = manager.upsert_many(&accounts, &rows).await.unwrap();
    assert_eq!(results.len(), 120);
    assert_eq!(
        results[3].as_ref().unwrap_err().kind(),
        ErrorKind::Validation
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 119);
    assert!(results[0].as_ref().unwrap().created == Some(true));
    assert!(results[0].as_ref().unwrap().id.is_some());
}

#[tokio::test]
async fn a_change_set_refers_to_an_earlier_operation_and_fails_as_a_whole() {
    let e = Emulator::start().await;
    let c = e.client();
    let batch = Batch {
        parts: vec![
            Part::ChangeSet(vec![
                Operation::new(Method::POST, "accounts")
                    .json(json!({"name": "Parent"}))
                    .content_id("1"),
                Operation::new(Method::POST, "contacts").json(
                    json!({"lastname": "Child", "parentcustomerid_account@odata.bind": "$1"}),
                ),
            ]),
            Part::One(Operation::new(
                Method::GET,
                Query::new("accounts").select(["name"]).path().unwrap(),
            )),
        ],
        continue_on_error: false,
    };
    let outcomes = c.batch(&batch, false).await.unwrap();
    assert_eq!(outcomes.len(), 3);
    let parent = match &outcomes[0] {
        Outcome::Done(r) => r.entity_id().unwrap(),
        other => panic!("{other:?}"),
    };
    let child = match &outcomes[1] {
        Outcome::Done(r) => r.entity_id().unwrap(),
        other => panic!("{other:?}"),
    };
    let row: Value = c
        .get_json(&format!(
            "contacts({child})?$select=_parentcustomerid_value"
        ))
        .await
        .unwrap();
    assert_eq!(row["_parentcustomerid_value"], parent.to_string());
    match &outcomes[2] {
        Outcome::Done(r) => assert_eq!(r.json::<Value>().unwrap()["value"][0]["name"], "Parent"),
        other => panic!("{other:?}"),
    }

    // A change set with a bad operation writes nothing; without continue-on-error the batch stops.
    let failing = Batch {
        parts: vec![
            Part::ChangeSet(vec![
                Operation::new(Method::POST, "accounts").json(json!({"name": "Rolled back"})),
                Operation::new(Method::POST, "accounts").json(json!({"name": "z".repeat(500)})),
            ]),
            Part::One(Operation::new(Method::POST, "accounts").json(json!({"name": "Never"}))),
        ],
        continue_on_error: false,
    };
    let outcomes = c.batch(&failing, false).await.unwrap();
    assert!(matches!(
        &outcomes[0],
        Outcome::Failed(Error::Validation(_))
    ));
    assert!(matches!(
        &outcomes[1],
        Outcome::Failed(Error::Validation(_))
    ));
    assert!(matches!(&outcomes[2], Outcome::NotRun));
    let names: Vec<String> = c
        .query_all(&Query::new("accounts").select(["name"]))
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.text("name").map(str::to_string))
        .collect();
    assert_eq!(names, vec!["Parent".to_string()]);
}
