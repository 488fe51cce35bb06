//! §4 and §7: lookup-path filters (`sdkmessageid/name`, `parentcustomerid_account/name`), lambda
//! operators over collection-valued navigation properties, and parameter aliases.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;

/// The values of `column` in a successful collection response, in order.
fn column(reply: &crate::harness::Reply, column: &str) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[column].as_str().unwrap_or("<null>").to_string())
        .collect()
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

/// Two accounts with contacts and opportunities:
/// Contoso (Ann Lee CEO, Bob Day CTO; opportunity "Contoso deal"),
/// Fabrikam (Cy Ray, no title; opportunity for contact Cy Ray), and Northwind (nobody).
async fn org_with_customers(h: &Harness) {
    let contoso = h.create("accounts", json!({"name": "Contoso"})).await;
    let fabrikam = h.create("accounts", json!({"name": "Fabrikam"})).await;
    h.create("accounts", json!({"name": "Northwind"})).await;
    for (first, last, title, parent) in [
        ("Ann", "Lee", Some("CEO"), &contoso),
        ("Bob", "Day", Some("CTO"), &contoso),
        ("Cy", "Ray", None, &fabrikam),
    ] {
        h.create(
            "contacts",
            json!({
                "firstname": first,
                "lastname": last,
                "jobtitle": title,
                "parentcustomerid_account@odata.bind": format!("/accounts({parent})"),
            }),
        )
        .await;
    }
    h.create("contacts", json!({"firstname": "Di", "lastname": "Fox"}))
        .await;
    h.create(
        "opportunities",
        json!({"name": "Contoso deal", "customerid_account@odata.bind": format!("/accounts({contoso})")}),
    )
    .await;
    let cy = column(
        &h.get("contacts?$select=contactid&$filter=fullname eq 'Cy Ray'")
            .await,
        "contactid",
    );
    h.create(
        "opportunities",
        json!({"name": "Cy's deal", "customerid_contact@odata.bind": format!("/contacts({})", cy[0])}),
    )
    .await;
}

#[tokio::test]
async fn sdkmessagefilters_tell_bulk_support_through_the_message_name() {
    let h = Harness::start().await;
    // §7: the documented probe, exactly as written there.
    let probe = |message: &str, table: &str| {
        format!(
            "sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq '{message}' and primaryobjecttypecode eq '{table}'"
        )
    };
    for message in ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] {
        let r = h.get(&probe(message, "account")).await;
        let rows = r.json()["value"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 1, "{message}: {}", r.text);
        assert!(rows[0]["sdkmessagefilterid"].is_string());
        assert_eq!(
            rows[0].as_object().unwrap().len(),
            2,
            "only the etag and the key"
        );
    }
    // No support registered: an empty value.
    assert!(
        column(
            &h.get(&probe("CreateMultiple", "role")).await,
            "sdkmessagefilterid"
        )
        .is_empty()
    );
    assert!(
        column(
            &h.get(&probe("DeleteMultiple", "account")).await,
            "sdkmessagefilterid"
        )
        .is_empty()
    );
}

#[tokio::test]
async fn lookup_paths_filter_on_the_related_row() {
    let h = Harness::start().await;
    org_with_customers(&h).await;
    let r = h
        .get("contacts?$select=fullname&$filter=parentcustomerid_account/name eq 'contoso'")
        .await;
    assert_eq!(sorted(column(&r, "fullname")), ["Ann Lee", "Bob Day"]);
    let r = h
        .get("opportunities?$select=name&$filter=customerid_account/name eq 'Contoso'")
        .await;
    assert_eq!(column(&r, "name"), ["Contoso deal"]);
    // The same lookup seen through the contact navigation property finds the other one.
    let r = h
        .get("opportunities?$select=name&$filter=customerid_contact/fullname eq 'Cy Ray'")
        .await;
    assert_eq!(column(&r, "name"), ["Cy's deal"]);
    // Two levels, and a missing related row reading as nulls.
    let r = h
        .get("opportunities?$select=name&$filter=customerid_account/createdby/fullname ne null")
        .await;
    assert_eq!(column(&r, "name"), ["Contoso deal"]);
    let r = h
        .get("contacts?$select=fullname&$filter=parentcustomerid_account/name eq null")
        .await;
    assert_eq!(column(&r, "fullname"), ["Di Fox"]);
}

#[tokio::test]
async fn lambdas_filter_on_related_collections() {
    let h = Harness::start().await;
    org_with_customers(&h).await;
    let names = |filter: &'static str| {
        let h = &h;
        async move {
            sorted(column(
                &h.get(&format!("accounts?$select=name&$filter={filter}"))
                    .await,
                "name",
            ))
        }
    };
    assert_eq!(
        names("contact_customer_accounts/any(c:c/fullname eq 'ann lee')").await,
        ["Contoso"]
    );
    assert_eq!(
        names("contact_customer_accounts/any()").await,
        ["Contoso", "Fabrikam"]
    );
    // `all` holds for an account without contacts.
    assert_eq!(
        names("contact_customer_accounts/all(c:c/jobtitle ne null)").await,
        ["Contoso", "Northwind"]
    );
    assert_eq!(
        names("not contact_customer_accounts/any() and startswith(name,'n')").await,
        ["Northwind"]
    );
    // filter-rows.md's nested example, on our data.
    assert_eq!(
        names("contact_customer_accounts/any(c:c/jobtitle eq 'CEO' and c/parentcustomerid_account/name eq 'contoso') or opportunity_customer_accounts/any(o:contains(o/name,'deal'))").await,
        ["Contoso"]
    );
    assert_eq!(
        names("contact_customer_accounts/any(c:c/opportunity_customer_contacts/any())").await,
        ["Fabrikam"]
    );
}

#[tokio::test]
async fn unknown_navigation_gets_the_odata_error_shapes() {
    let h = Harness::start().await;
    let cases = [
        (
            "contacts?$filter=parentcustomerid/name eq 'x'",
            "Could not find a property named 'parentcustomerid' on type 'Microsoft.Dynamics.CRM.contact'.",
        ),
        (
            "contacts?$filter=parentcustomerid_account/nme eq 'x'",
            "Could not find a property named 'nme' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "contacts?$filter=fullname/x eq 'x'",
            "Could not find a property named 'x' on type 'Edm.String'.",
        ),
        (
            "accounts?$filter=contact_customer_accounts/fullname eq 'x'",
            "The parent value for a property access of a property 'fullname' is not a single value. Property access can only be applied to a single value.",
        ),
        (
            "accounts?$filter=primarycontactid/any(c:c/fullname eq 'x')",
            "Any/All may only be used following a collection.",
        ),
        (
            "accounts?$filter=nothing/any()",
            "Could not find a property named 'nothing' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
    ];
    for (path, message) in cases {
        let r = h.get(path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(
            r.json(),
            json!({"error": {"code": "0x80060888", "message": message}}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn parameter_aliases_work_in_filter_and_orderby_but_not_in_expand() {
    let h = Harness::start().await;
    org_with_customers(&h).await;
    let r = h
        .get("accounts?$select=name&$filter=name eq @p1 or name eq @p2&@p1='Contoso'&@p2='Northwind'&$orderby=@p3 desc&@p3=name")
        .await;
    assert_eq!(column(&r, "name"), ["Northwind", "Contoso"]);
    // filter-rows.md: In with both parameters through aliases, a quote inside a JSON string.
    let r = h
        .get("contacts?$select=fullname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=[\"Lee\",\"O'Day\",\"Ray\"]")
        .await;
    assert_eq!(sorted(column(&r, "fullname")), ["Ann Lee", "Cy Ray"]);
    // An alias the request does not define is null.
    let r = h
        .get("contacts?$select=fullname&$filter=jobtitle eq @missing")
        .await;
    assert_eq!(sorted(column(&r, "fullname")), ["Cy Ray", "Di Fox"]);
    // §4: not inside $expand.
    let r = h
        .get("accounts?$select=name&$expand=contact_customer_accounts($filter=fullname eq @p1)&@p1='Ann Lee'")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "0x80060888");
    let message = r.json()["error"]["message"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains("@p1")),
        "{message}"
    );
    // Aliases travel with the next link, so every page applies the same filter.
    let mut url = h.url("contacts?$select=fullname&$filter=jobtitle ne @t&@t='CTO'");
    let mut seen = Vec::new();
    loop {
        let body: Value = h
            .http
            .get(&url)
            .bearer_auth(&h.token)
            .header("Prefer", "odata.maxpagesize=1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for row in body["value"].as_array().unwrap() {
            seen.push(row["fullname"].as_str().unwrap().to_string());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(sorted(seen), ["Ann Lee", "Cy Ray", "Di Fox"]);
}
