//! Admin directory imports over HTTP: the three formats, upsert by external id, all-or-nothing
//! with per-record errors, limits and media types.

use serde_json::{Value, json};
use web::WebConfig;

use crate::harness::{TestApp, both, problem};

both!(
    imports_upsert_by_external_id_in_every_format,
    one_bad_record_stores_nothing
);

async fn imports_upsert_by_external_id_in_every_format(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;

    let csv =
        "external_id,name,domain,size\nc1,Contoso Ltd,contoso.com,51-200\nc2,\"Fabrikam, Inc\",,\n";
    let r = app
        .post_body(
            "/api/v1/admin/directory/companies",
            &admin.token,
            "text/csv",
            csv,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["upserted"], 2);

    let ndjson = "{\"external_id\":\"p1\",\"full_name\":\"Zoë Ødegård\",\"company_external_id\":\"c1\"}\n\
                  {\"external_id\":\"p2\",\"full_name\":\"李雷\",\"title\":\"CTO 🚀\"}\n";
    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "application/x-ndjson",
            ndjson,
        )
        .await;
    assert_eq!(r.status(), 200);

    // The same external id again updates; a new one adds.
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&admin.token),
            json!([
                {"external_id": "p2", "full_name": "李雷", "title": "CEO"},
                {"external_id": "p3", "full_name": "Ana Silva", "email": "ana@example.pt",
                 "past_companies": "Northwind Traders; Tailspin Toys;;"}
            ]),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["upserted"], 2);

    let mut tenant = app.store.tenant(t);
    assert_eq!(tenant.count_people().await.unwrap(), 3);
    let zoe = tenant.person_by_external_id("p1").await.unwrap().unwrap();
    assert_eq!(zoe.person.full_name, "Zoë Ødegård");
    let contoso = tenant.company_by_external_id("c1").await.unwrap().unwrap();
    assert_eq!(zoe.person.company, Some(contoso.company.id));
    assert_eq!(contoso.company.domain.as_deref(), Some("contoso.com"));
    let li = tenant.person_by_external_id("p2").await.unwrap().unwrap();
    assert_eq!(li.person.title.as_deref(), Some("CEO"));
    let ana = tenant.person_by_external_id("p3").await.unwrap().unwrap();
    assert_eq!(
        ana.person.past_companies,
        ["Northwind Traders", "Tailspin Toys"]
    );
    let fabrikam = tenant.company_by_external_id("c2").await.unwrap().unwrap();
    assert_eq!(fabrikam.company.name, "Fabrikam, Inc");

    // Another tenant's companies are not there to link to.
    let other = app.tenant("Northwind", 1).await;
    let other_admin = app.admin(other, "admin@northwind.com").await;
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&other_admin.token),
            json!([{"external_id": "x1", "full_name": "Eve", "company_external_id": "c1"}]),
        )
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["path"], "[0].company_external_id");
    assert_eq!(app.store.tenant(other).count_people().await.unwrap(), 0);
}

async fn one_bad_record_stores_nothing(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let ndjson = "{\"external_id\":\"p1\",\"full_name\":\"Ana\"}\n\
                  \n\
                  {\"external_id\":\"p2\",\"full_name\":\"   \"}\n\
                  {\"external_id\":\"p3\",\"full_name\":\"Bo\",\"email\":42}\n\
                  {\"external_id\":\"p4\",\"full_name\":\"Cy\"\n";
    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "application/x-ndjson; charset=utf-8",
            ndjson,
        )
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("3 record(s) have errors")
    );
    let errors: Vec<(String, u64)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("[1].full_name".to_owned(), 3),
            ("[2].email".to_owned(), 4),
            ("[3]".to_owned(), 5)
        ]
    );
    assert_eq!(app.store.tenant(t).count_people().await.unwrap(), 0);

    let csv = "external_id,full_name,nickname\np1,Ana,A\n";
    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "text/csv",
            csv,
        )
        .await;
    let p = problem(r, 422, "invalid_body").await;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nickname")
    );

    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "text/plain",
            "p1,Ana",
        )
        .await;
    problem(r, 415, "unsupported_media_type").await;
    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "application/json",
            "[{\"external_id\":\"p1\",",
        )
        .await;
    problem(r, 400, "malformed_json").await;
    let r = app
        .post_body(
            "/api/v1/admin/directory/people",
            &admin.token,
            "application/json",
            vec![0xff, 0xfe, b'['],
        )
        .await;
    problem(r, 400, "malformed_json").await;
    assert_eq!(app.store.tenant(t).count_people().await.unwrap(), 0);

    let rep = app.rep(t, "rep@contoso.com").await;
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&rep.token),
            json!([{"external_id": "p1", "full_name": "Ana"}]),
        )
        .await;
    problem(r, 403, "forbidden").await;
    assert_eq!(app.store.tenant(t).count_people().await.unwrap(), 0);
}

#[tokio::test]
async fn an_import_over_the_limit_is_refused_whole() {
    let app = TestApp::sqlite_with(WebConfig {
        import_body_limit: 4096,
        ..WebConfig::default()
    })
    .await;
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let people: Vec<Value> = (0..200)
        .map(|i| json!({"external_id": format!("p{i}"), "full_name": format!("Person {i}")}))
        .collect();
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&admin.token),
            json!(people),
        )
        .await;
    problem(r, 413, "payload_too_large").await;
    assert_eq!(app.store.tenant(t).count_people().await.unwrap(), 0);
    // Within the limit it goes through.
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&admin.token),
            json!(people[..20]),
        )
        .await;
    assert_eq!(r.status(), 200);
}
