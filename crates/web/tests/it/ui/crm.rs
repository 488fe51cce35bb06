//! Admin Settings → CRM Settings in the browser: connect in both modes (bad input kept and
//! explained, the documented errors with their next steps), the status with its progress bar and
//! polling, the org's choices with the what-if counts, Get it now, the answers, and Disconnect CRM
//! Sync with its purge receipt.

use domain::ids::{CrmConnectionId, TenantId};
use store::sync_runs::SyncOutcome;

use crate::harness::{TestApp, both};
use crate::ui::engine::{AUTHORIZE_URL, SIGN_IN_STATE, Scripted};
use crate::ui::{Browser, CLIENT_ID, connect_in_store, signed_in_admin};

fn connect_fields(secret: &str) -> Vec<(&str, &str)> {
    vec![
        ("mode", "application"),
        ("org_url", "https://contoso.crm4.dynamics.com"),
        ("tenant_id", "contoso.onmicrosoft.com"),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
    ]
}

async fn live(app: &TestApp, tenant: TenantId) -> CrmConnectionId {
    app.store
        .tenant(tenant)
        .live_connection()
        .await
        .unwrap()
        .unwrap()
        .connection
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_answer_and_disconnect_as_the_guide_says() {
    let (app, engine) = Scripted::app().await;
    let (tenant, mut browser) = signed_in_admin(&app).await;

    let page = browser.get("/admin/crm").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_labelled();
    assert!(page.contains("Admin Settings → CRM Settings"));
    assert!(page.contains("Not connected"));
    assert!(page.contains(">Connect to CRM</button>"));

    // Bad input: every field says what is wrong, what was typed stays, the secret does not.
    let bad = browser
        .post(
            "/admin/crm/connect",
            &page,
            &[
                ("mode", "application"),
                ("org_url", "http://contoso.crm4.dynamics.com"),
                ("tenant_id", "contoso tenant"),
                ("client_id", "not-a-guid"),
                ("client_secret", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    bad.assert_labelled();
    for expected in [
        "Enter the environment's https:// address",
        "Enter the Microsoft Entra tenant ID",
        "Enter the app registration's application (client) ID",
        "An application user needs its client secret",
        "value=\"http://contoso.crm4.dynamics.com\"",
        "value=\"contoso tenant\"",
        "value=\"not-a-guid\"",
        "aria-invalid=\"true\" aria-describedby=\"org_url-error\"",
    ] {
        assert!(bad.contains(expected), "{expected}\n{}", bad.body);
    }
    assert!(
        app.store
            .tenant(tenant)
            .live_connection()
            .await
            .unwrap()
            .is_none()
    );

    // One of the guide's four errors: its message and its next step, the form kept.
    engine.script.lock().unwrap().connect_error = Some((
        "Your CRM account does not have sufficient access privileges. Please check with your CRM administrator.".into(),
        "Contact your internal CRM administrator to obtain the needed access privileges.".into(),
    ));
    let refused = browser
        .post("/admin/crm/connect", &page, &connect_fields("s3cret-value"))
        .await;
    assert_eq!(refused.status, 502);
    assert!(refused.contains("Your CRM account does not have sufficient access privileges."));
    assert!(refused.contains(
        "Next step: Contact your internal CRM administrator to obtain the needed access privileges."
    ));
    assert!(refused.contains("value=\"contoso.onmicrosoft.com\""));
    assert!(!refused.contains("s3cret-value"));

    // Connected: the guide's texts, the progress bar, and polling while the sync runs.
    let done = browser
        .post("/admin/crm/connect", &page, &connect_fields("s3cret-value"))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/admin/crm?notice=connected")
    );
    let page = browser.get("/admin/crm?notice=connected").await;
    page.assert_labelled();
    assert!(page.contains("Connected to Microsoft Dynamics"));
    assert!(page.contains("Successfully connected, sync in progress"));
    assert!(page.contains("<progress id=\"sync-progress\" max=\"100\" value=\"40\">"));
    assert!(page.contains("40 of 100 records"));
    assert!(page.contains("hx-get=\"/admin/crm/status\" hx-trigger=\"every 2s\""));
    let polled = browser.htmx_get("/admin/crm/status").await;
    assert_eq!(polled.status, 200);
    assert!(
        polled
            .body
            .starts_with("<section class=\"card\" id=\"crm-status\"")
    );
    assert!(polled.headers.get("hx-refresh").is_none());

    // The sync ends: the poll says so and the page reloads to show the last sync date.
    let connection = live(&app, tenant).await;
    {
        let mut t = app.store.tenant(tenant);
        let run = t.sync_runs(1).await.unwrap().remove(0);
        t.finish_sync_run(run.id, SyncOutcome::Succeeded, None)
            .await
            .unwrap();
        t.record_sync_success(connection, app.store.now())
            .await
            .unwrap();
    }
    let polled = browser.htmx_get("/admin/crm/status").await;
    assert_eq!(polled.headers["hx-refresh"], "true");
    assert!(polled.contains("Last sync: 2026-03-01 09:00 UTC"));
    assert!(!polled.contains("hx-trigger"));

    // The three questions with the org's own choices and the what-if counts.
    let page = browser.get("/admin/crm").await;
    for expected in [
        "Auto sync all seat holders with CRM?",
        "At which stage does your sales team consider an opportunity to enter your pipeline?",
        "Where do you store the value for a won opportunity?",
        "<option value=\"1\">Develop</option>",
        "<option value=\"new_signedvalue\">Signed value</option>",
        "<option value=\"not_sure\" selected>Not Sure</option>",
        "12 of 12 open opportunities qualify.",
        "Enable leadbridge to sync back data to your CRM?",
        ">Get it now</button>",
        "Sync back all data items (recommended)",
    ] {
        assert!(page.contains(expected), "{expected}\n{}", page.body);
    }
    let counts = browser
        .htmx_get("/admin/crm/preview?pipeline_stage=1")
        .await;
    assert!(
        counts.contains("4 of 12 open opportunities qualify."),
        "{}",
        counts.body
    );
    assert!(counts.contains("They would save 2 accounts and 8 leads"));

    // Writeback before the companion app: refused, the answers kept.
    let answers = [
        ("auto_sync", "no"),
        ("pipeline_stage", "1"),
        ("won_value_field", "new_signedvalue"),
        ("writeback", "yes"),
        ("items", "all"),
    ];
    let refused = browser.post("/admin/crm/settings", &page, &answers).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.contains("Install leadbridge for Dynamics in your org first"));
    assert!(refused.contains("<option value=\"1\" selected>Develop</option>"));
    assert!(refused.contains("<option value=\"new_signedvalue\" selected>Signed value</option>"));

    // Get it now installs it; then Yes is accepted, with a choice of items.
    let installed = browser.post("/admin/crm/app/install", &page, &[]).await;
    assert_eq!(
        installed.location.as_deref(),
        Some("/admin/crm?notice=app_installed")
    );
    let page = browser.get("/admin/crm?notice=app_installed").await;
    assert!(page.contains("leadbridge for Dynamics is installed in your org."));
    assert!(page.contains("version 1.0.0.0"));
    assert!(!page.contains(">Get it now</button>"));
    let none_chosen = browser
        .post(
            "/admin/crm/settings",
            &page,
            &[
                ("auto_sync", "no"),
                ("pipeline_stage", "1"),
                ("won_value_field", "new_signedvalue"),
                ("writeback", "yes"),
                ("items", "chosen"),
            ],
        )
        .await;
    assert_eq!(none_chosen.status, 422);
    assert!(none_chosen.contains("Choose at least one item to sync back"));
    let unknown_stage = browser
        .post(
            "/admin/crm/settings",
            &page,
            &[("pipeline_stage", "soon"), ("won_value_field", "not_sure")],
        )
        .await;
    assert_eq!(unknown_stage.status, 422);
    assert!(unknown_stage.contains("Choose one of your CRM's stages, or Not Sure."));
    let saved = browser
        .post(
            "/admin/crm/settings",
            &page,
            &[
                ("auto_sync", "yes"),
                ("pipeline_stage", "1"),
                ("won_value_field", "new_signedvalue"),
                ("writeback", "yes"),
                ("items", "chosen"),
                ("item_inmail", "yes"),
                ("item_note", "yes"),
            ],
        )
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/admin/crm?notice=settings_saved")
    );
    let settings = app
        .store
        .tenant(tenant)
        .crm_settings()
        .await
        .unwrap()
        .unwrap();
    assert!(settings.auto_sync_all_seats && settings.writeback.enabled);
    let page = browser.get("/admin/crm?notice=settings_saved").await;
    assert!(page.contains("Your CRM settings are saved."));
    assert!(page.contains("id=\"item-inmail\" name=\"item_inmail\" value=\"yes\" checked"));
    assert!(page.contains("id=\"item-message\" name=\"item_message\" value=\"yes\">"));
    assert!(page.contains("id=\"items-chosen\" name=\"items\" value=\"chosen\" checked"));

    // Disconnect CRM Sync with the clean-up: the receipt, then nothing connected.
    let receipt = browser
        .post("/admin/crm/disconnect", &page, &[("purge", "yes")])
        .await;
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    assert!(receipt.contains("All previously imported CRM data was cleaned up"));
    assert!(receipt.contains("Leads saved by the CRM import"));
    assert!(receipt.contains("Leads saved by hand"));
    assert!(
        app.store
            .tenant(tenant)
            .live_connection()
            .await
            .unwrap()
            .is_none()
    );
    let page = browser.get("/admin/crm").await;
    assert!(page.contains("Not connected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_through_the_authorize_page() {
    let (app, _engine) = Scripted::app().await;
    let (tenant, mut browser) = signed_in_admin(&app).await;
    let page = browser.get("/admin/crm").await;
    let mut fields = connect_fields("");
    fields[0] = ("mode", "delegated");
    let away = browser.post("/admin/crm/connect", &page, &fields).await;
    assert_eq!(away.status, 303, "{}", away.body);
    assert_eq!(away.location.as_deref(), Some(AUTHORIZE_URL));

    // The identity provider's errors and a redirect that is not ours are explained.
    let denied = browser
        .get("/admin/crm/connect/callback?error=access_denied&error_description=The+user+declined")
        .await;
    assert_eq!(denied.status, 422);
    assert!(denied.contains("The sign-in did not complete: The user declined"));
    let forged = browser
        .get("/admin/crm/connect/callback?code=abc&state=someone-else")
        .await;
    assert_eq!(forged.status, 422);
    assert!(forged.contains("This sign-in is not the one leadbridge started."));
    assert!(
        app.store
            .tenant(tenant)
            .live_connection()
            .await
            .unwrap()
            .is_none()
    );

    let back = browser
        .get(&format!(
            "/admin/crm/connect/callback?code=abc&state={SIGN_IN_STATE}&session_state=x"
        ))
        .await;
    assert_eq!(
        back.location.as_deref(),
        Some("/admin/crm?notice=connected")
    );
    let page = browser.get("/admin/crm").await;
    assert!(page.contains("Connected to Microsoft Dynamics"));
    assert!(page.contains("integration@contoso.onmicrosoft.com"));
    assert!(page.contains("Signed-in admin"));
}

both!(a_stored_sync_error_shows_in_the_page_language_with_its_next_step);

async fn a_stored_sync_error_shows_in_the_page_language_with_its_next_step(app: TestApp) {
    let (tenant, mut browser) = signed_in_admin(&app).await;
    let connection = connect_in_store(&app, tenant).await;
    app.store
        .tenant(tenant)
        .set_connection_error(
            connection,
            Some((
                "Could not read the required CRM objects from your org.",
                "Refer to the security white paper for the permissions leadbridge needs.",
            )),
        )
        .await
        .unwrap();
    let page = browser.get("/admin/crm").await;
    assert!(page.contains("Could not read the required CRM objects from your org."));
    assert!(page.contains("Refer to the security white paper"));
    // Without the engine the org's choices cannot be read; Not Sure still can be answered.
    assert!(page.contains("<option value=\"not_sure\" selected>Not Sure</option>"));

    browser.accept_language = Some("es".into());
    let page = browser.get("/admin/crm").await;
    assert!(page.contains("<html lang=\"es\">"));
    assert!(page.contains("Conectado a Microsoft Dynamics"));
    assert!(page.contains("No se han podido leer los objetos de CRM exigidos por tu empresa."));
    browser.accept_language = Some("it".into());
    let page = browser.get("/admin/crm").await;
    assert!(
        page.contains("Impossibile leggere gli oggetti CRM richiesti dalla tua organizzazione.")
    );

    // Without the clean-up, the imported data stays and the page says so.
    browser.accept_language = None;
    let out = browser.post("/admin/crm/disconnect", &page, &[]).await;
    assert_eq!(
        out.location.as_deref(),
        Some("/admin/crm?notice=disconnected")
    );
    let page = browser.get("/admin/crm?notice=disconnected").await;
    assert!(page.contains("The CRM sync is disconnected. The imported CRM data was kept."));
}

both!(a_rep_cannot_open_or_post_to_admin_pages);

async fn a_rep_cannot_open_or_post_to_admin_pages(app: TestApp) {
    let tenant = app.tenant("Contoso", 5).await;
    app.rep(tenant, "rey@contoso.example").await;
    connect_in_store(&app, tenant).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("rey@contoso.example").await;
    let leads = browser.get("/").await;
    assert_eq!(leads.location.as_deref(), Some("/leads"));
    for path in [
        "/admin/crm",
        "/admin/crm/status",
        "/admin/crm/preview?pipeline_stage=1",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.contains("Only an admin of this workspace can open this page."));
    }
    let token = super::signin::session_token(&browser.cookies["lb_session"]);
    let refused = browser
        .post_raw(
            "/admin/crm/disconnect",
            &[("csrf", &token), ("purge", "yes")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        app.store
            .tenant(tenant)
            .live_connection()
            .await
            .unwrap()
            .is_some()
    );
}
