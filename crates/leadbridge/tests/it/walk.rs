//! The setup guide walked in headless Chromium on the demo, once in English and once in French:
//! the admin connects through the emulator's sign-in page, answers the three questions, watches
//! the sync finish, installs the companion app with Get it now and turns writeback on, manages
//! seats; the rep writes a note on a matched lead (checked completed on the contact in the CRM),
//! sends an InMail to someone the CRM does not know and resolves it from Unassigned Activities by
//! creating the contact; the admin disconnects with purge and the imported data is gone.

use dataverse_emulator::seed::{SeedRole, SeedSize};
use domain::directory::PersonOrigin;
use fantoccini::Locator;
use fantoccini::elements::Element;
use leadbridge::demo::{self, Demo, DemoConfig, Login};
use web::ui::i18n::{Lang, Tr};

use crate::browser::{self, Browser, PATIENCE};
use crate::crm::Crm;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guide_walked_in_english() {
    walk(Lang::En, "en-US,en").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guide_walked_in_french() {
    walk(Lang::Fr, "fr-FR,fr").await;
}

/// The part of a catalogue text that does not depend on its placeholders.
fn fixed_part(text: &str) -> String {
    text.split(['{', '}'])
        .step_by(2)
        .max_by_key(|part| part.len())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

struct Walk {
    b: Browser,
    t: Tr,
    demo: Demo,
    lang: Lang,
}

impl Walk {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.demo.info.url)
    }

    /// Each page in a phone-sized window (390 × 844): a screenshot, and no sideways scrolling.
    async fn on_a_phone(&mut self, paths: &[&str], who: &str) {
        self.b.resize(390, 844).await;
        for (n, path) in paths.iter().enumerate() {
            self.b.goto(&self.url(path)).await;
            self.b.shot(&format!("phone-{who}-{n}")).await;
            let overflow = self.b.horizontal_overflow().await;
            assert!(
                overflow <= 0,
                "{path} is {overflow} px wider than a phone's screen"
            );
        }
        self.b.resize(1280, 1000).await;
    }

    async fn body(&self) -> String {
        self.b.page_text().await
    }

    /// Fails unless the page shows `key`'s text in the walk's language.
    async fn shows(&self, key: &str) {
        let text = fixed_part(&self.t.t(key));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let body = self.body().await;
            if body.contains(&text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} does not show {key} ({text:?}):\n{body}",
                self.b.url().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn sign_in(&mut self, who: &Login, step: &str) {
        self.b.goto(&self.url("/signin")).await;
        assert_eq!(self.b.lang().await, self.lang.code());
        self.b.fill("#email", &who.email).await;
        self.b.fill("#password", &who.password).await;
        self.b.shot(step).await;
        self.b
            .click("form[action='/signin'] button[type=submit]")
            .await;
        self.b.find("form.signout").await;
    }

    /// Signs in with the keyboard alone: Tab to each field, type, Enter.
    async fn sign_in_by_keyboard(&mut self, who: &Login, step: &str) {
        self.b.goto(&self.url("/signin")).await;
        assert_eq!(self.b.lang().await, self.lang.code());
        self.b.tab_to("#email", 10).await;
        self.b.type_text(&who.email).await;
        self.b.tab_to("#password", 3).await;
        self.b.type_text(&who.password).await;
        self.b.shot(step).await;
        self.b.press(fantoccini::key::Key::Enter).await;
        self.b.find("form.signout").await;
    }

    async fn sign_out(&self) {
        self.b.click("form.signout button[type=submit]").await;
        self.b.find("#email").await;
    }

    /// Waits until no sync is running (the status no longer polls) and one has finished.
    async fn sync_finished(&self) {
        let last_sync = fixed_part(&self.t.t("crm.last_sync"));
        self.b
            .reload_until(&self.url("/admin/crm"), "the sync to finish", |html| {
                !html.contains("every 2s") && html.contains(&last_sync)
            })
            .await;
    }

    /// The table row that mentions `text`, waiting for it while a page (a search's results)
    /// replaces the one shown.
    async fn row_with(&self, text: &str) -> Element {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            for row in self.b.find_all("tbody tr").await {
                if row.text().await.unwrap_or_default().contains(text) {
                    return row;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no row shows {text}:\n{}",
                self.body().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

async fn walk(lang: Lang, accept_language: &str) {
    if !browser::available() {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = DemoConfig::new(dir.path());
    config.listen = Some("127.0.0.1:0".parse().unwrap());
    let demo = demo::start(config).await.unwrap();
    let b = Browser::start(&format!("walk-{}", lang.code()), accept_language).await;
    let mut w = Walk {
        b,
        t: Tr::new(lang),
        demo,
        lang,
    };
    let info = w.demo.info.clone();
    let crm = Crm::connect(&info).await;

    // The admin signs in and finds the CRM not connected, Connect to CRM ready for the demo's org.
    w.sign_in(&info.admin, "admin-sign-in").await;
    w.b.goto(&w.url("/admin/crm")).await;
    w.shows("crm.not_connected_title").await;
    w.b.find("#mode-delegated:checked").await;
    w.b.shot("crm-not-connected").await;

    // Admin sign-in goes through the emulator's authorize page.
    w.b.click("form[action='/admin/crm/connect'] button[type=submit]")
        .await;
    w.b.find("button[name=user]").await;
    w.b.shot("emulator-sign-in").await;
    let mut picked = false;
    for account in w.b.find_all("button[name=user]").await {
        if account
            .text()
            .await
            .unwrap_or_default()
            .contains(&info.crm_admin)
        {
            account.click().await.unwrap();
            picked = true;
            break;
        }
    }
    assert!(
        picked,
        "{} is not offered on the sign-in page",
        info.crm_admin
    );
    w.b.find("#crm-status").await;
    w.shows("crm.connected").await;
    w.b.shot("connected").await;

    // The first sync runs (progress while it does) and finishes with its date.
    w.sync_finished().await;
    w.shows("crm.sync_heading").await;
    w.b.shot("first-sync-finished").await;

    // The three questions, with the org's own stages and money columns and the what-if counts.
    w.b.click("#auto-yes").await;
    let stages = w.b.find_all("#pipeline_stage option").await;
    assert!(stages.len() > 2, "the org's stages are offered");
    let stage = stages[1].attr("value").await.unwrap().unwrap();
    w.b.find("#pipeline_stage")
        .await
        .select_by_value(&stage)
        .await
        .unwrap();
    w.b.find("#preview .preview-counts").await;
    let won = w.b.find_all("#won_value_field option").await;
    assert!(won.len() > 1, "the org's money columns are offered");
    let column = won[0].attr("value").await.unwrap().unwrap();
    w.b.find("#won_value_field")
        .await
        .select_by_value(&column)
        .await
        .unwrap();
    // Writeback needs the companion app first.
    assert!(
        w.b.find("#writeback-yes")
            .await
            .attr("disabled")
            .await
            .unwrap()
            .is_some()
    );
    w.b.shot_at("#preview", "settings-answered").await;
    w.b.click("form[action='/admin/crm/settings'] button[type=submit]")
        .await;
    w.shows("notice.settings_saved").await;
    w.b.shot_at(".notice", "settings-saved").await;

    // Get it now installs the companion app; then writeback can be turned on.
    w.b.click("form[action='/admin/crm/app/install'] button[type=submit]")
        .await;
    w.shows("notice.app_installed").await;
    w.shows("crm.app_installed").await;
    w.b.shot_at(".companion", "companion-app-installed").await;
    w.b.click("#writeback-yes").await;
    w.b.click("#items-all").await;
    w.b.click("form[action='/admin/crm/settings'] button[type=submit]")
        .await;
    w.shows("notice.settings_saved").await;
    w.b.find("#writeback-yes:checked").await;
    w.b.shot_at("#writeback-yes", "writeback-enabled").await;
    w.sync_finished().await;

    // Seat Management: the rep's seat is In CRM; Disable then Enable CRM Sync from its menu.
    w.b.goto(&w.url("/admin/seats")).await;
    let row = w.row_with(&info.rep.email).await;
    assert!(row.text().await.unwrap().contains(&*w.t.t("badge.in_crm")));
    w.b.shot("seats").await;
    for (choice, notice_key, state_key) in [
        ("disabled", "notice.seat_updated", "seats.sync_disabled"),
        ("enabled", "notice.seat_updated", "seats.sync_enabled"),
    ] {
        let row = w.row_with(&info.rep.email).await;
        row.find(Locator::Css("summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        row.find(Locator::Css(&format!(
            "form:has(input[value='{choice}']) button"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        w.shows(notice_key).await;
        let row = w.row_with(&info.rep.email).await;
        assert!(
            row.text().await.unwrap().contains(&*w.t.t(state_key)),
            "{state_key}"
        );
        w.b.shot(&format!("seat-crm-sync-{choice}")).await;
    }

    // Assign seats from CRM: search another rep of the org, tick, assign.
    let seed = dataverse_emulator::seed::generate(SeedSize::Small, demo::SEED_NUMBER);
    let colleague = seed
        .users
        .iter()
        .filter(|u| !u.is_disabled && u.roles == [SeedRole::Salesperson])
        .find(|u| u.email != info.rep.email)
        .unwrap();
    w.b.goto(&w.url("/admin/seats/assign")).await;
    w.b.fill("#crm-search", &colleague.last_name).await;
    w.b.click("form[role=search] button[type=submit]").await;
    // The results page (its address carries the search), not the list it replaces.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !w.b.url().await.contains("q=") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the search never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let checkbox = w
        .row_with(&colleague.email)
        .await
        .find(Locator::Css("input[type=checkbox]"))
        .await
        .unwrap();
    checkbox.click().await.unwrap();
    w.b.shot("assign-seats-from-crm").await;
    w.b.click("form[action='/admin/seats/assign'][method=post] button[type=submit]")
        .await;
    w.shows("seats.assigned_title").await;
    assert!(w.body().await.contains(&colleague.email));
    w.b.shot("seats-assigned").await;
    w.b.goto(&w.url("/admin/seats")).await;
    w.row_with(&colleague.email).await;
    w.sign_out().await;

    // The rep's leads, imported from the CRM with their In CRM badges.
    // The rep works by keyboard alone where it matters most: signing in and writing a note.
    w.sign_in_by_keyboard(&info.rep, "rep-sign-in").await;
    let seat = {
        let mut tenant = w.demo.store.tenant(info.tenant);
        let user = tenant
            .user_by_email(&info.rep.email)
            .await
            .unwrap()
            .unwrap();
        tenant.seat_of_user(user.id).await.unwrap().unwrap().seat.id
    };
    // The sync the settings queued saves the rep's leads: one of them a workspace person the
    // import matched to a contact.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let lead = loop {
        let saved = w
            .demo
            .store
            .tenant(info.tenant)
            .saved_leads(seat, None, 1000)
            .await
            .unwrap();
        if let Some(lead) = saved
            .items
            .into_iter()
            .map(|s| s.person.person)
            .find(|person| person.origin == PersonOrigin::Workspace && person.email.is_some())
        {
            break lead;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no saved lead of the rep is a workspace person"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    w.b.reload_until(&w.url("/leads"), "the imported leads", |html| {
        html.contains(&format!("/people/{}", lead.id))
    })
    .await;
    w.shows("badge.in_crm").await;
    w.b.shot("rep-leads").await;
    w.b.goto(&w.url("/accounts")).await;
    w.shows("accounts.intro").await;
    w.b.shot("rep-accounts").await;
    w.on_a_phone(
        &[
            "/leads",
            "/accounts",
            &format!("/people/{}", lead.id),
            "/unassigned",
        ],
        "rep",
    )
    .await;
    w.b.goto(&w.url("/leads")).await;

    // A note on the matched lead, copied to the CRM as a completed activity on the contact.
    w.b.click(&format!("a[href='/people/{}']", lead.id)).await;
    w.b.find("#note-text").await;
    let contact_link =
        w.b.find("#match a.badge.in-crm")
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap();
    assert!(contact_link.contains("etn=contact"), "{contact_link}");
    let contact_id = contact_link
        .split("id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let note = format!(
        "Walk {}: call back about the renewal next week.",
        lang.code()
    );
    // By keyboard: Tab to the note, type it, tick Copy to CRM with Space, Enter on Save.
    w.b.tab_to("#note-text", 80).await;
    w.b.type_text(&note).await;
    w.b.tab_to("#note-copy", 5).await;
    if !w.b.find("#note-copy").await.is_selected().await.unwrap() {
        w.b.press(fantoccini::key::Key::Space).await;
    }
    assert!(w.b.find("#note-copy").await.is_selected().await.unwrap());
    w.b.tab_to("form[action$='/notes'] button[type=submit]", 5)
        .await;
    w.b.shot_at("#note-text", "note-written").await;
    w.b.press(fantoccini::key::Key::Enter).await;
    w.shows("notice.note_saved").await;
    let person_url = w.b.url().await;
    let person_path = format!(
        "/people/{}",
        person_url
            .split("/people/")
            .nth(1)
            .unwrap()
            .split(['?', '#'])
            .next()
            .unwrap()
    );
    let written = w.t.t("writeback.state.written").into_owned();
    w.b.reload_until(&w.url(&person_path), "the note in the CRM", |html| {
        html.contains(&written)
    })
    .await;
    w.b.shot_at(
        "section[aria-labelledby=notes-heading] ul.list li",
        "note-in-crm",
    )
    .await;
    let notes = crm
        .rows(
            "lb_notes",
            &format!("_regardingobjectid_value eq {contact_id}"),
        )
        .await;
    assert!(
        notes.iter().any(|n| n.to_string().contains(&note)
            && n["statecode"] == 1
            && n["_regardingobjectid_value"] == contact_id.as_str()),
        "no completed note on contact {contact_id}: {notes:?}"
    );

    // An InMail to someone the CRM does not know lands in Unassigned Activities.
    let stranger = "Amara Okafor";
    let stranger_email = "amara.okafor@blueyonderairlines.example";
    w.b.goto(&w.url("/people?q=Amara")).await;
    w.b.shot("people-search").await;
    w.b.click("#people-list a[href^='/people/']").await;
    w.b.find("#message-body").await;
    assert!(w.body().await.contains(stranger));
    w.shows("match.none").await;
    w.b.click("section[aria-labelledby=messages-heading] details > summary")
        .await;
    w.b.find("#message-kind")
        .await
        .select_by_value("inmail")
        .await
        .unwrap();
    w.b.fill("#message-subject", "Introduction").await;
    let inmail = format!(
        "Walk {}: would a short call next week suit you?",
        lang.code()
    );
    w.b.fill("#message-body", &inmail).await;
    if !w.b.find("#thread-copy").await.is_selected().await.unwrap() {
        w.b.click("#thread-copy").await;
    }
    w.b.shot_at("#message-body", "inmail-written").await;
    w.b.click("form[action$='/messages'] button[type=submit]")
        .await;
    w.shows("notice.message_saved").await;
    w.b.shot_at("article.thread", "inmail-sent").await;
    w.b.reload_until(&w.url("/unassigned"), "the InMail unassigned", |html| {
        html.contains(&inmail)
    })
    .await;
    w.b.shot("unassigned-activities").await;

    // Create contact in CRM resolves it: the contact exists and the InMail is completed on it.
    let item = {
        let mut found = None;
        for item in w.b.find_all("li[id^='unassigned-']").await {
            if item.text().await.unwrap_or_default().contains(&inmail) {
                found = Some(item);
                break;
            }
        }
        found.unwrap()
    };
    item.find(Locator::Css(
        "form:has(input[value='create_contact']) button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    w.shows("notice.resolved").await;
    w.b.shot("unassigned-resolved").await;
    let contacts = crm
        .rows("contacts", &format!("emailaddress1 eq '{stranger_email}'"))
        .await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let created = contacts[0]["contactid"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let inmails = crm
            .rows(
                "lb_inmails",
                &format!("_regardingobjectid_value eq {created}"),
            )
            .await;
        if inmails
            .iter()
            .any(|m| m.to_string().contains(&inmail) && m["statecode"] == 1)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the InMail is not completed on the new contact: {inmails:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    w.sign_out().await;

    // Disconnect with purge: the receipt, then the imported data is gone.
    w.sign_in(&info.admin, "admin-sign-in-again").await;
    // The sync dashboard: charts, recent syncs, the queue, and what needs attention.
    w.b.goto(&w.url("/admin/sync")).await;
    w.shows("dashboard.intro").await;
    w.shows("dashboard.runs").await;
    w.b.shot("sync-dashboard").await;
    w.on_a_phone(
        &[
            "/admin/crm",
            "/admin/seats",
            "/admin/seats/assign",
            "/admin/sync",
        ],
        "admin",
    )
    .await;
    w.b.goto(&w.url("/admin/crm")).await;
    w.b.click("#purge").await;
    w.b.shot_at("#purge", "disconnect-with-purge").await;
    w.b.click("form[action='/admin/crm/disconnect'] button[type=submit]")
        .await;
    w.shows("crm.disconnected_purged").await;
    let imported_leads: u64 =
        w.b.text("table.receipt tr:first-child td")
            .await
            .trim()
            .parse()
            .unwrap();
    assert!(imported_leads > 0, "the receipt counts the imported leads");
    w.b.shot("purge-receipt").await;
    w.b.goto(&w.url("/admin/crm")).await;
    w.shows("crm.not_connected_title").await;
    w.b.shot("disconnected").await;
    w.sign_out().await;
    w.sign_in(&info.rep, "rep-sign-in-after-purge").await;
    w.b.goto(&w.url("/leads")).await;
    assert!(
        w.b.find_all("a.badge.in-crm").await.is_empty(),
        "imported leads are gone"
    );
    assert!(!w.body().await.contains(&lead.full_name));
    w.b.shot("rep-leads-after-purge").await;

    w.b.close().await;
    w.demo.shutdown().await.unwrap();
}
