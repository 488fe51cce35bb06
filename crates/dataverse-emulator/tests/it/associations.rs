//! §6: single-property reads and writes, lookups set and cleared through `$ref`, rows added to
//! and removed from collection-valued navigation properties, and activity parties replaced.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::Harness;

async fn put(h: &Harness, path: &str, body: Value) -> crate::harness::Reply {
    h.call(Method::PUT, path, Some(body), &[]).await
}

async fn delete(h: &Harness, path: &str) -> crate::harness::Reply {
    h.call(Method::DELETE, path, None, &[]).await
}

/// One member of the row `path` reads.
async fn member(h: &Harness, path: &str, name: &str) -> Value {
    h.get(path).await.json()[name].clone()
}

#[tokio::test]
async fn single_properties_are_read_set_and_cleared() {
    let h = Harness::start().await;
    let id = h
        .create(
            "accounts",
            json!({"name": "Contoso", "description": "Big customer"}),
        )
        .await;
    let r = h.get(&format!("accounts({id})/name")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"@odata.context": format!("{}/$metadata#accounts({id})/name", h.emu.info.api_url), "value": "Contoso"})
    );
    let r = h.get(&format!("accounts({id})/name/$value")).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "Contoso"));

    let r = put(
        &h,
        &format!("accounts({id})/name"),
        json!({"value": "Contoso Ltd"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = delete(&h, &format!("accounts({id})/description")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let row = h
        .get(&format!("accounts({id})?$select=name,description"))
        .await
        .json();
    assert_eq!(
        (&row["name"], &row["description"]),
        (&json!("Contoso Ltd"), &Value::Null)
    );
    // A null property has no content.
    assert_eq!(
        h.get(&format!("accounts({id})/description")).await.status,
        StatusCode::NO_CONTENT
    );

    // Bad single-property writes change nothing.
    let r = put(&h, &format!("accounts({id})/nope"), json!({"value": 1})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["error"]["message"],
        "Resource not found for the segment 'nope'."
    );
    let r = put(&h, &format!("accounts({id})/name"), json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "0x80048d19");
    let r = put(
        &h,
        &format!("accounts({id})/accountnumber"),
        json!({"value": "x".repeat(21)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "0x80044331");
    let r = put(
        &h,
        &format!("accounts({id})/_primarycontactid_value"),
        json!({"value": id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.get(&format!("accounts({id})/name")).await.json()["value"],
        "Contoso Ltd"
    );
}

#[tokio::test]
async fn lookups_and_collections_change_through_ref() {
    let h = Harness::start().await;
    let a = h.create("accounts", json!({"name": "A"})).await;
    let b = h.create("accounts", json!({"name": "B"})).await;
    let o = h
        .create(
            "opportunities",
            json!({"name": "Deal", "customerid_account@odata.bind": format!("/accounts({a})")}),
        )
        .await;
    let customer = format!("opportunities({o})?$select=_customerid_value");

    // Add to a collection with a full URL.
    let r = h
        .call(
            Method::POST,
            &format!("accounts({b})/opportunity_customer_accounts/$ref"),
            Some(json!({"@odata.id": format!("{}/opportunities({o})", h.emu.info.api_url)})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(member(&h, &customer, "_customerid_value").await, json!(b));
    let listed = h
        .get(&format!(
            "accounts({b})/opportunity_customer_accounts?$select=name"
        ))
        .await
        .json();
    assert_eq!(listed["value"][0]["name"], "Deal");

    // Set a single-valued lookup with a relative URI, read it through the navigation property.
    let r = put(
        &h,
        &format!("opportunities({o})/customerid_account/$ref"),
        json!({"@odata.id": format!("accounts({a})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(member(&h, &customer, "_customerid_value").await, json!(a));
    let related = h
        .get(&format!(
            "opportunities({o})/customerid_account?$select=name"
        ))
        .await;
    assert_eq!(related.json()["name"], "A", "{}", related.text);

    // Removing from the wrong parent changes nothing; from the right one clears the lookup.
    let r = delete(
        &h,
        &format!("accounts({b})/opportunity_customer_accounts({o})/$ref"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(member(&h, &customer, "_customerid_value").await, json!(a));
    let r = delete(
        &h,
        &format!("accounts({a})/opportunity_customer_accounts({o})/$ref"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        member(&h, &customer, "_customerid_value").await,
        Value::Null
    );
    assert_eq!(
        h.get(&format!("opportunities({o})/customerid_account"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // The `$id` form, and clearing a lookup with DELETE …/$ref.
    let c = h
        .create(
            "contacts",
            json!({"lastname": "Lee", "parentcustomerid_account@odata.bind": format!("/accounts({a})")}),
        )
        .await;
    let r = delete(
        &h,
        &format!(
            "accounts({a})/contact_customer_accounts/$ref?$id={}/contacts({c})",
            h.emu.info.api_url
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let parent = format!("contacts({c})?$select=_parentcustomerid_value");
    assert_eq!(
        member(&h, &parent, "_parentcustomerid_value").await,
        Value::Null
    );
    put(
        &h,
        &format!("contacts({c})/parentcustomerid_account/$ref"),
        json!({"@odata.id": format!("/accounts({b})")}),
    )
    .await;
    assert_eq!(
        member(&h, &parent, "_parentcustomerid_value").await,
        json!(b)
    );
    let r = delete(&h, &format!("contacts({c})/parentcustomerid_account/$ref")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        member(&h, &parent, "_parentcustomerid_value").await,
        Value::Null
    );
}

#[tokio::test]
async fn bad_references_are_refused_without_changes() {
    let h = Harness::start().await;
    let a = h.create("accounts", json!({"name": "A"})).await;
    let c = h.create("contacts", json!({"lastname": "Lee"})).await;
    let missing = uuid::Uuid::new_v4();
    let post = |path: String, body: Value| {
        let h = &h;
        async move { h.call(Method::POST, &path, Some(body), &[]).await }
    };
    // The URI names a row of the wrong table.
    let r = post(
        format!("accounts({a})/opportunity_customer_accounts/$ref"),
        json!({"@odata.id": format!("/contacts({c})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "0x80048d19");
    // A related row or a parent that does not exist.
    let r = post(
        format!("accounts({a})/contact_customer_accounts/$ref"),
        json!({"@odata.id": format!("/contacts({missing})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(
        r.json()["error"]["message"],
        format!("contact With Id = {missing} Does Not Exist")
    );
    let r = post(
        format!("accounts({missing})/contact_customer_accounts/$ref"),
        json!({"@odata.id": format!("/contacts({c})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // No such navigation property; no `@odata.id`; PUT on a collection.
    let r = post(
        format!("accounts({a})/contact_nothing/$ref"),
        json!({"@odata.id": format!("/contacts({c})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = post(
        format!("accounts({a})/contact_customer_accounts/$ref"),
        json!({"id": c}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = put(
        &h,
        &format!("accounts({a})/contact_customer_accounts/$ref"),
        json!({"@odata.id": format!("/contacts({c})")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    let r = delete(&h, &format!("accounts({a})/contact_customer_accounts/$ref")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        h.get(&format!("contacts({c})?$select=_parentcustomerid_value"))
            .await
            .json()["_parentcustomerid_value"],
        Value::Null
    );
}

#[tokio::test]
async fn activity_parties_are_replaced_wholesale() {
    let h = Harness::start().await;
    let me = h.emu.info.application_user_id;
    let ann = h.create("contacts", json!({"lastname": "Lee"})).await;
    let bob = h.create("contacts", json!({"lastname": "Day"})).await;
    let email = h
        .create(
            "emails",
            json!({
                "subject": "Intro",
                "email_activity_parties": [
                    {"partyid_systemuser@odata.bind": format!("/systemusers({me})"), "participationtypemask": 1},
                    {"partyid_contact@odata.bind": format!("/contacts({ann})"), "participationtypemask": 2},
                ],
            }),
        )
        .await;
    let r = put(
        &h,
        &format!("emails({email})/email_activity_parties"),
        json!({"value": [
            {"partyid_systemuser@odata.bind": format!("/systemusers({me})"), "participationtypemask": 1},
            {"partyid_contact@odata.bind": format!("/contacts({bob})"), "participationtypemask": 2},
            {"partyid_contact@odata.bind": format!("/contacts({ann})"), "participationtypemask": 3},
        ]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let parties = h
        .get(&format!(
            "activityparties?$select=_partyid_value,participationtypemask&$filter=_activityid_value eq {email}&$orderby=participationtypemask"
        ))
        .await
        .json();
    let got: Vec<(String, i64)> = parties["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["_partyid_value"].as_str().unwrap().to_string(),
                p["participationtypemask"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(me.to_string(), 1), (bob.clone(), 2), (ann.clone(), 3)]
    );
}
