//! Who may reach what, checked over the whole API: every admin route refuses a rep, every route
//! but sign-in refuses an anonymous caller, one tenant never reaches another's rows even by
//! guessing ids, and bad input is a clear 4xx problem that writes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestApp, both, problem};
use crate::rep::directory;

both!(
    every_admin_route_refuses_a_rep,
    one_tenant_never_reaches_another,
    bad_input_is_a_clear_4xx_and_writes_nothing,
);

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation of the served document: (method, path template, operation).
async fn operations(app: &TestApp) -> Vec<(Method, String, Value)> {
    let doc: Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path.clone(),
                    op.clone(),
                ));
            }
        }
    }
    out
}

/// The template with every `{param}` replaced by `value`.
fn fill(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_public(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|s| {
        s.iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
    })
}

async fn every_admin_route_refuses_a_rep(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let rep = app.rep(t, "rep@contoso.com").await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let mut admin_routes = 0;
    for (method, template, _) in operations(&app).await {
        if !template.starts_with("/api/v1/admin") {
            continue;
        }
        admin_routes += 1;
        let path = fill(&template, &Uuid::new_v4().to_string());
        // A body that would pass nowhere: the role is checked before the body is read.
        let r = app
            .send_json(method.clone(), &path, Some(&rep.token), json!({}))
            .await;
        let p = problem(r, 403, "forbidden").await;
        assert_eq!(
            p["detail"], "Only an admin of this workspace can do this.",
            "{method} {template}"
        );
        // The same request as an admin gets past the role check.
        let r = app
            .send_json(method.clone(), &path, Some(&admin.token), json!({}))
            .await;
        assert_ne!(r.status(), 403, "{method} {template} as an admin");
    }
    assert!(
        admin_routes >= 16,
        "only {admin_routes} admin routes in the document"
    );
}

#[tokio::test]
async fn every_route_but_sign_in_needs_credentials() {
    let app = TestApp::sqlite().await;
    let mut public = Vec::new();
    for (method, template, op) in operations(&app).await {
        let path = fill(&template, &Uuid::new_v4().to_string());
        if is_public(&op) {
            public.push(format!("{method} {template}"));
            continue;
        }
        let r = app
            .http
            .request(method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        problem(r, 401, "unauthenticated").await;
    }
    assert_eq!(
        public,
        [
            "POST /api/v1/auth/session",
            "POST /api/v1/auth/token",
            "GET /api/v1/health"
        ]
    );
}

async fn one_tenant_never_reaches_another(app: TestApp) {
    // Tenant A with a directory, a rep's saved lead, note and message thread.
    let a = app.tenant("Contoso", 3).await;
    let a_admin = app.admin(a, "admin@contoso.com").await;
    let (people, company) = directory(&app, &a_admin).await;
    let a_rep = app.rep(a, "rep@contoso.com").await;
    let a_seat = a_rep.seat.unwrap().to_string();
    let person = &people[0];
    app.post_json(
        "/api/v1/me/leads",
        Some(&a_rep.token),
        json!({"person_id": person}),
    )
    .await;
    app.post_json(
        "/api/v1/me/accounts",
        Some(&a_rep.token),
        json!({"company_id": company}),
    )
    .await;
    let note: Value = app
        .post_json(
            &format!("/api/v1/people/{person}/notes"),
            Some(&a_rep.token),
            json!({"text": "A's note", "copy_to_crm": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let activity = note["id"].as_str().unwrap().to_owned();
    let message: Value = app
        .post_json(
            &format!("/api/v1/people/{person}/messages"),
            Some(&a_rep.token),
            json!({"kind": "message", "body": "A's message"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let thread = message["thread_id"].as_str().unwrap().to_owned();
    let tokens: Value = app
        .get("/api/v1/me/tokens", &a_rep.token)
        .await
        .json()
        .await
        .unwrap();
    let token_id = tokens[0]["id"].as_str().unwrap().to_owned();

    // Tenant B: an admin who also holds a seat, so no role check stands in the way.
    let b = app.tenant("Northwind", 3).await;
    let b_user = app.user(b, "boss@northwind.com", true, true).await;
    let (b_people, _) = directory(&app, &b_user).await;

    let cases: Vec<(Method, &str, String, Value)> = vec![
        (
            Method::GET,
            "/api/v1/people/{id}",
            person.clone(),
            json!(null),
        ),
        (
            Method::GET,
            "/api/v1/companies/{id}",
            company.clone(),
            json!(null),
        ),
        (
            Method::POST,
            "/api/v1/people/{id}/notes",
            person.clone(),
            json!({"text": "B was here"}),
        ),
        (
            Method::POST,
            "/api/v1/people/{id}/messages",
            person.clone(),
            json!({"kind": "message", "body": "B was here"}),
        ),
        (
            Method::GET,
            "/api/v1/people/{id}/match",
            person.clone(),
            json!(null),
        ),
        (
            Method::PUT,
            "/api/v1/people/{id}/match",
            person.clone(),
            json!({"crm_table": "contact", "crm_id": Uuid::new_v4()}),
        ),
        (
            Method::DELETE,
            "/api/v1/people/{id}/match",
            person.clone(),
            json!(null),
        ),
        (
            Method::DELETE,
            "/api/v1/me/leads/{person_id}",
            person.clone(),
            json!(null),
        ),
        (
            Method::DELETE,
            "/api/v1/me/accounts/{company_id}",
            company.clone(),
            json!(null),
        ),
        (
            Method::PATCH,
            "/api/v1/activities/{id}",
            activity.clone(),
            json!({"copy_to_crm": false}),
        ),
        (
            Method::POST,
            "/api/v1/activities/{id}/resolve",
            activity.clone(),
            json!({"action": "create_contact"}),
        ),
        (
            Method::PATCH,
            "/api/v1/admin/seats/{id}",
            a_seat.clone(),
            json!({"crm_sync": "enabled"}),
        ),
        (
            Method::DELETE,
            "/api/v1/me/tokens/{id}",
            token_id.clone(),
            json!(null),
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (method, template, id, body) in &cases {
        covered.insert(format!("{method} {template}"));
        let r = app
            .send_json(
                method.clone(),
                &fill(template, id),
                Some(&b_user.token),
                body.clone(),
            )
            .await;
        problem(r, 404, "not_found").await;
    }
    // Saving A's records, or replying in A's thread from B's own person, finds nothing either.
    for (path, body) in [
        ("/api/v1/me/leads".to_owned(), json!({"person_id": person})),
        (
            "/api/v1/me/accounts".to_owned(),
            json!({"company_id": company}),
        ),
        (
            format!("/api/v1/people/{}/messages", b_people[0]),
            json!({"kind": "message", "body": "x", "thread_id": thread}),
        ),
    ] {
        let r = app.post_json(&path, Some(&b_user.token), body).await;
        problem(r, 404, "not_found").await;
    }
    // No route with an id in its path is left out of the cases above.
    for (method, template, _) in operations(&app).await {
        if template.contains('{') && !template.contains("/crm/") {
            assert!(
                covered.contains(&format!("{method} {template}")),
                "{method} {template} is not checked across tenants"
            );
        }
    }

    // B's lists hold none of A's rows.
    for (path, len) in [
        ("/api/v1/me/leads", 0),
        ("/api/v1/me/accounts", 0),
        ("/api/v1/me/activities", 0),
        ("/api/v1/me/unassigned", 0),
        ("/api/v1/admin/seats", 1),
        ("/api/v1/people", 3),
        ("/api/v1/people?q=a", 1),
        ("/api/v1/companies", 1),
    ] {
        let page: Value = app.get(path, &b_user.token).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), len, "{path}: {page}");
        assert!(!page.to_string().contains(person.as_str()), "{path}");
    }

    // And A's rows are as they were.
    let leads: Value = app
        .get("/api/v1/me/leads", &a_rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1);
    let mine: Value = app
        .get("/api/v1/me/activities", &a_rep.token)
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.contains(&"A's note") && bodies.contains(&"A's message"));
    let note = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == activity.as_str())
        .unwrap();
    assert_eq!(note["copied_to_crm"], true);
    let seats: Value = app
        .get("/api/v1/admin/seats", &a_admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seats["items"][0]["crm_sync"], "follow_tenant");
    assert_eq!(app.get("/api/v1/me", &a_rep.token).await.status(), 200);
}

async fn bad_input_is_a_clear_4xx_and_writes_nothing(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let (people, _) = directory(&app, &admin).await;
    let rep = app.rep(t, "rep@contoso.com").await;
    let notes = format!("/api/v1/people/{}/notes", people[0]);
    let raw = |path: &str, content_type: &'static str, body: Vec<u8>, token: &str| {
        app.http
            .post(app.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, &'static str, Vec<u8>, u16, &str)> = vec![
        (
            "empty",
            "application/json",
            b"".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "truncated",
            "application/json",
            br#"{"text": "a"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "trailing",
            "application/json",
            br#"{"text": "a"} {}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "not utf-8",
            "application/json",
            b"{\"text\": \"\xff\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "array",
            "application/json",
            br#"["text"]"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            "wrong type",
            "application/json",
            br#"{"text": ["a"]}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            "null",
            "application/json",
            br#"{"text": null}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            "unknown field",
            "application/json",
            br#"{"text": "a", "pinned": true}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            "nul",
            "application/json",
            br#"{"text": "a\u0000b"}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            "form",
            "application/x-www-form-urlencoded",
            b"text=a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "oversized",
            "application/json",
            format!(r#"{{"text": "{}"}}"#, "a".repeat(300 * 1024)).into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "deep",
            "application/json",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            422,
            "invalid_body",
        ),
    ];
    for (name, content_type, body, status, code) in cases {
        let r = raw(&notes, content_type, body, &rep.token).await.unwrap();
        assert_eq!(r.status(), status, "{name}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], code, "{name}: {p}");
    }
    // Deep nesting where any JSON value is read stops at serde_json's depth limit.
    let deep = format!("[{}{}]", "[".repeat(10_000), "]".repeat(10_000));
    let r = raw(
        "/api/v1/admin/directory/people",
        "application/json",
        deep.into_bytes(),
        &admin.token,
    )
    .await
    .unwrap();
    problem(r, 400, "malformed_json").await;
    let r = app.get("/api/v1/people?q=%00", &rep.token).await;
    problem(r, 400, "invalid_query").await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "cursor=nope",
        "sort=name",
    ] {
        let r = app
            .get(&format!("/api/v1/me/leads?{query}"), &rep.token)
            .await;
        problem(r, 400, "invalid_query").await;
    }
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&admin.token),
            json!([{"external_id": "p9", "full_name": "x".repeat(301)}]),
        )
        .await;
    problem(r, 422, "validation_failed").await;
    let mine: Value = app
        .get("/api/v1/me/activities", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        mine["items"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
    assert_eq!(app.store.tenant(t).count_people().await.unwrap(), 3);

    // Text the world writes goes through as it is.
    for text in [
        "Ünïcödé ✓ — «guillemets» „Anführung“",
        "مرحبا بالعالم",
        "👩🏽‍💻 e\u{301} \u{200d} 𝕏",
        "line one\nline two\ttab",
    ] {
        let r = app
            .post_json(
                &notes,
                Some(&rep.token),
                json!({"text": text, "copy_to_crm": false}),
            )
            .await;
        assert_eq!(r.status(), 201, "{text}");
        let note: Value = r.json().await.unwrap();
        assert_eq!(note["body"], text);
    }
}
