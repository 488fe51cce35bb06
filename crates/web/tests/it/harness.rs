//! A running server for one test: the real router on a loopback port, over a migrated store of its
//! own (a SQLite file in a temporary directory, or a PostgreSQL database created on
//! 127.0.0.1:5432 and dropped afterwards), with a clock the test moves.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ids::TenantId;
use secrecy::SecretString;
use serde_json::{Value, json};
use store::secrets::Keyring;
use store::tenants::NewUser;
use store::{ManualClock, Store, StoreOptions};
use test_support::pg::TestDatabase;
use web::{AppState, WebConfig};

/// `both!(name, …)` makes `name::sqlite` and `name::postgres` tests that each run
/// `async fn name(app: TestApp)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::TestApp::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::harness::TestApp::postgres().await {
                    super::$name(app).await;
                }
            }
        }
    )*};
}

pub(crate) use both;

pub const PASSWORD: &str = "correct horse battery";

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// Builds a sync engine over the test's store.
pub type MakeSync = Box<dyn FnOnce(Store) -> Arc<dyn web::sync::SyncControl> + Send>;

/// A user made for a test, with a bearer token from `POST /api/v1/auth/token`.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub tenant: TenantId,
    pub token: String,
    pub seat: Option<domain::ids::SeatId>,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: ManualClock,
    _pg: Option<TestDatabase>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        TestApp::sqlite_with(WebConfig::default()).await
    }

    pub async fn sqlite_with(config: WebConfig) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = store::sqlite_url(dir.path());
        TestApp::start(url, None, Some(dir), config, None).await
    }

    /// With a sync engine of the test's own making in place of the store-only default.
    pub async fn sqlite_with_sync(make: MakeSync) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = store::sqlite_url(dir.path());
        TestApp::start(url, None, Some(dir), WebConfig::default(), Some(make)).await
    }

    /// `None` only when `LEADBRIDGE_SKIP_PG=1`; otherwise an unreachable server fails the test.
    pub async fn postgres() -> Option<TestApp> {
        let db = TestDatabase::create("lb_web_test").await?;
        Some(
            TestApp::start(
                db.url().to_owned(),
                Some(db),
                None,
                WebConfig::default(),
                None,
            )
            .await,
        )
    }

    async fn start(
        url: String,
        pg: Option<TestDatabase>,
        dir: Option<tempfile::TempDir>,
        config: WebConfig,
        sync: Option<MakeSync>,
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let clock = ManualClock::new(start_time());
        let mut options = StoreOptions::new(&url);
        options.max_connections = 5;
        options.clock = Arc::new(clock.clone());
        options.keyring = Some(Arc::new(Keyring::single(1, &[0x42; 32]).unwrap()));
        let store = Store::connect(options).await.unwrap();
        store.migrate().await.unwrap();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut state = AppState::new(store.clone(), config);
        if let Some(make) = sync {
            state = state.with_sync(make(store.clone()));
        }
        tokio::spawn(async move {
            web::serve_on(listener, state, async {
                let _ = rx.await;
            })
            .await
        });
        TestApp {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store,
            clock,
            _pg: pg,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn tenant(&self, name: &str, seats: u32) -> TenantId {
        self.store.create_tenant(name, seats).await.unwrap().id
    }

    /// A user with the test password, a seat if `seat`, and a bearer token.
    pub async fn user(&self, tenant: TenantId, email: &str, admin: bool, seat: bool) -> TestUser {
        let mut t = self.store.tenant(tenant);
        let user = t
            .create_user(NewUser {
                email: email.to_owned(),
                display_name: email.split('@').next().unwrap().to_owned(),
                admin,
                password: Some(SecretString::from(PASSWORD.to_owned())),
            })
            .await
            .unwrap();
        let seat = if seat {
            Some(t.assign_seat(user.id).await.unwrap().seat.id)
        } else {
            None
        };
        let token = self.token(email, PASSWORD).await;
        TestUser {
            tenant,
            token,
            seat,
        }
    }

    pub async fn admin(&self, tenant: TenantId, email: &str) -> TestUser {
        self.user(tenant, email, true, false).await
    }

    pub async fn rep(&self, tenant: TenantId, email: &str) -> TestUser {
        self.user(tenant, email, false, true).await
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/auth/token",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), 200, "sign-in of {email}");
        let body: Value = r.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// A body of any media type.
    pub async fn post_body(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

/// Asserts a problem+json answer with this status and code; returns the body.
pub async fn problem(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status(), status, "status of {}", r.url());
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "content type of {}",
        r.url()
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
