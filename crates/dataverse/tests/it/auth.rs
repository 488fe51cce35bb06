//! Tokens from the emulated Entra ID: client credentials, the admin sign-in with PKCE and rotating
//! refresh tokens, and how each failure is classified.

use dataverse::auth::Auth;
use dataverse::{Client, Error, ErrorKind};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::harness::{Emulator, query_value};

#[tokio::test]
async fn an_application_user_reaches_who_am_i() {
    let e = Emulator::start().await;
    let who: Value = e.client().get_json("WhoAmI").await.unwrap();
    assert_eq!(
        who["UserId"].as_str().unwrap(),
        e.emu.info.application_user_id.to_string()
    );
}

#[tokio::test]
async fn an_admin_signs_in_with_pkce_and_the_refresh_token_rotates() {
    let e = Emulator::seeded().await;
    let client = Client::new(e.config(Auth::User {
        sign_in: e.sign_in(),
        refresh_token: None,
    }))
    .unwrap();
    // Before anyone signs in there is no token to use.
    assert_eq!(
        client.get_json::<Value>("WhoAmI").await.unwrap_err().kind(),
        ErrorKind::Auth
    );

    let start = client.authorize_url().unwrap();
    let (redirect, oid) = e.pick_account(&start.url).await;
    assert_eq!(query_value(&redirect, "state"), start.state);
    // A wrong verifier is refused by Entra (PKCE), and the code is then spent.
    let wrong = SecretString::from("x".repeat(43));
    let refused = client
        .exchange_code(&query_value(&redirect, "code"), &wrong)
        .await
        .unwrap_err();
    match refused {
        Error::Auth(a) => assert_eq!(a.error, "invalid_grant"),
        other => panic!("{other:?}"),
    }
    let (redirect, _) = e.pick_account(&start.url).await;
    client
        .exchange_code(&query_value(&redirect, "code"), &start.verifier)
        .await
        .unwrap();

    let admin = e.client();
    let me: Value = admin
        .get_json(&format!(
            "systemusers?$select=systemuserid&$filter=azureactivedirectoryobjectid eq {oid}"
        ))
        .await
        .unwrap();
    let who: Value = client.get_json("WhoAmI").await.unwrap();
    assert_eq!(who["UserId"], me["value"][0]["systemuserid"]);

    // An hour later Dataverse refuses the cached token; the client renews it with the refresh
    // token, which Entra rotates.
    let first = client.refresh_token().await.unwrap();
    e.admin(Method::POST, "clock", json!({"advance_seconds": 3700}))
        .await;
    let who_again: Value = client.get_json("WhoAmI").await.unwrap();
    assert_eq!(who_again["UserId"], who["UserId"]);
    let second = client.refresh_token().await.unwrap();
    assert_ne!(first.expose_secret(), second.expose_secret());

    // The persisted (latest) refresh token works in a new client; the spent one does not.
    let resumed = Client::new(e.config(Auth::User {
        sign_in: e.sign_in(),
        refresh_token: Some(second),
    }))
    .unwrap();
    let who_resumed: Value = resumed.get_json("WhoAmI").await.unwrap();
    assert_eq!(who_resumed["UserId"], who["UserId"]);
    let stale = Client::new(e.config(Auth::User {
        sign_in: e.sign_in(),
        refresh_token: Some(first),
    }))
    .unwrap();
    match stale.get_json::<Value>("WhoAmI").await.unwrap_err() {
        Error::Auth(a) => {
            assert_eq!(a.error, "invalid_grant");
            assert!(a.aadsts.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_secret_is_an_entra_error_with_its_aadsts_code() {
    let e = Emulator::start().await;
    let auth = e.app_auth(&e.emu.info.client_id.to_string(), "not-the-secret");
    let client = Client::new(e.config(auth)).unwrap();
    let err = client.get_json::<Value>("WhoAmI").await.unwrap_err();
    match &err {
        Error::Auth(a) => {
            assert_eq!(a.status, 401);
            assert_eq!(a.aadsts, Some(7000215));
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err:?}").contains("not-the-secret"));
    assert!(!format!("{client:?}").contains(&e.emu.info.client_secret));
}

#[tokio::test]
async fn an_app_without_an_application_user_is_not_a_member() {
    let e = Emulator::start().await;
    let app = e
        .admin(
            Method::POST,
            "apps",
            json!({"display_name": "stranger", "application_user": false}),
        )
        .await;
    let auth = e.app_auth(
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    );
    let err = Client::new(e.config(auth))
        .unwrap()
        .get_json::<Value>("WhoAmI")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPrivileges);
    assert_eq!(err.code(), Some("0x80072560"));
}

#[tokio::test]
async fn an_untrusted_certificate_or_a_closed_port_cannot_connect() {
    let e = Emulator::start().await;
    let mut untrusted =
        e.config(e.app_auth(&e.emu.info.client_id.to_string(), &e.emu.info.client_secret));
    untrusted.extra_ca_pems.clear();
    let err = Client::new(untrusted)
        .unwrap()
        .get_json::<Value>("WhoAmI")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotConnect, "{err}");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed_authority = dataverse::Authority::with_url(
        format!("https://127.0.0.1:{port}").parse().unwrap(),
        "tenant",
    );
    let mut closed = e.config(Auth::ClientCredentials(dataverse::ClientCredentials {
        authority: closed_authority,
        client_id: "c".into(),
        client_secret: SecretString::from("s"),
    }));
    closed.org_url = format!("https://127.0.0.1:{port}");
    let err = Client::new(closed)
        .unwrap()
        .get_json::<Value>("WhoAmI")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotConnect, "{err}");
}

#[tokio::test]
async fn a_pem_without_a_certificate_is_a_configuration_error() {
    let e = Emulator::start().await;
    let mut config = e.config(e.app_auth("c", "s"));
    config.extra_ca_pems = vec!["not a certificate".into()];
    assert_eq!(Client::new(config).unwrap_err().kind(), ErrorKind::Config);
}
