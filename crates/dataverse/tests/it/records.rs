//! Plain JSON reads and writes, and `CallerObjectId` impersonation per request.

use dataverse::ErrorKind;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Emulator;

#[tokio::test]
async fn json_create_read_update_delete() {
    let e = Emulator::start().await;
    let c = e.client();
    let created = c
        .post_json(
            "contacts",
            &json!({"firstname": "Ana", "lastname": "Souza"}),
        )
        .await
        .unwrap();
    let id = created.entity_id().unwrap();
    let row: Value = c
        .get_json(&format!("contacts({id})?$select=fullname"))
        .await
        .unwrap();
    assert_eq!(row["fullname"], "Ana Souza");
    c.patch_json(&format!("contacts({id})"), &json!({"lastname": "Lima"}))
        .await
        .unwrap();
    let row: Value = c
        .get_json(&format!("contacts({id})?$select=lastname"))
        .await
        .unwrap();
    assert_eq!(row["lastname"], "Lima");
    c.delete(&format!("contacts({id})")).await.unwrap();
    let gone = c
        .get_json::<Value>(&format!("contacts({id})"))
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert_eq!(gone.code(), Some("0x80040217"));
}

#[tokio::test]
async fn an_unknown_table_is_an_unreadable_object() {
    let e = Emulator::start().await;
    let err = e.client().get_json::<Value>("lb_notes").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectsUnreadable);
}

/// The Entra object id and systemuser id of a seeded interactive user (not an application user).
async fn a_user(e: &Emulator) -> (String, String) {
    let users: Value = e
        .client()
        .get_json("systemusers?$select=systemuserid,azureactivedirectoryobjectid&$filter=azureactivedirectoryobjectid ne null and applicationid eq null and isdisabled eq false&$top=1")
        .await
        .unwrap();
    let user = &users["value"][0];
    (
        user["azureactivedirectoryobjectid"]
            .as_str()
            .unwrap()
            .to_string(),
        user["systemuserid"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn impersonation_makes_the_rep_the_creator_when_the_delegate_privilege_is_held() {
    let e = Emulator::seeded().await;
    let (oid, rep) = a_user(&e).await;
    let c = e.client();
    let as_rep = c.on_behalf_of(oid.parse().unwrap());
    let id = as_rep
        .post_json("accounts", &json!({"name": "Impersonated"}))
        .await
        .unwrap()
        .entity_id()
        .unwrap();
    let row: Value = c
        .get_json(&format!(
            "accounts({id})?$select=_createdby_value,_createdonbehalfby_value"
        ))
        .await
        .unwrap();
    assert_eq!(row["_createdby_value"], rep.as_str());
    assert_eq!(
        row["_createdonbehalfby_value"],
        e.emu.info.application_user_id.to_string()
    );
    // The original client still acts as itself.
    assert_eq!(c.caller(), None);

    // Without prvActOnBehalfOfAnotherUser the same request is refused and nothing is written.
    e.admin(
        Method::POST,
        "roles",
        json!({"name": "Writer", "privileges": {"prvReadAccount": "Global", "prvCreateAccount": "Global"}}),
    )
    .await;
    let writer = e.app_client("writer", &["Writer"]).await;
    let err = writer
        .on_behalf_of(oid.parse().unwrap())
        .post_json("accounts", &json!({"name": "Not written"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPrivileges);
    assert!(err.to_string().contains("prvActOnBehalfOfAnotherUser"));
    let written: Value = c
        .get_json("accounts?$select=name&$filter=name eq 'Not written'")
        .await
        .unwrap();
    assert_eq!(written["value"], json!([]));
}
