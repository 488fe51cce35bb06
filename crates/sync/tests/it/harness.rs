//! A started emulator with its admin API, and CRM connections to it.

use std::sync::Arc;

use dataverse_emulator::seed::SeedSize;
use dataverse_emulator::{EmulatorConfig, RunningEmulator};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use sync::crm::dynamics::{Dynamics, DynamicsConfig, DynamicsCrm};
use sync::crm::{ConnectionTarget, Credentials};

pub struct Emulator {
    pub emu: RunningEmulator,
    pub ca_pem: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// The small demo org: an administrator, a manager, five reps and a leaver; 60 accounts,
    /// 250 contacts, 40 leads, 80 opportunities.
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

    pub fn dynamics(&self, page_size: u32) -> Dynamics {
        Dynamics::new(DynamicsConfig {
            extra_ca_pems: vec![self.ca_pem.clone()],
            allow_non_dynamics_host: true,
            page_size,
            sign_in: None,
        })
    }

    pub fn app_target(&self, client_id: &str, secret: &str) -> ConnectionTarget {
        ConnectionTarget {
            org_url: self.emu.info.org_url.clone(),
            authority_url: Some(self.emu.info.authority_url.clone()),
            credentials: Credentials::ApplicationUser {
                entra_tenant: self.emu.info.tenant_id.to_string(),
                client_id: client_id.to_owned(),
                client_secret: SecretString::from(secret.to_owned()),
            },
        }
    }

    /// The emulator's default application user (System Administrator).
    pub fn admin_target(&self) -> ConnectionTarget {
        self.app_target(
            &self.emu.info.client_id.to_string(),
            &self.emu.info.client_secret,
        )
    }

    pub fn crm(&self, page_size: u32) -> Arc<DynamicsCrm> {
        Arc::new(
            self.dynamics(page_size)
                .open_dynamics(&self.admin_target())
                .unwrap(),
        )
    }

    /// A new app registration whose application user holds `roles`.
    pub async fn app_with_roles(&self, name: &str, roles: &[&str]) -> (String, String, String) {
        let app = self
            .admin(
                Method::POST,
                "apps",
                serde_json::json!({"display_name": name, "roles": roles}),
            )
            .await;
        (
            app["client_id"].as_str().unwrap().to_owned(),
            app["client_secret"].as_str().unwrap().to_owned(),
            app["application_user_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
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

    /// A Web API call as the default application user, for setting up and checking the CRM side.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token().await;
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.emu.info.api_url))
            .bearer_auth(token)
            .header("Accept", "application/json")
            .header(
                "Prefer",
                "odata.include-annotations=\"Microsoft.Dynamics.CRM.lookuplogicalname\"",
            );
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let mut value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(entity) = headers.get("odata-entityid").and_then(|v| v.to_str().ok()) {
            let id = &entity[entity.rfind('(').unwrap() + 1..entity.len() - 1];
            value = serde_json::json!({"id": id});
        }
        (status, value)
    }

    /// `GET` that must succeed.
    pub async fn get(&self, path: &str) -> Value {
        let (status, value) = self.api(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    /// Creates a row and returns its id.
    pub async fn create(&self, set: &str, body: Value) -> String {
        let (status, value) = self.api(Method::POST, set, Some(body)).await;
        assert_eq!(status, 204, "POST {set}: {value}");
        value["id"].as_str().unwrap().to_owned()
    }

    async fn token(&self) -> String {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.emu.info.authority_url, self.emu.info.tenant_id
        );
        let scope = format!("{}/.default", self.emu.info.org_url);
        let client_id = self.emu.info.client_id.to_string();
        let r = self
            .http
            .post(url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", self.emu.info.client_secret.as_str()),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}
