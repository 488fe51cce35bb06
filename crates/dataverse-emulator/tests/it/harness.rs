//! A started emulator plus an HTTPS client that trusts its CA and holds an app token.

use dataverse_emulator::{EmulatorConfig, RunningEmulator};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Harness {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
    /// The state directory, removed with the harness unless the test owns it.
    _dir: Option<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut EmulatorConfig)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Self::in_dir(dir.path(), configure).await;
        h._dir = Some(dir);
        h
    }

    /// An emulator on a state directory the test owns (and may start another emulator on).
    pub async fn in_dir(
        dir: &std::path::Path,
        configure: impl FnOnce(&mut EmulatorConfig),
    ) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = EmulatorConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
        configure(&mut config);
        let emu = dataverse_emulator::start(config).await.unwrap();
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        let mut h = Harness {
            emu,
            http,
            token: String::new(),
            _dir: None,
        };
        let (id, secret) = (
            h.emu.info.client_id.to_string(),
            h.emu.info.client_secret.clone(),
        );
        h.token = h.app_token(&id, &secret).await;
        h
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.emu.info.authority_url, self.emu.info.tenant_id
        );
        let r = self.http.post(url).form(form).send().await.unwrap();
        Reply {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    pub async fn app_token(&self, client_id: &str, secret: &str) -> String {
        let scope = format!("{}/.default", self.emu.info.org_url);
        let r = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", &scope),
            ])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.emu.info.api_url, path)
    }

    /// A Web API call as the default application user.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call_as(&self.token.clone(), method, path, body, headers)
            .await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("Accept", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        Reply {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    /// Creates a row and returns its id from `OData-EntityId`.
    pub async fn create(&self, set: &str, body: Value) -> String {
        let r = self.call(Method::POST, set, Some(body), &[]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let entity = r.header("odata-entityid").unwrap();
        entity[entity.rfind('(').unwrap() + 1..entity.len() - 1].to_string()
    }

    pub async fn admin(&self, method: Method, path: &str, body: Value) -> Reply {
        let r = self
            .http
            .request(method, format!("{}/{path}", self.emu.info.admin_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        Reply {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }
}
