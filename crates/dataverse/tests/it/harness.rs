//! A started emulator, clients configured for it, and its admin API.

use dataverse::auth::{Auth, Authority, ClientCredentials, UserSignIn};
use dataverse::{Client, ClientConfig};
use dataverse_emulator::seed::SeedSize;
use dataverse_emulator::{EmulatorConfig, RunningEmulator};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

pub struct Emulator {
    pub emu: RunningEmulator,
    pub ca_pem: String,
    /// Trusts the emulator's CA; follows no redirects (the sign-in tests read them).
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Emulator {
    pub async fn start() -> Emulator {
        Self::with(|_| {}).await
    }

    /// The demo org: users (an administrator, a manager, reps), accounts, contacts, opportunities.
    pub async fn seeded() -> Emulator {
        Self::with(|c| c.seed = Some(SeedSize::Small)).await
    }

    pub async fn with(configure: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            EmulatorConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        configure(&mut config);
        let emu = dataverse_emulator::start(config).await.unwrap();
        let ca_pem = std::fs::read_to_string(emu.info.ca_cert.as_ref().unwrap()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Emulator {
            emu,
            ca_pem,
            http,
            _dir: dir,
        }
    }

    pub fn authority(&self) -> Authority {
        Authority::with_url(
            self.emu.info.authority_url.parse().unwrap(),
            self.emu.info.tenant_id.to_string(),
        )
    }

    pub fn config(&self, auth: Auth) -> ClientConfig {
        let mut config = ClientConfig::new(&self.emu.info.org_url, auth);
        config.extra_ca_pems = vec![self.ca_pem.clone()];
        config.allow_non_dynamics_host = true;
        config
    }

    pub fn app_auth(&self, client_id: &str, secret: &str) -> Auth {
        Auth::ClientCredentials(ClientCredentials {
            authority: self.authority(),
            client_id: client_id.into(),
            client_secret: SecretString::from(secret.to_string()),
        })
    }

    /// A client signed in as the emulator's default application user (System Administrator).
    pub fn client(&self) -> Client {
        let auth = self.app_auth(
            &self.emu.info.client_id.to_string(),
            &self.emu.info.client_secret,
        );
        Client::new(self.config(auth)).unwrap()
    }

    /// A client for a new app registration whose application user holds `roles`.
    pub async fn app_client(&self, name: &str, roles: &[&str]) -> Client {
        let app = self
            .admin(
                Method::POST,
                "apps",
                serde_json::json!({"display_name": name, "roles": roles}),
            )
            .await;
        let auth = self.app_auth(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
        );
        Client::new(self.config(auth)).unwrap()
    }

    pub fn sign_in(&self) -> UserSignIn {
        UserSignIn {
            authority: self.authority(),
            client_id: self.emu.info.client_id.to_string(),
            client_secret: None,
            redirect_uri: "https://leadbridge.test/connect/callback".into(),
        }
    }

    /// Calls the emulator's admin API and returns its JSON answer (Null when empty).
    pub async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}/{path}", self.emu.info.admin_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "admin {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Signs in through the emulator's sign-in page as the user shown first and returns the
    /// redirect's query (`code`, `state`) and that user's Entra object id.
    pub async fn pick_account(&self, authorize_url: &str) -> (Vec<(String, String)>, String) {
        let page = self.http.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let mut form: Vec<(String, String)> = Vec::new();
        for input in html.split("<input type=\"hidden\" ").skip(1) {
            let name = between(input, "name=\"", "\"");
            let value = between(input, "value=\"", "\"").replace("&amp;", "&");
            form.push((name, value));
        }
        let user = between(
            html.split("name=\"user\"").nth(1).unwrap(),
            "value=\"",
            "\"",
        );
        form.push(("user".into(), user.clone()));
        let action = authorize_url.split('?').next().unwrap();
        let r = self.http.post(action).form(&form).send().await.unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let query = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        (query, user)
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].to_string()
}

pub fn query_value(query: &[(String, String)], name: &str) -> String {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
