//! Every page in every language: each renders, says which language it is in, shows no catalogue
//! key where a text should be and no unfilled placeholder, labels every field, and a rep is kept
//! out of every admin page.

use std::collections::BTreeSet;

use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::ids::CrmActivityId;
use domain::timeline::WritebackEvent;
use store::activities::NewActivity;
use store::directory::NewPerson;
use store::sync_runs::SyncTrigger;
use uuid::Uuid;
use web::ui::i18n::{Lang, SOURCES, Tr, parse_catalogue};

use crate::ui::engine::Scripted;
use crate::ui::{Browser, Page, connect_in_store, crm_user};

/// The catalogues' sections (the first word of every key) and every placeholder.
fn sections_and_placeholders() -> (BTreeSet<String>, BTreeSet<String>) {
    let english = parse_catalogue(Lang::En, SOURCES[0].1).unwrap();
    let placeholders = english
        .values()
        .flat_map(|text| {
            text.split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}'))
                .map(|(name, _)| format!("{{{name}}}"))
                .collect::<Vec<_>>()
        })
        .collect();
    let sections = english
        .keys()
        .filter_map(|key| key.split_once('.').map(|(section, _)| section.to_owned()))
        .collect();
    (sections, placeholders)
}

/// A catalogue key where a text should be: the page shows the key of a text no catalogue has.
/// Keys are dotted lowercase words starting with a section (`crm.connect`).
fn shown_key(text: &str, sections: &BTreeSet<String>) -> Option<String> {
    let is_word = |c: char| c.is_ascii_lowercase() || c == '_' || c == '.';
    for section in sections {
        let needle = format!("{section}.");
        for (i, _) in text.match_indices(&needle) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_' || c == '-') {
                continue;
            }
            let rest: String = text[i + needle.len()..]
                .chars()
                .take_while(|c| is_word(*c))
                .collect();
            let after = text[i + needle.len() + rest.len()..].chars().next();
            if rest.starts_with(|c: char| c.is_ascii_lowercase())
                && !after.is_some_and(|c| c.is_alphanumeric())
            {
                return Some(format!("{needle}{rest}"));
            }
        }
    }
    None
}

fn assert_complete(
    page: &Page,
    path: &str,
    lang: Lang,
    sections: &BTreeSet<String>,
    holes: &BTreeSet<String>,
) {
    assert!(
        page.body
            .contains(&format!("<html lang=\"{}\">", lang.code())),
        "{path} in {lang:?} says another language"
    );
    let text = page.text();
    if let Some(key) = shown_key(&text, sections) {
        panic!("{path} in {lang:?} shows the key {key} instead of a text");
    }
    for hole in holes {
        assert!(
            !text.contains(hole.as_str()),
            "{path} in {lang:?} leaves {hole} unfilled"
        );
    }
    page.assert_labelled();
}

#[test]
fn a_shown_key_is_noticed() {
    let (sections, _) = sections_and_placeholders();
    assert_eq!(
        shown_key("<p>crm.connect_now</p>", &sections).as_deref(),
        Some("crm.connect_now")
    );
    for fine in [
        "https://contoso.crm4.dynamics.com",
        "ada@contoso.com",
        "an error. Reload",
        "/people/1",
        "lb-nav.sign",
    ] {
        assert_eq!(shown_key(fine, &sections), None, "{fine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_every_language_without_gaps() {
    let (app, _engine) = Scripted::app().await;
    let tenant = app.tenant("Contoso", 6).await;
    // One user who is both admin and rep, to reach every page.
    app.user(tenant, "ada@contoso.com", true, true).await;
    let rep = app.rep(tenant, "rey@contoso.com").await;
    let connection = connect_in_store(&app, tenant).await;
    let mut t = app.store.tenant(tenant);
    t.upsert_crm_rows(
        connection,
        &[
            crm_user(1, "Ada Admin", Some("ada@contoso.com"), false),
            crm_user(2, "Cleo Park", Some("cleo@contoso.com"), false),
        ],
    )
    .await
    .unwrap();
    let run = t
        .start_sync_run(connection, SyncTrigger::Connect)
        .await
        .unwrap();
    t.update_sync_progress(run.id, "Reading contacts", 10, Some(40))
        .await
        .unwrap();
    t.set_connection_error(
        connection,
        Some((
            "The CRM API reported an error. Please try again later.",
            "Error with your API access.",
        )),
    )
    .await
    .unwrap();
    let person = t
        .upsert_people(&[NewPerson {
            full_name: "Li Lei".into(),
            past_companies: vec!["Tailspin Toys".into()],
            ..NewPerson::default()
        }])
        .await
        .unwrap()[0];
    let ada_seat = t
        .user_by_email("ada@contoso.com")
        .await
        .unwrap()
        .unwrap()
        .seat
        .unwrap();
    let activity = t
        .add_activity(NewActivity {
            seat: ada_seat,
            kind: ActivityKind::InMail,
            about: ActivityAbout::Person(person),
            thread: None,
            body: "Hello Li".into(),
            copy_to_crm: CopyToCrm::Item(true),
        })
        .await
        .unwrap()
        .id;
    t.apply_writeback_event(
        activity,
        &WritebackEvent::Written {
            crm_activity: CrmActivityId(Uuid::from_u128(1)),
            regarding: None,
        },
    )
    .await
    .unwrap();

    let (keys, holes) = sections_and_placeholders();
    let pages = [
        "/admin/crm".to_owned(),
        "/admin/seats".to_owned(),
        "/admin/seats/assign?select=all".to_owned(),
        "/admin/sync".to_owned(),
        format!("/admin/sync/activities/{activity}"),
        "/leads".to_owned(),
        "/accounts".to_owned(),
        "/people".to_owned(),
        format!("/people/{person}?q=cleo"),
        "/unassigned".to_owned(),
        format!("/unassigned?link={activity}&q=li"),
        format!("/people/{}", Uuid::from_u128(404)),
    ];
    for lang in Lang::ALL {
        let mut anonymous = Browser::new(&app);
        anonymous.accept_language = Some(lang.code().to_owned());
        let signin = anonymous.get("/signin").await;
        assert_complete(&signin, "/signin", lang, &keys, &holes);

        let mut browser = Browser::new(&app);
        browser.accept_language = Some(lang.code().to_owned());
        browser.sign_in("ada@contoso.com").await;
        for path in &pages {
            let page = browser.get(path).await;
            let want = if path.ends_with(&Uuid::from_u128(404).to_string()) {
                404
            } else {
                200
            };
            assert_eq!(page.status, want, "{path} in {lang:?}: {}", page.body);
            assert_complete(&page, path, lang, &keys, &holes);
            if path.starts_with(&format!("/people/{person}")) {
                // The work history, in a sentence of the page's language.
                let previously =
                    Tr::new(lang).t1("person.previously", "companies", "Tailspin Toys");
                assert!(page.body.contains(&previously), "{path} in {lang:?}");
            }
        }
    }
    // A form sent back with errors, and the purge receipt, in each language.
    for lang in Lang::ALL {
        let mut browser = Browser::new(&app);
        browser.accept_language = Some(lang.code().to_owned());
        browser.sign_in("ada@contoso.com").await;
        let crm = browser.get("/admin/crm").await;
        let refused = browser
            .post("/admin/crm/settings", &crm, &[("pipeline_stage", "soon")])
            .await;
        assert_eq!(refused.status, 422);
        assert_complete(&refused, "settings refused", lang, &keys, &holes);
        let receipt = browser
            .post("/admin/crm/disconnect", &crm, &[("purge", "yes")])
            .await;
        assert_eq!(receipt.status, 200, "{}", receipt.body);
        assert_complete(&receipt, "purge receipt", lang, &keys, &holes);
        let disconnected = browser.get("/admin/crm").await;
        assert_complete(
            &disconnected,
            "/admin/crm disconnected",
            lang,
            &keys,
            &holes,
        );
        connect_in_store(&app, tenant).await;
    }

    // A rep is kept out of every admin page, in its language.
    let mut rey = Browser::new(&app);
    rey.accept_language = Some("nl".into());
    rey.sign_in("rey@contoso.com").await;
    for path in &pages[..5] {
        let page = rey.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.contains("Alleen een beheerder van deze werkruimte kan deze pagina openen."));
    }
    assert!(rep.seat.is_some());
}
