//! Seat Management in the browser: the In CRM badge or why not, Enable/Disable CRM Sync from the
//! "…" menu, and Assign seats from CRM with search, select-all and the report within the contract.

use crate::harness::{TestApp, both};
use crate::ui::{Browser, connect_in_store, crm_user};

both!(seats_badges_menu_and_assigning_from_crm);

async fn seats_badges_menu_and_assigning_from_crm(app: TestApp) {
    let tenant = app.tenant("Contoso", 4).await;
    app.admin(tenant, "ada@contoso.com").await;
    let ana = app.rep(tenant, "ana@contoso.com").await;
    app.rep(tenant, "zed@contoso.com").await;
    let mut browser = Browser::new(&app);
    browser.sign_in("ada@contoso.com").await;

    let page = browser.get("/admin/seats").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_labelled();
    assert!(page.contains("2 of 4 seats assigned."));
    assert!(page.contains("CRM sync is off for this seat."));
    assert!(page.contains("aria-label=\"More actions for ana\""));

    // Enable CRM Sync from the menu; without a CRM the reason says so.
    let ana_seat = ana.seat.unwrap();
    let done = browser
        .post(
            &format!("/admin/seats/{ana_seat}/crm-sync"),
            &page,
            &[("crm_sync", "enabled")],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/admin/seats?notice=seat_updated")
    );
    let page = browser.get("/admin/seats?notice=seat_updated").await;
    assert!(page.contains("The seat&#39;s CRM sync is updated."));
    assert!(page.contains("Enabled for this seat"));
    assert!(page.contains("No CRM is connected."));
    let bad = browser
        .post(
            &format!("/admin/seats/{ana_seat}/crm-sync"),
            &page,
            &[("crm_sync", "sometimes")],
        )
        .await;
    assert_eq!(bad.status, 422);
    let missing = browser
        .post(
            "/admin/seats/00000000-0000-0000-0000-000000000001/crm-sync",
            &page,
            &[("crm_sync", "enabled")],
        )
        .await;
    assert_eq!(missing.status, 404);

    // Connected, with the org's users: the badge and the CRM user it matched.
    let connection = connect_in_store(&app, tenant).await;
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
    let page = browser.get("/admin/seats").await;
    assert!(page.contains("<span class=\"badge in-crm\">In CRM</span>"));
    assert!(page.contains("Ana Silva"));

    // Assign seats from CRM: only active people with an email and no seat, searchable.
    let assign = browser.get("/admin/seats/assign").await;
    assert_eq!(assign.status, 200);
    assign.assert_labelled();
    assert!(assign.contains("Seats left in your contract: 2"));
    for shown in ["Cleo Park", "Dan Roe"] {
        assert!(assign.contains(shown), "{shown}");
    }
    for hidden in ["Bob Stone", "Eve No-Mail", "# leadbridge", "Ana Silva"] {
        assert!(!assign.contains(hidden), "{hidden}");
    }
    let found = browser.htmx_get("/admin/seats/assign?q=CLE").await;
    assert!(found.contains("Cleo Park") && !found.contains("Dan Roe"));
    let all = browser.get("/admin/seats/assign?select=all").await;
    assert_eq!(all.body.matches("name=\"crm_user_id\"").count(), 2);
    assert_eq!(all.body.matches("\" checked><label for=\"user-").count(), 2);

    let nobody = browser.post("/admin/seats/assign", &assign, &[]).await;
    assert_eq!(nobody.status, 422);
    assert!(nobody.contains("Select at least one CRM user to give a seat to."));

    // Three picked, one seat short of the contract and one picked twice: each one explained.
    let cleo = uuid::Uuid::from_u128(3).to_string();
    let dan = uuid::Uuid::from_u128(4).to_string();
    let bob = uuid::Uuid::from_u128(2).to_string();
    let report = browser
        .post(
            "/admin/seats/assign",
            &assign,
            &[
                ("crm_user_id", &cleo),
                ("crm_user_id", &bob),
                ("crm_user_id", &dan),
                ("crm_user_id", &cleo),
            ],
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(report.contains("Seats assigned: 2"), "{}", report.body);
    assert!(report.contains("Cleo Park") && report.contains("dan@contoso.com"));
    assert!(report.contains("Bob Stone: Disabled in the CRM."));
    assert!(report.contains("Cleo Park: Selected twice."));
    let page = browser.get("/admin/seats").await;
    assert!(page.contains("4 of 4 seats assigned."));
    let full = browser.get("/admin/seats/assign").await;
    assert!(full.contains("Seats left in your contract: 0"));
}
