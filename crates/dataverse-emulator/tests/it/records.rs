//! §3 and §6: create, read, update, upsert, delete, binds, ETags, activity state, validation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn create_read_update_delete_with_etags() {
    let h = Harness::start().await;
    let id = h
        .create(
            "accounts",
            json!({"name": "Ørsted Énergie S.A.", "websiteurl": "https://orsted.example"}),
        )
        .await;
    let r = h
        .get(&format!("accounts({id})?$select=name,websiteurl"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let etag = r.header("etag").unwrap();
    let body = r.json();
    assert_eq!(body["name"], "Ørsted Énergie S.A.");
    assert_eq!(body["accountid"], json!(id));
    assert_eq!(body["@odata.etag"], json!(etag));
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#accounts(name,websiteurl)/$entity")
    );

    // Unchanged: 304 for the same ETag.
    let r = h
        .call(
            Method::GET,
            &format!("accounts({id})?$select=name"),
            None,
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // Update with the current ETag works; the stale one afterwards is a 412 with 0x80060882.
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(json!({"name": "Ørsted"})),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(json!({"name": "stale"})),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.json()["error"]["code"], "0x80060882");
    assert_eq!(
        h.get(&format!("accounts({id})?$select=name")).await.json()["name"],
        "Ørsted"
    );

    assert_eq!(
        h.call(Method::DELETE, &format!("accounts({id})"), None, &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = h.get(&format!("accounts({id})")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["error"]["message"],
        format!("account With Id = {id} Does Not Exist")
    );
    assert_eq!(
        h.call(Method::DELETE, &format!("accounts({id})"), None, &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn return_representation_gives_201_with_the_row() {
    let h = Harness::start().await;
    let r = h
        .call(
            Method::POST,
            "accounts?$select=name",
            Some(json!({"name": "Rep"})),
            &[("Prefer", "return=representation")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.header("preference-applied").as_deref(),
        Some("return=representation")
    );
    assert_eq!(r.json()["name"], "Rep");
    assert!(r.header("odata-entityid").is_none());
}

#[tokio::test]
async fn update_with_if_match_star_does_not_recreate_and_plain_patch_upserts() {
    let h = Harness::start().await;
    let id = uuid::Uuid::new_v4();
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(json!({"name": "x"})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(json!({"name": "created by upsert"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get(&format!("accounts({id})?$select=name")).await.json()["name"],
        "created by upsert"
    );
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(json!({"name": "again"})),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn binds_read_back_as_lookup_values_with_annotations() {
    let h = Harness::start().await;
    let account = h.create("accounts", json!({"name": "Parent"})).await;
    let contact = h
        .create("contacts", json!({"firstname": "Giulia", "lastname": "D'Angelo", "parentcustomerid_account@odata.bind": format!("/accounts({account})")}))
        .await;
    let r = h
        .call(
            Method::GET,
            &format!("contacts({contact})?$select=fullname,_parentcustomerid_value"),
            None,
            &[("Prefer", "odata.include-annotations=\"*\"")],
        )
        .await;
    let body = r.json();
    assert_eq!(body["fullname"], "Giulia D'Angelo");
    assert_eq!(body["_parentcustomerid_value"], json!(account));
    assert_eq!(
        body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "account"
    );
    assert_eq!(
        body["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
        "Parent"
    );
    assert_eq!(
        body["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"],
        "parentcustomerid_account"
    );
    // A bind to a row that does not exist is refused; setting the lookup property directly too.
    let missing = uuid::Uuid::new_v4();
    let r = h.call(Method::POST, "contacts", Some(json!({"lastname": "x", "parentcustomerid_account@odata.bind": format!("/accounts({missing})")})), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call(
            Method::POST,
            "contacts",
            Some(json!({"lastname": "x", "_parentcustomerid_value": account})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn activities_start_open_and_complete_by_patch_with_matching_status() {
    let h = Harness::start().await;
    let contact = h.create("contacts", json!({"lastname": "Smith"})).await;
    let task = h
        .create("tasks", json!({"subject": "Call back", "regardingobjectid_contact_task@odata.bind": format!("/contacts({contact})")}))
        .await;
    let row = h
        .get(&format!(
            "tasks({task})?$select=statecode,statuscode,_regardingobjectid_value,activitytypecode"
        ))
        .await
        .json();
    assert_eq!(
        (row["statecode"].clone(), row["statuscode"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(row["_regardingobjectid_value"], json!(contact));
    assert_eq!(row["activitytypecode"], "task");
    // State is not valid on create.
    let r = h
        .call(
            Method::POST,
            "tasks",
            Some(json!({"subject": "x", "statecode": 1})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A status reason of another state is refused; the matching pair completes it.
    let r = h
        .call(
            Method::PATCH,
            &format!("tasks({task})"),
            Some(json!({"statecode": 1, "statuscode": 1})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a valid status code for state code")
    );
    let r = h
        .call(
            Method::PATCH,
            &format!("tasks({task})"),
            Some(json!({"statecode": 1, "statuscode": 2})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let row = h
        .get(&format!("tasks({task})?$select=statecode,statuscode"))
        .await
        .json();
    assert_eq!(
        (row["statecode"].clone(), row["statuscode"].clone()),
        (json!(1), json!(2))
    );
    // Every activity is also an activitypointer, keyed on activityid.
    let pointers = h
        .get("activitypointers?$select=subject,activitytypecode,statecode")
        .await
        .json();
    let listed = pointers["value"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["activityid"], json!(task));
    assert_eq!(listed[0]["activitytypecode"], "task");
    assert_eq!(listed[0]["statecode"], 1);
    let one = h
        .get(&format!("activitypointers({task})?$select=subject"))
        .await;
    assert_eq!(one.json()["subject"], "Call back");
}

#[tokio::test]
async fn bad_payloads_get_dataverse_errors_and_write_nothing() {
    let h = Harness::start().await;
    let long = "x".repeat(201);
    let r = h
        .call(Method::POST, "tasks", Some(json!({"subject": long})), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "0x80044331");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded the maximum allowed length of '200'")
    );
    let r = h
        .call(
            Method::POST,
            "accounts",
            Some(json!({"nosuchcolumn": 1})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The property 'nosuchcolumn' does not exist")
    );
    let r = h
        .call(
            Method::POST,
            "accounts",
            Some(json!({"numberofemployees": "many"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let raw = h
        .http
        .post(h.url("accounts"))
        .bearer_auth(&h.token)
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let r = h.get("nosuchset").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let before = h.get("accounts/$count").await.text;
    assert_eq!(before, "0");
}

#[tokio::test]
async fn upsert_by_alternate_key_keeps_percent_signs_and_answers_in_key_form() {
    let h = Harness::start().await;
    let r = h
        .call(
            Method::POST,
            "EntityDefinitions(LogicalName='account')/Keys",
            Some(
                json!({"SchemaName": "new_accountnumber_key", "KeyAttributes": ["accountnumber"]}),
            ),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    // The value `50% off O'Brien`: the quote doubled, then the whole segment percent-encoded once.
    let path = "accounts(accountnumber='50%25%20off%20O''Brien')";
    let r = h
        .call(Method::PATCH, path, Some(json!({"name": "first"})), &[])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let entity_id = r.header("odata-entityid").unwrap_or_default();
    assert!(
        entity_id.ends_with("/accounts(accountnumber='50%25%20off%20O''Brien')"),
        "{entity_id}"
    );
    let r = h
        .call(Method::PATCH, path, Some(json!({"name": "second"})), &[])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let rows = h
        .get("accounts?$select=name,accountnumber&$filter=startswith(accountnumber,'50')")
        .await
        .json();
    let rows = rows["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["accountnumber"], "50% off O'Brien");
    assert_eq!(rows[0]["name"], "second");
}

#[tokio::test]
async fn money_and_contact_columns_carry_the_labels_dynamics_shows() {
    let h = Harness::start().await;
    let label = |v: &serde_json::Value| v["DisplayName"]["UserLocalizedLabel"]["Label"].clone();
    let r = h
        .get(
            "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='estimatedvalue')",
        )
        .await;
    assert_eq!(label(&r.json()), "Est. Revenue", "{}", r.text);
    let r = h
        .get("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='parentcustomerid')")
        .await;
    assert_eq!(label(&r.json()), "Company Name", "{}", r.text);
    let r = h
        .get("EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')")
        .await;
    assert_eq!(label(&r.json()), "Account Name", "{}", r.text);
}
