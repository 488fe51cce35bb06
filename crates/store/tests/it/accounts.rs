use chrono::TimeDelta;
use secrecy::{ExposeSecret, SecretString};
use store::Clock;
use store::accounts::SignIn;
use store::tenants::NewUser;

use crate::harness::{Harness, both};

both!(
    sign_in_checks_the_password,
    repeated_failures_lock_the_email_for_a_while,
    many_failures_from_one_address_lock_that_address,
    sessions_expire_and_end,
    api_tokens_expire_and_are_revocable,
);

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

async fn user_with_password(h: &Harness, email: &str) -> domain::tenant::User {
    let tenant = h.tenant("Acme", 3).await;
    h.store
        .tenant(tenant)
        .create_user(NewUser {
            email: email.to_owned(),
            display_name: "Ana".to_owned(),
            admin: true,
            password: Some(secret("correct horse battery")),
        })
        .await
        .unwrap()
}

async fn sign_in_checks_the_password(h: Harness) {
    let ana = user_with_password(&h, "ana@acme.example").await;
    let ok = h
        .store
        .sign_in(" ANA@acme.example", &secret("correct horse battery"), None)
        .await
        .unwrap();
    assert_eq!(ok, SignIn::SignedIn(ana.clone()));
    for (email, password) in [
        ("ana@acme.example", "wrong horse battery"),
        ("nobody@acme.example", "correct horse battery"),
        ("", ""),
    ] {
        assert_eq!(
            h.store
                .sign_in(email, &secret(password), None)
                .await
                .unwrap(),
            SignIn::WrongCredentials,
            "{email}"
        );
    }
    let too_short = h
        .store
        .tenant(ana.tenant)
        .set_password(ana.id, secret("short"))
        .await;
    assert!(matches!(too_short, Err(store::StoreError::Invalid(_))));
    h.store
        .tenant(ana.tenant)
        .set_password(ana.id, secret("a new passphrase ✓"))
        .await
        .unwrap();
    assert_eq!(
        h.store
            .sign_in("ana@acme.example", &secret("correct horse battery"), None)
            .await
            .unwrap(),
        SignIn::WrongCredentials
    );
    assert!(matches!(
        h.store
            .sign_in("ana@acme.example", &secret("a new passphrase ✓"), None)
            .await
            .unwrap(),
        SignIn::SignedIn(_)
    ));
}

async fn repeated_failures_lock_the_email_for_a_while(h: Harness) {
    user_with_password(&h, "ana@acme.example").await;
    let wrong = secret("guess guess guess");
    for _ in 0..5 {
        assert_eq!(
            h.store
                .sign_in("ana@acme.example", &wrong, Some("203.0.113.9"))
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    // Locked: even the right password is refused, and the answer says until when.
    let locked = h
        .store
        .sign_in(
            "ana@acme.example",
            &secret("correct horse battery"),
            Some("198.51.100.1"),
        )
        .await
        .unwrap();
    let until = h.clock.now() + TimeDelta::minutes(15);
    assert_eq!(locked, SignIn::LockedOut { until });
    h.clock.advance(TimeDelta::minutes(15));
    assert!(matches!(
        h.store
            .sign_in("ana@acme.example", &secret("correct horse battery"), None)
            .await
            .unwrap(),
        SignIn::SignedIn(_)
    ));
    // Failures spread out (four per 15-minute window) never lock.
    for _ in 0..8 {
        h.clock.advance(TimeDelta::minutes(4));
        assert_eq!(
            h.store
                .sign_in("ana@acme.example", &wrong, None)
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    assert!(matches!(
        h.store
            .sign_in("ana@acme.example", &secret("correct horse battery"), None)
            .await
            .unwrap(),
        SignIn::SignedIn(_)
    ));
}

async fn many_failures_from_one_address_lock_that_address(h: Harness) {
    let ana = user_with_password(&h, "ana@acme.example").await;
    let mut options = store::StoreOptions::new(h.url.clone());
    options.clock = std::sync::Arc::new(h.clock.clone());
    options.throttle = store::accounts::ThrottlePolicy {
        max_failures_per_address: 3,
        ..store::accounts::ThrottlePolicy::default()
    };
    let strict = store::Store::connect(options).await.unwrap();
    // Three different emails guessed from one address: the address is locked, for any email.
    for email in ["a@x.example", "b@x.example", "c@x.example"] {
        assert_eq!(
            strict
                .sign_in(email, &secret("guess guess"), Some("203.0.113.7"))
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    let right = secret("correct horse battery");
    assert!(matches!(
        strict
            .sign_in("ana@acme.example", &right, Some("203.0.113.7"))
            .await
            .unwrap(),
        SignIn::LockedOut { .. }
    ));
    // Another address is not affected.
    assert_eq!(
        strict
            .sign_in("ana@acme.example", &right, Some("198.51.100.2"))
            .await
            .unwrap(),
        SignIn::SignedIn(ana)
    );
}

async fn sessions_expire_and_end(h: Harness) {
    let ana = user_with_password(&h, "ana@acme.example").await;
    let mut t = h.store.tenant(ana.tenant);
    let session = t.create_session(ana.id, TimeDelta::hours(8)).await.unwrap();
    assert!(session.token.expose_secret().len() > 40);
    let who = h.store.session_user(&session.token).await.unwrap().unwrap();
    assert_eq!(who.user, ana);
    assert_eq!(who.expires_at, session.expires_at);
    // The stored row holds a hash, not the token.
    let mut raw = h.raw().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(session.token.expose_secret()));
    assert_eq!(
        h.store.session_user(&secret("lbs_forged")).await.unwrap(),
        None
    );
    assert_eq!(h.store.session_user(&secret("")).await.unwrap(), None);

    h.clock.advance(TimeDelta::hours(8));
    assert_eq!(h.store.session_user(&session.token).await.unwrap(), None);
    assert_eq!(h.store.delete_expired_sessions().await.unwrap(), 1);

    let second = t.create_session(ana.id, TimeDelta::hours(8)).await.unwrap();
    h.store.end_session(&second.token).await.unwrap();
    assert_eq!(h.store.session_user(&second.token).await.unwrap(), None);
    let third = t.create_session(ana.id, TimeDelta::hours(8)).await.unwrap();
    assert_eq!(t.end_user_sessions(ana.id).await.unwrap(), 1);
    assert_eq!(h.store.session_user(&third.token).await.unwrap(), None);
}

async fn api_tokens_expire_and_are_revocable(h: Harness) {
    let ana = user_with_password(&h, "ana@acme.example").await;
    let mut t = h.store.tenant(ana.tenant);
    let issued = t
        .create_api_token(ana.id, "mobile", TimeDelta::days(30))
        .await
        .unwrap();
    let who = h
        .store
        .api_token_user(&issued.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.user.id, ana.id);
    // A session lookup does not accept an API token, nor the reverse.
    assert_eq!(h.store.session_user(&issued.token).await.unwrap(), None);
    let listed = t.api_tokens(ana.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "mobile");
    let first_use = listed[0].last_used_at.unwrap();
    assert_eq!(first_use, h.clock.now());
    // Used again within the minute: the recorded use stays; a minute later it moves.
    h.clock.advance(TimeDelta::seconds(59));
    h.store
        .api_token_user(&issued.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        t.api_tokens(ana.id).await.unwrap()[0].last_used_at,
        Some(first_use)
    );
    h.clock.advance(TimeDelta::seconds(1));
    h.store
        .api_token_user(&issued.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        t.api_tokens(ana.id).await.unwrap()[0].last_used_at,
        Some(h.clock.now())
    );
    assert!(
        format!("{listed:?}")
            .find(issued.token.expose_secret())
            .is_none()
    );

    t.revoke_api_token(issued.id).await.unwrap();
    assert_eq!(h.store.api_token_user(&issued.token).await.unwrap(), None);
    assert!(t.api_tokens(ana.id).await.unwrap()[0].revoked_at.is_some());

    let short = t
        .create_api_token(ana.id, "script", TimeDelta::hours(1))
        .await
        .unwrap();
    assert!(
        h.store
            .api_token_user(&short.token)
            .await
            .unwrap()
            .is_some()
    );
    h.clock.advance(TimeDelta::hours(1));
    assert_eq!(h.store.api_token_user(&short.token).await.unwrap(), None);
    let nameless = t.create_api_token(ana.id, "  ", TimeDelta::hours(1)).await;
    assert!(matches!(nameless, Err(store::StoreError::Invalid(_))));
}
