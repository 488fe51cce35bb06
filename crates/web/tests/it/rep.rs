//! A rep's routes over HTTP: saved leads and accounts, the directory, notes and messages with
//! Copy to CRM and their writeback, activities, unassigned ones, correcting a match.

use domain::crm::{CompanionApp, CrmAuth, CrmContact, CrmPersonRef};
use domain::ids::{CrmContactId, TenantId};
use domain::matches::{Confidence, MatchOrigin, PersonMatch};
use reqwest::Method;
use serde_json::{Value, json};
use store::crm::{Mirrored, NewConnection};
use uuid::Uuid;

use crate::harness::{TestApp, TestUser, both, problem};

both!(
    saved_leads_and_accounts_with_source_and_in_crm,
    notes_and_messages_start_their_writeback_with_them,
    copy_to_crm_and_text_change_after_the_fact,
    a_match_can_be_seen_pinned_and_rejected,
);

/// People p1..p3 and company c1, imported by an admin; returns their ids.
pub async fn directory(app: &TestApp, admin: &TestUser) -> (Vec<String>, String) {
    let r = app
        .post_json(
            "/api/v1/admin/directory/companies",
            Some(&admin.token),
            json!([{"external_id": "c1", "name": "Contoso Ltd", "size": "51-200"}]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post_json(
            "/api/v1/admin/directory/people",
            Some(&admin.token),
            json!([
                {"external_id": "p1", "full_name": "Zoë Ødegård", "company_external_id": "c1", "email": "zoe@contoso.com"},
                {"external_id": "p2", "full_name": "李雷", "title": "CTO"},
                {"external_id": "p3", "full_name": "Ana Silva"}
            ]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = app
        .get("/api/v1/people?q=%C3%B8deg", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["full_name"], "Zoë Ødegård");
    let mut people = Vec::new();
    for external in ["p1", "p2", "p3"] {
        let record = app
            .store
            .tenant(admin.tenant)
            .person_by_external_id(external)
            .await
            .unwrap()
            .unwrap();
        people.push(record.person.id.to_string());
    }
    let company = app
        .store
        .tenant(admin.tenant)
        .company_by_external_id("c1")
        .await
        .unwrap()
        .unwrap()
        .company
        .id
        .to_string();
    (people, company)
}

async fn connect_with_contact(app: &TestApp, tenant: TenantId, contact: u128) -> CrmContactId {
    let mut t = app.store.tenant(tenant);
    let connection = t
        .create_connection(NewConnection {
            org_url: "https://contoso.crm4.dynamics.com".into(),
            auth: CrmAuth::SignedInAdmin {
                admin_user_name: "admin@contoso.com".into(),
            },
            authority_url: None,
            connected_as: None,
            companion_app: CompanionApp::Installed {
                version: "1.0.0.0".into(),
            },
            can_act_on_behalf_of_reps: true,
        })
        .await
        .unwrap()
        .connection
        .id;
    let id = CrmContactId(Uuid::from_u128(contact));
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: CrmContact {
                id,
                full_name: "Zoe Odegard".into(),
                job_title: Some("Buyer".into()),
                email: Some("zoe@contoso.com".into()),
                phone: None,
                location: None,
                account: None,
            },
            raw: json!({"contactid": id.0}),
        }],
    )
    .await
    .unwrap();
    id
}

async fn saved_leads_and_accounts_with_source_and_in_crm(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let (people, company) = directory(&app, &admin).await;
    let rep = app.rep(t, "rep@contoso.com").await;

    let detail: Value = app
        .get(&format!("/api/v1/people/{}", people[0]), &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["company"]["name"], "Contoso Ltd");
    assert_eq!(detail["saved"], false);
    assert_eq!(detail["in_crm"], false);

    for person in &people[..2] {
        let r = app
            .post_json(
                "/api/v1/me/leads",
                Some(&rep.token),
                json!({"person_id": person}),
            )
            .await;
        assert_eq!(r.status(), 204);
    }
    let r = app
        .post_json(
            "/api/v1/me/accounts",
            Some(&rep.token),
            json!({"company_id": company}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = app
        .post_json(
            "/api/v1/me/leads",
            Some(&rep.token),
            json!({"person_id": Uuid::new_v4()}),
        )
        .await;
    problem(r, 404, "not_found").await;

    // Matched to a CRM contact: the In CRM badge and the record.
    let contact = connect_with_contact(&app, t, 11).await;
    app.store
        .tenant(t)
        .upsert_person_matches(&[PersonMatch {
            person: Uuid::parse_str(&people[0]).unwrap().into(),
            crm: CrmPersonRef::Contact(contact),
            confidence: Confidence::new(97),
            origin: MatchOrigin::Exact,
            explanation: "Same email address.".into(),
        }])
        .await
        .unwrap();

    let leads: Value = app
        .get("/api/v1/me/leads", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    let items = leads["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let zoe = items
        .iter()
        .find(|l| l["person"]["id"] == people[0].as_str())
        .unwrap();
    assert_eq!(zoe["source"], "manual");
    assert_eq!(zoe["in_crm"], true);
    assert_eq!(zoe["crm_records"][0]["crm_table"], "contact");
    assert_eq!(zoe["crm_records"][0]["confidence"], 97);
    let li = items
        .iter()
        .find(|l| l["person"]["id"] == people[1].as_str())
        .unwrap();
    assert_eq!(li["in_crm"], false);
    assert_eq!(li["person"]["full_name"], "李雷");

    let accounts: Value = app
        .get("/api/v1/me/accounts", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["items"][0]["company"]["size"], "51-200");

    // Another rep's lists are their own.
    let other = app.rep(t, "other@contoso.com").await;
    let leads: Value = app
        .get("/api/v1/me/leads", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(leads["items"].as_array().unwrap().is_empty());
    let r = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/me/leads/{}", people[0]),
            Some(&other.token),
            json!(null),
        )
        .await;
    problem(r, 404, "not_found").await;

    let r = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/me/leads/{}", people[0]),
            Some(&rep.token),
            json!(null),
        )
        .await;
    assert_eq!(r.status(), 204);
    let leads: Value = app
        .get("/api/v1/me/leads?limit=1", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1);
    assert!(leads.get("next_cursor").is_none());

    // An admin without a seat has no leads to list.
    let r = app.get("/api/v1/me/leads", &admin.token).await;
    let p = problem(r, 403, "forbidden").await;
    assert_eq!(p["detail"], "This needs a seat.");
}

async fn notes_and_messages_start_their_writeback_with_them(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let (people, _) = directory(&app, &admin).await;
    let rep = app.rep(t, "rep@contoso.com").await;
    let notes = format!("/api/v1/people/{}/notes", people[0]);

    let r = app
        .post_json(
            &notes,
            Some(&rep.token),
            json!({"text": "Met at the fair — 東京 🎌", "copy_to_crm": true}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let note: Value = r.json().await.unwrap();
    assert_eq!(note["kind"], "note");
    assert_eq!(note["body"], "Met at the fair — 東京 🎌");
    assert_eq!(note["copied_to_crm"], true);
    assert_eq!(note["writeback"]["state"], "pending");
    assert_eq!(note["writeback"]["timeline"].as_array().unwrap().len(), 1);
    let jobs = app.store.tenant(t).jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "the writeback job went with the note");
    assert_eq!(jobs[0].kind, "writeback");

    // Unticked: no writeback, and the rep's default is remembered for the next one.
    let r = app
        .post_json(
            &notes,
            Some(&rep.token),
            json!({"text": "private", "copy_to_crm": false}),
        )
        .await;
    let note: Value = r.json().await.unwrap();
    assert!(note["writeback"].is_null());
    let r = app
        .post_json(&notes, Some(&rep.token), json!({"text": "default now off"}))
        .await;
    let note: Value = r.json().await.unwrap();
    assert_eq!(note["copy_to_crm"], false);
    assert_eq!(app.store.tenant(t).jobs(None, 10).await.unwrap().len(), 1);

    for (body, status, code) in [
        (json!({"text": "   "}), 422, "validation_failed"),
        (
            json!({"text": "x".repeat(100_001)}),
            422,
            "validation_failed",
        ),
        (json!({"text": 5}), 422, "invalid_body"),
        (json!({"text": "a", "copy": true}), 422, "invalid_body"),
    ] {
        problem(
            app.post_json(&notes, Some(&rep.token), body).await,
            status,
            code,
        )
        .await;
    }
    let r = app
        .post_json(
            &format!("/api/v1/people/{}/notes", Uuid::new_v4()),
            Some(&rep.token),
            json!({"text": "who?"}),
        )
        .await;
    problem(r, 404, "not_found").await;

    let messages = format!("/api/v1/people/{}/messages", people[0]);
    let r = app
        .post_json(
            &messages,
            Some(&rep.token),
            json!({"kind": "inmail", "subject": "Quick question", "body": "Hi Zoë", "copy_to_crm": true}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["kind"], "inmail");
    assert_eq!(first["subject"], "Quick question");
    assert_eq!(first["copied_to_crm"], true);
    assert!(first["copy_to_crm"].is_null(), "left to the thread");
    let thread = first["thread_id"].as_str().unwrap().to_owned();

    let r = app
        .post_json(
            &messages,
            Some(&rep.token),
            json!({"kind": "inmail", "body": "Following up", "thread_id": thread}),
        )
        .await;
    let reply: Value = r.json().await.unwrap();
    assert_eq!(reply["subject"], "Quick question");
    assert_eq!(reply["copied_to_crm"], true);
    assert_eq!(reply["writeback"]["state"], "pending");

    let r = app
        .post_json(
            &messages,
            Some(&rep.token),
            json!({"kind": "inmail", "subject": "New?", "body": "x", "thread_id": thread}),
        )
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["path"], "subject");
    let r = app
        .post_json(
            &format!("/api/v1/people/{}/messages", people[1]),
            Some(&rep.token),
            json!({"kind": "message", "body": "x", "thread_id": thread}),
        )
        .await;
    problem(r, 422, "validation_failed").await;
    let other = app.rep(t, "other@contoso.com").await;
    let r = app
        .post_json(
            &messages,
            Some(&other.token),
            json!({"kind": "message", "body": "x", "thread_id": thread}),
        )
        .await;
    problem(r, 404, "not_found").await;
    let r = app
        .post_json(
            &messages,
            Some(&rep.token),
            json!({"kind": "email", "body": "x"}),
        )
        .await;
    problem(r, 422, "invalid_body").await;

    let mine: Value = app
        .get("/api/v1/me/activities?limit=2", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let cursor = mine["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(
            &format!("/api/v1/me/activities?cursor={cursor}"),
            &rep.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    let theirs: Value = app
        .get("/api/v1/me/activities", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty());
}

async fn copy_to_crm_and_text_change_after_the_fact(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let (people, _) = directory(&app, &admin).await;
    let rep = app.rep(t, "rep@contoso.com").await;
    let other = app.rep(t, "other@contoso.com").await;
    let note: Value = app
        .post_json(
            &format!("/api/v1/people/{}/notes", people[2]),
            Some(&rep.token),
            json!({"text": "first", "copy_to_crm": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/activities/{}", note["id"].as_str().unwrap());

    let r = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&other.token),
            json!({"body": "hijacked"}),
        )
        .await;
    problem(r, 404, "not_found").await;
    problem(
        app.send_json(Method::PATCH, &path, Some(&rep.token), json!({}))
            .await,
        422,
        "validation_failed",
    )
    .await;

    let r = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&rep.token),
            json!({"copy_to_crm": false, "body": "second"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["body"], "second");
    assert_eq!(updated["copied_to_crm"], false);
    assert_eq!(updated["writeback"]["state"], "dropped");
    let events: Vec<&str> = updated["writeback"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(events, ["edited", "copy_unticked"]);

    // Not unassigned: nothing to resolve; a link needs its record.
    let resolve = format!("{path}/resolve");
    let r = app
        .post_json(
            &resolve,
            Some(&rep.token),
            json!({"action": "create_contact"}),
        )
        .await;
    problem(r, 409, "conflict").await;
    let r = app
        .post_json(&resolve, Some(&rep.token), json!({"action": "link"}))
        .await;
    problem(r, 422, "validation_failed").await;
    let r = app
        .post_json(
            &resolve,
            Some(&other.token),
            json!({"action": "create_lead"}),
        )
        .await;
    problem(r, 404, "not_found").await;
    let unassigned: Value = app
        .get("/api/v1/me/unassigned", &rep.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(unassigned["items"].as_array().unwrap().is_empty());
}

async fn a_match_can_be_seen_pinned_and_rejected(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let (people, _) = directory(&app, &admin).await;
    let rep = app.rep(t, "rep@contoso.com").await;
    let path = format!("/api/v1/people/{}/match", people[0]);

    let none: Value = app.get(&path, &rep.token).await.json().await.unwrap();
    assert!(none["matches"].as_array().unwrap().is_empty());
    let pin = json!({"crm_table": "contact", "crm_id": Uuid::from_u128(11)});
    let r = app
        .send_json(Method::PUT, &path, Some(&rep.token), pin.clone())
        .await;
    problem(r, 409, "not_connected").await;

    connect_with_contact(&app, t, 11).await;
    let r = app
        .send_json(
            Method::PUT,
            &path,
            Some(&rep.token),
            json!({"crm_table": "contact", "crm_id": Uuid::from_u128(12)}),
        )
        .await;
    problem(r, 422, "validation_failed").await;
    let r = app
        .send_json(Method::PUT, &path, Some(&rep.token), pin)
        .await;
    assert_eq!(r.status(), 200);
    let pinned: Value = r.json().await.unwrap();
    assert_eq!(pinned["matches"][0]["origin"], "by_rep");
    assert_eq!(pinned["matches"][0]["confidence"], 100);
    assert_eq!(
        pinned["matches"][0]["crm_record"]["full_name"],
        "Zoe Odegard"
    );

    let r = app
        .send_json(Method::DELETE, &path, Some(&rep.token), json!(null))
        .await;
    assert_eq!(r.status(), 200);
    let rejected: Value = r.json().await.unwrap();
    assert!(rejected["matches"].as_array().unwrap().is_empty());
    assert_eq!(
        rejected["rejected"][0]["crm_id"],
        Uuid::from_u128(11).to_string()
    );
}
