//! The CRM as a test reads it: the emulator's Web API over HTTPS with an app-only token, as any
//! Dataverse client would.

use leadbridge::demo::DemoInfo;
use serde_json::Value;

pub struct Crm {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Crm {
    pub async fn connect(info: &DemoInfo) -> Crm {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = std::fs::read(&info.ca_cert).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        let emu = &info.emulator;
        let token: Value = http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                emu.authority_url, emu.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &emu.client_id.to_string()),
                ("client_secret", &emu.client_secret),
                ("scope", &format!("{}/.default", emu.org_url)),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Crm {
            http,
            api: emu.api_url.clone(),
            token: token["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// The rows of `entity_set` that `filter` selects.
    pub async fn rows(&self, entity_set: &str, filter: &str) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/{entity_set}", self.api))
            .query(&[("$filter", filter)])
            .bearer_auth(&self.token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {entity_set}?$filter={filter}");
        let body: Value = response.json().await.unwrap();
        body["value"].as_array().cloned().unwrap_or_default()
    }
}
