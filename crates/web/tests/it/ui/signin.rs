//! Signing in and out in the browser: cookie and form token, wrong passwords kept readable,
//! throttling, the language chosen from the browser or the switcher.

use crate::harness::{PASSWORD, TestApp, both, problem};
use crate::ui::Browser;

both!(sign_in_and_out_with_cookie_and_form_token);

async fn sign_in_and_out_with_cookie_and_form_token(app: TestApp) {
    let tenant = app.tenant("Contoso", 3).await;
    app.admin(tenant, "ada@contoso.example").await;
    let mut browser = Browser::new(&app);

    // A page behind sign-in sends the browser to the sign-in page, and back after.
    let away = browser.get("/").await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location.as_deref(), Some("/signin?next=%2F"));

    let page = browser.get("/signin?next=/admin/crm").await;
    assert_eq!(page.status, 200);
    page.assert_labelled();
    assert!(
        browser.cookies.contains_key("lb_form"),
        "anonymous form token"
    );
    assert!(page.contains("name=\"next\" value=\"/admin/crm\""));

    // Without the form token the post is refused, whatever the credentials.
    let forged = browser
        .post_raw(
            "/signin",
            &[("email", "ada@contoso.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.contains("This form has expired"), "{}", forged.body);
    assert!(!browser.cookies.contains_key("lb_session"));

    // A wrong password: a readable message, the email kept, no session.
    let wrong = browser
        .post(
            "/signin",
            &page,
            &[
                ("email", "ada@contoso.example"),
                ("password", "not it"),
                ("next", "/admin/crm"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.contains("The email address or the password is wrong."));
    assert!(wrong.contains("value=\"ada@contoso.example\""));
    assert!(!wrong.contains("not it"), "the password is never sent back");
    assert!(!browser.cookies.contains_key("lb_session"));

    let empty = browser
        .post("/signin", &page, &[("email", " "), ("password", "")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.contains("Enter your email address and your password."));

    // Signed in: the session cookie, back where the user was going.
    let done = browser
        .post(
            "/signin",
            &page,
            &[
                ("email", "ada@contoso.example"),
                ("password", PASSWORD),
                ("next", "/admin/crm"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/admin/crm"));
    let set_cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("lb_session="))
        .unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));

    // Signed in, the sign-in page and the front door lead to the admin's first page.
    let again = browser.get("/signin").await;
    assert_eq!(again.location.as_deref(), Some("/admin/crm"));
    let home = browser.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/admin/crm"));

    // Another site's address is never followed.
    let mut other = Browser::new(&app);
    let page = other.get("/signin").await;
    let done = other
        .post(
            "/signin",
            &page,
            &[
                ("email", "ada@contoso.example"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/admin/crm"));

    // Signing out needs the session's token, then ends the session for good.
    let session = browser.cookies["lb_session"].clone();
    let refused = browser.post_raw("/signout", &[("csrf", "nope")]).await;
    assert_eq!(refused.status, 403);
    let token = session_token(&session);
    let out = browser.post_raw("/signout", &[("csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/signin?notice=signed_out"));
    assert!(!browser.cookies.contains_key("lb_session"));
    browser.cookies.insert("lb_session".into(), session);
    let after = browser.get("/").await;
    assert_eq!(after.status, 303, "the old cookie signs no one in");
    let notice = Browser::new(&app).get("/signin?notice=signed_out").await;
    assert!(notice.contains("You are signed out."));
    let unknown = Browser::new(&app).get("/signin?notice=%3Cb%3Ehi").await;
    assert!(!unknown.contains("&lt;b&gt;hi") && !unknown.contains("<b>hi"));
}

/// The CSRF token of a session, as the server derives it (the page carries the same).
pub fn session_token(session: &str) -> String {
    web::auth::csrf::token_for(&secrecy::SecretString::from(session.to_owned()))
}

both!(repeated_failures_lock_the_sign_in_with_a_readable_wait);

async fn repeated_failures_lock_the_sign_in_with_a_readable_wait(app: TestApp) {
    let tenant = app.tenant("Contoso", 1).await;
    app.admin(tenant, "ada@contoso.example").await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/signin").await;
    let mut last = None;
    for _ in 0..12 {
        let r = browser
            .post(
                "/signin",
                &page,
                &[("email", "ada@contoso.example"), ("password", "guess")],
            )
            .await;
        let locked = r.status == 429;
        last = Some(r);
        if locked {
            break;
        }
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{}", last.body);
    assert!(last.contains("Too many failed sign-ins. Try again in"));
    assert!(last.contains("value=\"ada@contoso.example\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_comes_from_the_switcher_then_the_browser_then_english() {
    let app = TestApp::sqlite().await;
    let mut browser = Browser::new(&app);
    let english = browser.get("/signin").await;
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains(">Sign in</h1>"));

    browser.accept_language = Some("de-DE, fr;q=0.8, en;q=0.5".into());
    let french = browser.get("/signin").await;
    assert!(french.contains("<html lang=\"fr\">"), "{}", french.body);
    assert!(french.contains("Mot de passe"));

    // The switcher wins over the browser, and brings the user back to the page.
    let switched = browser
        .post(
            "/language",
            &french,
            &[("lang", "nl"), ("next", "/signin?next=%2Fleads")],
        )
        .await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location.as_deref(), Some("/signin?next=%2Fleads"));
    assert_eq!(browser.cookies["lb_lang"], "nl");
    let dutch = browser.get("/signin").await;
    assert!(dutch.contains("<html lang=\"nl\">"));
    assert!(dutch.contains("Wachtwoord"));

    let bad = browser
        .post("/language", &dutch, &[("lang", "klingon")])
        .await;
    assert_eq!(bad.status, 422);
    let forged = browser.post_raw("/language", &[("lang", "it")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(browser.cookies["lb_lang"], "nl");
}

both!(a_signed_in_users_language_follows_them_to_another_browser);

async fn a_signed_in_users_language_follows_them_to_another_browser(app: TestApp) {
    let tenant = app.tenant("Contoso", 3).await;
    let ada = app.admin(tenant, "ada@contoso.example").await;
    let mut laptop = Browser::new(&app);
    laptop.accept_language = Some("en-GB".into());
    let page = laptop.sign_in("ada@contoso.example").await;
    let to = page.location.unwrap();
    let english = laptop.get(&to).await;
    assert!(english.contains("<html lang=\"en\">"), "{}", english.body);
    let switched = laptop
        .post("/language", &english, &[("lang", "es"), ("next", &to)])
        .await;
    assert_eq!(switched.status, 303, "{}", switched.body);

    // Another browser, set to English and without the cookie: once signed in, Spanish.
    let mut phone = Browser::new(&app);
    phone.accept_language = Some("en-US".into());
    assert!(phone.get("/signin").await.contains("<html lang=\"en\">"));
    phone.sign_in("ada@contoso.example").await;
    assert_eq!(
        phone.cookies["lb_lang"], "es",
        "signing in brings the choice"
    );
    let spanish = phone.get(&to).await;
    assert!(spanish.contains("<html lang=\"es\">"), "{}", spanish.body);

    // The API shows and changes the same setting; a language the UI lacks is refused.
    let me: serde_json::Value = app
        .get("/api/v1/me", &ada.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["language"], "es");
    let bad = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&ada.token),
            serde_json::json!({"language": "tlh"}),
        )
        .await;
    problem(bad, 422, "validation_failed").await;
    let cleared = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&ada.token),
            serde_json::json!({"language": null}),
        )
        .await;
    assert_eq!(cleared.status(), 200);
    let cleared: serde_json::Value = cleared.json().await.unwrap();
    assert_eq!(cleared["language"], serde_json::Value::Null);
    // Back to each browser's own: a fresh browser in Italian gets Italian.
    let mut tablet = Browser::new(&app);
    tablet.accept_language = Some("it-IT".into());
    tablet.sign_in("ada@contoso.example").await;
    assert!(tablet.get(&to).await.contains("<html lang=\"it\">"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_served_from_the_binary() {
    let app = TestApp::sqlite().await;
    let mut browser = Browser::new(&app);
    let htmx = browser.get("/static/htmx.min.js").await;
    assert_eq!(htmx.status, 200);
    assert!(htmx.body.starts_with("var htmx="));
    assert!(
        htmx.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let css = browser.get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(browser.get("/static/nope.js").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_neither_seat_nor_admin_rights_is_told_what_to_do() {
    let app = TestApp::sqlite().await;
    let tenant = app.tenant("Contoso", 1).await;
    app.user(tenant, "guest@contoso.example", false, false)
        .await;
    let mut browser = Browser::new(&app);
    let done = browser.sign_in("guest@contoso.example").await;
    assert_eq!(done.location.as_deref(), Some("/"));
    let home = browser.get("/").await;
    assert_eq!(home.status, 403);
    assert!(home.contains("Ask an admin of your workspace to assign you a seat."));
}
