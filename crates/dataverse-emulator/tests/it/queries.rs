//! §4 and §5: paging with opaque skip tokens, query functions, and change tracking with deltas
//! and deletes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn maxpagesize_pages_follow_next_link_and_see_every_row_once() {
    let h = Harness::start().await;
    for i in 0..23 {
        h.create("accounts", json!({"name": format!("Account {i:02}")}))
            .await;
    }
    let mut seen = std::collections::HashSet::new();
    let mut url = h.url("accounts?$select=name");
    let mut pages = 0;
    loop {
        let r = h
            .http
            .get(&url)
            .bearer_auth(&h.token)
            .header("Prefer", "odata.maxpagesize=5")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().get("preference-applied").unwrap(),
            "odata.maxpagesize=5"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        for row in body["value"].as_array().unwrap() {
            assert!(
                seen.insert(row["accountid"].as_str().unwrap().to_string()),
                "a row came twice"
            );
        }
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("$skiptoken="));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (23, 5));
    // $top gives no next link.
    let r = h
        .call(
            Method::GET,
            "accounts?$select=name&$top=3",
            None,
            &[("Prefer", "odata.maxpagesize=2")],
        )
        .await
        .json();
    assert_eq!(r["value"].as_array().unwrap().len(), 3);
    assert!(r.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn change_tracking_returns_changes_then_deletes_and_expires() {
    let h = Harness::start().await;
    let a = h.create("accounts", json!({"name": "A"})).await;
    let b = h.create("accounts", json!({"name": "B"})).await;
    let r = h
        .call(
            Method::GET,
            "accounts?$select=name",
            None,
            &[("Prefer", "odata.track-changes")],
        )
        .await;
    assert_eq!(
        r.header("preference-applied").as_deref(),
        Some("odata.track-changes")
    );
    let body = r.json();
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    let delta = body["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(delta.contains("$deltatoken="));

    h.call(
        Method::PATCH,
        &format!("accounts({a})"),
        Some(json!({"name": "A2"})),
        &[("If-Match", "*")],
    )
    .await;
    h.call(Method::DELETE, &format!("accounts({b})"), None, &[])
        .await;
    let c = h.create("accounts", json!({"name": "C"})).await;
    let body: serde_json::Value = h
        .http
        .get(&delta)
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = body["value"].as_array().unwrap();
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/$delta")
    );
    assert_eq!(rows.len(), 3, "{body}");
    assert_eq!(rows[0]["accountid"], json!(a));
    assert_eq!(rows[0]["name"], "A2");
    assert_eq!(rows[1]["accountid"], json!(c));
    assert_eq!(rows[2]["id"], json!(b));
    assert_eq!(rows[2]["reason"], "deleted");
    assert!(
        rows[2]["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#accounts/$deletedEntity")
    );

    // Nothing changed since: an empty delta.
    let next = body["@odata.deltaLink"].as_str().unwrap().to_string();
    let empty: serde_json::Value = h
        .http
        .get(&next)
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty["value"].as_array().unwrap().len(), 0);

    // Older than the organization's expirechangetrackingindays (7 by default).
    h.admin(Method::POST, "clock", json!({"advance_seconds": 8 * 86400}))
        .await;
    let token = h
        .app_token(&h.emu.info.client_id.to_string(), &h.emu.info.client_secret)
        .await;
    let r = h.http.get(&next).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "0x80044352");

    // Options tracked queries cannot take.
    let r = h
        .call_as(
            &token,
            Method::GET,
            "accounts?$select=name&$top=1",
            None,
            &[("Prefer", "odata.track-changes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"$top\" query parameter isn't supported")
    );
}

#[tokio::test]
async fn entity_definitions_resolve_entity_sets_and_toggle_tracking() {
    let h = Harness::start().await;
    let r = h.get("EntityDefinitions(LogicalName='contact')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["EntitySetName"], "contacts");
    assert_eq!(body["PrimaryIdAttribute"], "contactid");
    let attrs = h
        .get("EntityDefinitions(LogicalName='task')/Attributes")
        .await
        .json();
    let subject = attrs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["LogicalName"] == "subject")
        .unwrap()
        .clone();
    assert_eq!(subject["MaxLength"], 200);
    let meta = h.get("$metadata").await;
    assert!(meta.text.contains("<EntitySet Name=\"accounts\""));
}

#[tokio::test]
async fn track_changes_on_an_untracked_table_is_refused_until_tracking_is_on() {
    let h = Harness::start().await;
    let track = [("Prefer", "odata.track-changes")];
    let r = h
        .call(Method::GET, "roles?$select=name", None, &track)
        .await;
    // §5 gap 1: the shape is Dataverse's ChangeTrackingNotEnabledForEntity; the status is a guess.
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"error": {"code": "0x80072491", "message": "Entity role isn't enabled for change tracking."}})
    );
    assert!(r.header("preference-applied").is_none());
    let r = h
        .call(
            Method::PUT,
            "EntityDefinitions(LogicalName='role')",
            Some(json!({"ChangeTrackingEnabled": true})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = h
        .call(Method::GET, "roles?$select=name", None, &track)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json()["@odata.deltaLink"].is_string());
}

#[tokio::test]
async fn query_functions_in_dates_and_ids_and_not_is_refused() {
    let h = Harness::start().await;
    for name in ["Alpha", "Beta", "Gamma"] {
        h.create("accounts", json!({"name": name})).await;
    }
    let names = |filter: String| {
        let h = &h;
        async move {
            let r = h
                .get(&format!(
                    "accounts?$select=name&$orderby=name&$filter={filter}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
            r.json()["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    // §4: In with a JSON string array.
    assert_eq!(
        names(
            r#"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["alpha","GAMMA"])"#
                .into()
        )
        .await,
        ["Alpha", "Gamma"]
    );
    assert_eq!(
        names(
            r#"Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=["alpha"])"#.into()
        )
        .await,
        ["Beta", "Gamma"]
    );
    // The application user sits in the root business unit, where these accounts were created.
    assert_eq!(
        names("Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='owningbusinessunit')".into())
            .await,
        ["Alpha", "Beta", "Gamma"]
    );
    assert_eq!(
        names("Microsoft.Dynamics.CRM.LastXHours(PropertyName='createdon',PropertyValue=1)".into())
            .await,
        ["Alpha", "Beta", "Gamma"]
    );
    // Two days later they are older than a day and no longer created in the last hour.
    let r = h
        .admin(
            Method::POST,
            "clock",
            json!({"advance_seconds": 2 * 86_400}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = h
        .app_token(&h.emu.info.client_id.to_string(), &h.emu.info.client_secret)
        .await;
    let r = h
        .call_as(
            &token,
            Method::GET,
            "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.OlderThanXDays(PropertyName='createdon',PropertyValue=1)",
            None,
            &[],
        )
        .await;
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 3, "{}", r.text);
    let r = h
        .call_as(
            &token,
            Method::GET,
            "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.LastXHours(PropertyName='createdon',PropertyValue=1)",
            None,
            &[],
        )
        .await;
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 0, "{}", r.text);
    // §4: `not` cannot wrap a query function.
    let r = h
        .call_as(
            &token,
            Method::GET,
            r#"accounts?$filter=not Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["Alpha"])"#,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"error": {"code": "0x80060888", "message": "The 'not' operator cannot be applied to the query function 'Microsoft.Dynamics.CRM.In'; use its negated form instead."}})
    );
}
