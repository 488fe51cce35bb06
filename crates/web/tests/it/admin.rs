//! Admin routes over HTTP: Seat Management with the In CRM badge, CRM users and assigning seats
//! from them, the CRM connection's state, connect validation, settings, disconnect with purge.

use domain::crm::{CompanionApp, CrmAuth, CrmUser};
use domain::ids::{CrmConnectionId, CrmUserId, TenantId};
use reqwest::Method;
use serde_json::{Value, json};
use store::crm::{Mirrored, NewConnection};
use uuid::Uuid;

use crate::harness::{TestApp, both, problem};

both!(
    seats_show_sync_and_the_in_crm_badge_with_reasons,
    assigning_seats_from_crm_stays_within_the_contract,
    crm_settings_are_validated_and_stored,
    connect_disconnect_and_the_engine_backed_routes,
);

async fn connect_in_store(app: &TestApp, tenant: TenantId) -> CrmConnectionId {
    app.store
        .tenant(tenant)
        .create_connection(NewConnection {
            org_url: "https://contoso.crm4.dynamics.com".into(),
            auth: CrmAuth::ApplicationUser {
                entra_tenant: "contoso.onmicrosoft.com".into(),
                client_id: "8d4f9a3e-5b1c-4f8e-9a2b-1c3d5e7f9a0b".into(),
            },
            authority_url: None,
            connected_as: Some("leadbridge integration".into()),
            companion_app: CompanionApp::Missing,
            can_act_on_behalf_of_reps: false,
        })
        .await
        .unwrap()
        .connection
        .id
}

fn crm_user(n: u128, name: &str, email: Option<&str>, disabled: bool) -> Mirrored<CrmUser> {
    Mirrored {
        row: CrmUser {
            id: CrmUserId(Uuid::from_u128(n)),
            full_name: name.into(),
            email: email.map(str::to_owned),
            disabled,
            application_user: false,
        },
        raw: json!({"systemuserid": Uuid::from_u128(n)}),
    }
}

async fn mirror_users(app: &TestApp, tenant: TenantId, connection: CrmConnectionId) {
    let mut app_user = crm_user(9, "# leadbridge", Some("svc@contoso.com"), false);
    app_user.row.application_user = true;
    app.store
        .tenant(tenant)
        .upsert_crm_rows(
            connection,
            &[
                crm_user(1, "Ana Silva", Some("Ana@Contoso.com"), false),
                crm_user(2, "Bob Stone", Some("bob@contoso.com"), true),
                crm_user(3, "Cleo Park", Some("cleo@contoso.com"), false),
                crm_user(4, "Dan Roe", Some("dan@contoso.com"), false),
                crm_user(5, "Eve No-Mail", None, false),
                app_user,
            ],
        )
        .await
        .unwrap();
}

fn seat_of<'a>(seats: &'a Value, email: &str) -> &'a Value {
    seats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["holder"]["email"] == email)
        .unwrap()
}

async fn seats_show_sync_and_the_in_crm_badge_with_reasons(app: TestApp) {
    let t = app.tenant("Contoso", 5).await;
    let admin = app.user(t, "admin@contoso.com", true, true).await;
    let ana = app.rep(t, "ana@contoso.com").await;
    app.rep(t, "zed@contoso.com").await;

    let seats: Value = app
        .get("/api/v1/admin/seats", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seats["items"].as_array().unwrap().len(), 3);
    let ana_seat = seat_of(&seats, "ana@contoso.com");
    assert_eq!(ana_seat["crm_sync"], "follow_tenant");
    assert_eq!(ana_seat["crm_sync_enabled"], false);
    assert_eq!(ana_seat["in_crm"], false);
    assert_eq!(ana_seat["not_in_crm"]["code"], "sync_off");

    let ana_seat_id = ana.seat.unwrap();
    let r = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/seats/{ana_seat_id}"),
            Some(&admin.token),
            json!({"crm_sync": "enabled"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let seat: Value = r.json().await.unwrap();
    assert_eq!(seat["crm_sync_enabled"], true);
    assert_eq!(seat["not_in_crm"]["code"], "not_connected");

    let connection = connect_in_store(&app, t).await;
    mirror_users(&app, t, connection).await;
    let seats: Value = app
        .get("/api/v1/admin/seats", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let ana_seat = seat_of(&seats, "ana@contoso.com");
    assert_eq!(ana_seat["in_crm"], true, "{ana_seat}");
    assert_eq!(ana_seat["crm_user"]["full_name"], "Ana Silva");
    assert!(ana_seat["not_in_crm"].is_null());

    // Auto sync for all: the other seats follow, and say why they have no badge.
    let r = app
        .send_json(
            Method::PUT,
            "/api/v1/admin/crm/settings",
            Some(&admin.token),
            json!({"auto_sync_all_seats": true, "pipeline_stage": "not_sure",
                   "won_value_field": "not_sure", "writeback": {"enabled": false, "items": "all"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let seats: Value = app
        .get("/api/v1/admin/seats?limit=2", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seats["items"].as_array().unwrap().len(), 2);
    let cursor = seats["next_cursor"].as_str().unwrap().to_owned();
    let rest: Value = app
        .get(
            &format!("/api/v1/admin/seats?limit=2&cursor={cursor}"),
            &admin.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(rest.get("next_cursor").is_none());
    let zed = seat_of(&rest, "zed@contoso.com");
    assert_eq!(zed["crm_sync_enabled"], true);
    assert_eq!(zed["not_in_crm"]["code"], "no_crm_user_with_email");
    assert_eq!(
        zed["not_in_crm"]["message"],
        "No CRM user has this email address."
    );

    // A seat id of another tenant is not found, and nothing changes there.
    let other = app.tenant("Northwind", 2).await;
    let other_admin = app.admin(other, "admin@northwind.com").await;
    let r = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/seats/{ana_seat_id}"),
            Some(&other_admin.token),
            json!({"crm_sync": "disabled"}),
        )
        .await;
    problem(r, 404, "not_found").await;
    let seat = app
        .store
        .tenant(t)
        .seat(ana_seat_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seat.seat.crm_sync, domain::tenant::SeatCrmSync::Enabled);

    for body in [
        json!({"crm_sync": "sometimes"}),
        json!({"crm_sync": "enabled", "x": 1}),
        json!({}),
    ] {
        let r = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/admin/seats/{ana_seat_id}"),
                Some(&admin.token),
                body,
            )
            .await;
        problem(r, 422, "invalid_body").await;
    }
}

async fn assigning_seats_from_crm_stays_within_the_contract(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    app.rep(t, "cleo@contoso.com").await;

    let r = app.get("/api/v1/admin/crm/users", &admin.token).await;
    problem(r, 409, "not_connected").await;
    let r = app
        .post_json(
            "/api/v1/admin/seats/assign-from-crm",
            Some(&admin.token),
            json!({"crm_user_ids": [Uuid::from_u128(1)]}),
        )
        .await;
    problem(r, 409, "not_connected").await;

    let connection = connect_in_store(&app, t).await;
    mirror_users(&app, t, connection).await;
    let users: Value = app
        .get("/api/v1/admin/crm/users", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, bool)> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["full_name"].as_str().unwrap(),
                u["assignable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("# leadbridge", false),
            ("Ana Silva", true),
            ("Bob Stone", false),
            ("Cleo Park", false),
            ("Dan Roe", true),
            ("Eve No-Mail", false)
        ]
    );
    let cleo = &users["items"][3];
    assert!(cleo["seat_id"].is_string(), "Cleo holds a seat: {cleo}");
    let assignable: Value = app
        .get("/api/v1/admin/crm/users?assignable=true", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assignable["items"].as_array().unwrap().len(), 2);

    // One seat held of three: Ana and Dan fit, the others are skipped with their reason.
    let ids = [1u128, 2, 3, 5, 4, 77, 1].map(Uuid::from_u128);
    let r = app
        .post_json(
            "/api/v1/admin/seats/assign-from-crm",
            Some(&admin.token),
            json!({"crm_user_ids": ids}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    let assigned: Vec<&str> = report["assigned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(assigned, ["ana@contoso.com", "dan@contoso.com"]);
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "disabled_user",
            "already_a_seat",
            "no_email",
            "unknown_user",
            "selected_twice"
        ]
    );
    let mut tenant = app.store.tenant(t);
    assert_eq!(tenant.seats().await.unwrap().len(), 3);
    let ana = tenant
        .user_by_email("ana@contoso.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ana.display_name, "Ana Silva");
    assert!(ana.seat.is_some() && !ana.admin);

    // The contract is full now.
    let r = app
        .post_json(
            "/api/v1/admin/seats/assign-from-crm",
            Some(&admin.token),
            json!({"crm_user_ids": [Uuid::from_u128(3)]}),
        )
        .await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["skipped"][0]["reason"]["code"], "already_a_seat");
    let r = app
        .post_json(
            "/api/v1/admin/seats/assign-from-crm",
            Some(&admin.token),
            json!({"crm_user_ids": ["not-a-uuid"]}),
        )
        .await;
    let p = problem(r, 422, "invalid_body").await;
    assert_eq!(p["errors"][0]["path"], "crm_user_ids[0]");
}

async fn crm_settings_are_validated_and_stored(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let settings: Value = app
        .get("/api/v1/admin/crm/settings", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["answered"], false);
    assert_eq!(settings["pipeline_stage"], "not_sure");
    assert_eq!(settings["writeback"]["items"], "all");

    let put = |body: Value| {
        app.send_json(
            Method::PUT,
            "/api/v1/admin/crm/settings",
            Some(&admin.token),
            body,
        )
    };
    let good = json!({"auto_sync_all_seats": true, "pipeline_stage": "not_sure",
        "won_value_field": "not_sure", "writeback": {"enabled": false, "items": ["note", "inmail"]}});
    let r = put(good.clone()).await;
    assert_eq!(r.status(), 200);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["answered"], true);
    assert_eq!(stored["writeback"]["items"], json!(["inmail", "note"]));

    // Without a connected org there is no stage, column or companion app to choose.
    let r = put(
        json!({"auto_sync_all_seats": false, "pipeline_stage": 100000001,
        "won_value_field": "actualvalue", "writeback": {"enabled": true, "items": []}}),
    )
    .await;
    let p = problem(r, 422, "validation_failed").await;
    let paths: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "writeback.enabled",
            "writeback.items",
            "pipeline_stage",
            "won_value_field"
        ]
    );
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Get it now")
    );

    let mut unknown = good.clone();
    unknown["writeback"]["copy_all"] = json!(true);
    problem(put(unknown).await, 422, "invalid_body").await;
    let mut wrong_type = good.clone();
    wrong_type["auto_sync_all_seats"] = json!("yes");
    problem(put(wrong_type).await, 422, "invalid_body").await;
    let r = app
        .http
        .put(app.url("/api/v1/admin/crm/settings"))
        .bearer_auth(&admin.token)
        .header("content-type", "application/json")
        .body("{\"auto_sync_all_seats\": tru")
        .send()
        .await
        .unwrap();
    problem(r, 400, "malformed_json").await;

    // Nothing of the refused answers was stored.
    let settings: Value = app
        .get("/api/v1/admin/crm/settings", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["auto_sync_all_seats"], true);
    assert_eq!(settings["writeback"]["items"], json!(["inmail", "note"]));

    let r = app
        .get(
            "/api/v1/admin/crm/preview?pipeline_stage=soon",
            &admin.token,
        )
        .await;
    let p = problem(r, 400, "invalid_query").await;
    assert_eq!(p["errors"][0]["path"], "pipeline_stage");
    let r = app
        .get(
            "/api/v1/admin/crm/preview?pipeline_stage=not_sure",
            &admin.token,
        )
        .await;
    problem(r, 409, "not_connected").await;
    let r = app
        .get("/api/v1/admin/crm/settings/choices", &admin.token)
        .await;
    problem(r, 409, "not_connected").await;
}

async fn connect_disconnect_and_the_engine_backed_routes(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let admin = app.admin(t, "admin@contoso.com").await;
    let status: Value = app
        .get("/api/v1/admin/crm", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "not_connected");

    let r = app
        .post_json(
            "/api/v1/admin/crm/connect",
            Some(&admin.token),
            json!({"mode": "application", "org_url": "contoso.crm.dynamics.com",
                   "tenant_id": "contoso.onmicrosoft.com", "client_id": "nope"}),
        )
        .await;
    let p = problem(r, 422, "validation_failed").await;
    let paths: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["client_id", "client_secret", "org_url"]);
    let r = app
        .post_json(
            "/api/v1/admin/crm/connect",
            Some(&admin.token),
            json!({"mode": "on_prem", "org_url": "https://crm.contoso.local"}),
        )
        .await;
    problem(r, 422, "invalid_body").await;

    // Well-formed: this server has no sync engine to connect with, and says so without
    // echoing the secret.
    let r = app
        .post_json(
            "/api/v1/admin/crm/connect",
            Some(&admin.token),
            json!({"mode": "application", "org_url": "https://contoso.crm4.dynamics.com",
                   "tenant_id": "contoso.onmicrosoft.com",
                   "client_id": "8d4f9a3e-5b1c-4f8e-9a2b-1c3d5e7f9a0b",
                   "client_secret": "Zx9~very.secret"}),
        )
        .await;
    let p = problem(r, 409, "not_connected").await;
    assert!(!p.to_string().contains("very.secret"));
    assert!(p["detail"].as_str().unwrap().contains("sync engine"));

    for (method, path) in [
        (Method::POST, "/api/v1/admin/crm/sync"),
        (Method::GET, "/api/v1/admin/crm/app"),
        (Method::POST, "/api/v1/admin/crm/app/install"),
    ] {
        let r = app
            .send_json(method, path, Some(&admin.token), json!(null))
            .await;
        problem(r, 409, "not_connected").await;
    }
    let r = app
        .post_json(
            "/api/v1/admin/crm/disconnect",
            Some(&admin.token),
            json!({"purge": true}),
        )
        .await;
    problem(r, 409, "not_connected").await;

    let connection = connect_in_store(&app, t).await;
    mirror_users(&app, t, connection).await;
    let status: Value = app
        .get("/api/v1/admin/crm", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "connected");
    assert_eq!(
        status["connection"]["org_url"],
        "https://contoso.crm4.dynamics.com"
    );
    assert_eq!(status["connection"]["mode"], "application");
    assert_eq!(
        status["connection"]["connected_as"],
        "leadbridge integration"
    );
    assert_eq!(status["connection"]["companion_app"]["installed"], false);
    let r = app
        .post_json("/api/v1/admin/crm/sync", Some(&admin.token), json!(null))
        .await;
    let p = problem(r, 409, "not_connected").await;
    assert!(p["detail"].as_str().unwrap().contains("sync engine"));

    let r = app
        .post_json(
            "/api/v1/admin/crm/disconnect",
            Some(&admin.token),
            json!({"purge": "yes"}),
        )
        .await;
    problem(r, 422, "invalid_body").await;
    let r = app
        .post_json(
            "/api/v1/admin/crm/disconnect",
            Some(&admin.token),
            json!({"purge": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["disconnected"], true);
    assert_eq!(body["purge_receipt"]["removed"]["crm_users"], 6);
    let status: Value = app
        .get("/api/v1/admin/crm", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "not_connected");
    assert_eq!(app.store.tenant(t).mirror_counts().await.unwrap().users, 0);
}
