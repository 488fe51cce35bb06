//! A started Dataverse emulator for one test.

use dataverse_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::Value;

/// An emulator on a loopback port, its CA and an HTTPS client that trusts it.
pub struct Started {
    pub emu: RunningEmulator,
    /// The emulator's CA certificate, PEM.
    pub ca_pem: String,
    /// Trusts the emulator's CA; follows no redirects (sign-in tests read them).
    pub http: reqwest::Client,
    /// The state directory, removed with the emulator.
    _dir: tempfile::TempDir,
}

/// An emulator on a temporary state directory of its own, configured by `configure`.
pub async fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> Started {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    configure(&mut config);
    let emu = dataverse_emulator::start(config).await.unwrap();
    let ca_pem = std::fs::read_to_string(emu.info.ca_cert.as_ref().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Started {
        emu,
        ca_pem,
        http,
        _dir: dir,
    }
}

impl Started {
    /// Calls the emulator's admin API and returns its JSON answer (Null when empty); fails the
    /// test on an error status.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
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

    /// Signs in through the emulator's sign-in page at `authorize_url` as the user it shows
    /// first. Returns the redirect's query pairs (`code` and `state`, or an error) and that
    /// user's Entra object id.
    pub async fn pick_account(&self, authorize_url: &str) -> (Vec<(String, String)>, String) {
        let page = self.http.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), 200, "sign-in page of {authorize_url}");
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

/// The value of `name` in query pairs, empty when absent.
pub fn query_value(query: &[(String, String)], name: &str) -> String {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].to_string()
}
