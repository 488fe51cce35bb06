//! Signing in over HTTP: bearer tokens, wrong passwords, throttling, expiry and revocation,
//! browser sessions with their cookie attributes and CSRF protection.

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, both, problem};

both!(
    a_token_signs_requests_and_wrong_credentials_do_not,
    repeated_failures_lock_the_email_with_retry_after,
    expired_and_revoked_tokens_stop_working,
    browser_session_needs_its_csrf_token_for_writes,
);

async fn a_token_signs_requests_and_wrong_credentials_do_not(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let ana = app.rep(t, "ana@contoso.com").await;

    let me: Value = app
        .get("/api/v1/me", &ana.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ana@contoso.com");
    assert_eq!(me["admin"], false);
    assert_eq!(me["seat_id"], ana.seat.unwrap().to_string());
    assert!(
        me.get("csrf_token").is_none(),
        "no CSRF token with a bearer token"
    );

    // Same answer for a wrong password and an unknown email: it does not tell which emails exist.
    for (email, password) in [
        ("ana@contoso.com", "wrong password!"),
        ("nobody@contoso.com", PASSWORD),
        ("ANA@contoso.com ", "wrong password!"),
    ] {
        let r = app
            .post_json(
                "/api/v1/auth/token",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert!(r.headers().contains_key("www-authenticate"));
        let p = problem(r, 401, "unauthenticated").await;
        assert_eq!(p["detail"], "The email address or the password is wrong.");
    }
    // Email is matched trimmed and case-insensitively.
    app.token(" Ana@Contoso.com", PASSWORD).await;

    let no_credentials = app.http.get(app.url("/api/v1/me")).send().await.unwrap();
    problem(no_credentials, 401, "unauthenticated").await;
    for header in ["Basic YW5hOnB3", "Bearer", "Bearer lbt_0000", "lbt_0000"] {
        let r = app
            .http
            .get(app.url("/api/v1/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        problem(r, 401, "unauthenticated").await;
    }
    // A session token is not an API token.
    let r = app.get("/api/v1/me", "lbs_0000").await;
    problem(r, 401, "unauthenticated").await;
}

async fn repeated_failures_lock_the_email_with_retry_after(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    app.rep(t, "ana@contoso.com").await;
    let attempt = |password: &'static str| {
        app.post_json(
            "/api/v1/auth/token",
            None,
            json!({"email": "ana@contoso.com", "password": password}),
        )
    };
    for _ in 0..5 {
        problem(attempt("guess guess guess").await, 401, "unauthenticated").await;
    }
    // Locked: even the right password is refused until the lock ends.
    let r = attempt(PASSWORD).await;
    let retry_after: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "retry after {retry_after}s"
    );
    let p = problem(r, 429, "too_many_requests").await;
    assert!(p["detail"].as_str().unwrap().contains("Try again in"));
    let r = app
        .post_json(
            "/api/v1/auth/session",
            None,
            json!({"email": "ana@contoso.com", "password": PASSWORD}),
        )
        .await;
    problem(r, 429, "too_many_requests").await;

    app.clock.advance(TimeDelta::seconds(retry_after));
    assert_eq!(attempt(PASSWORD).await.status(), 200);
}

async fn expired_and_revoked_tokens_stop_working(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let ana = app.rep(t, "ana@contoso.com").await;
    let bob = app.rep(t, "bob@contoso.com").await;

    let tokens: Value = app
        .get("/api/v1/me/tokens", &ana.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    let ana_token_id = tokens[0]["id"].as_str().unwrap().to_owned();
    assert!(
        tokens[0].get("token").is_none(),
        "a token is shown only once"
    );

    // Bob cannot revoke Ana's token, even knowing its id.
    let r = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/me/tokens/{ana_token_id}"),
            Some(&bob.token),
            json!(null),
        )
        .await;
    problem(r, 404, "not_found").await;
    assert_eq!(app.get("/api/v1/me", &ana.token).await.status(), 200);

    let second = app.token("ana@contoso.com", PASSWORD).await;
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/me/tokens/{ana_token_id}")))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app.get("/api/v1/me", &ana.token).await;
    let p = problem(r, 401, "unauthenticated").await;
    assert_eq!(
        p["detail"],
        "This API token is unknown, expired or revoked."
    );
    assert_eq!(app.get("/api/v1/me", &second).await.status(), 200);

    let r = app
        .http
        .delete(app.url("/api/v1/me/tokens/not-an-id"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    problem(r, 404, "not_found").await;

    app.clock.advance(TimeDelta::days(31));
    problem(app.get("/api/v1/me", &second).await, 401, "unauthenticated").await;
}

fn session_cookie(r: &reqwest::Response) -> (String, String) {
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let value = set_cookie.split(';').next().unwrap().trim().to_owned();
    (value, set_cookie)
}

async fn browser_session_needs_its_csrf_token_for_writes(app: TestApp) {
    let t = app.tenant("Contoso", 3).await;
    let ana = app.rep(t, "ana@contoso.com").await;
    let sign_in = json!({"email": "ana@contoso.com", "password": PASSWORD});

    let r = app
        .post_json("/api/v1/auth/session", None, sign_in.clone())
        .await;
    assert_eq!(r.status(), 200);
    let (cookie, set_cookie) = session_cookie(&r);
    assert!(cookie.starts_with("lb_session=lbs_"), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let session: Value = r.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();

    // Behind a TLS-terminating proxy the cookie is Secure.
    let r = app
        .http
        .post(app.url("/api/v1/auth/session"))
        .header("x-forwarded-proto", "https")
        .json(&sign_in)
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&r).1.contains("; Secure"));

    let me: Value = app
        .http
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ana@contoso.com");
    assert_eq!(me["csrf_token"], csrf);

    let sign_out = |csrf: Option<&str>| {
        let mut request = app
            .http
            .delete(app.url("/api/v1/auth/session"))
            .header("cookie", &cookie);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    problem(sign_out(None).await.unwrap(), 403, "csrf_failed").await;
    problem(sign_out(Some("0000")).await.unwrap(), 403, "csrf_failed").await;
    // Another session's token does not do either.
    let other: Value = app
        .post_json("/api/v1/auth/session", None, sign_in)
        .await
        .json()
        .await
        .unwrap();
    let other_csrf = other["csrf_token"].as_str().unwrap();
    problem(
        sign_out(Some(other_csrf)).await.unwrap(),
        403,
        "csrf_failed",
    )
    .await;

    let r = sign_out(Some(&csrf)).await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(session_cookie(&r).1.contains("Max-Age=0"));
    let r = app
        .http
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(r, 401, "unauthenticated").await;

    // A bearer token has no session to end.
    let r = app
        .send_json(
            Method::DELETE,
            "/api/v1/auth/session",
            Some(&ana.token),
            json!(null),
        )
        .await;
    problem(r, 409, "conflict").await;
}
