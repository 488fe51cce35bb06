//! A started emulator with its admin API and CRM connections to it; a migrated store on SQLite or
//! on a PostgreSQL database of its own; and the engine over both.

use std::sync::Arc;

use domain::ids::{SeatId, TenantId, UserId};
use store::secrets::Keyring;
use store::tenants::NewUser;
use store::{Store, StoreOptions};
use sync::crm::dynamics::SignInApp;
use sync::{EngineConfig, SyncEngine};

use dataverse_emulator::EmulatorConfig;
use dataverse_emulator::seed::SeedSize;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use sync::crm::dynamics::{Dynamics, DynamicsConfig, DynamicsCrm};
use sync::crm::{ConnectionTarget, Credentials};
use test_support::emulator::{self, Started, query_value};
use test_support::pg::TestDatabase;

/// A started emulator ([`Started`]: `emu`, `ca_pem`, `http`, `admin`, `pick_account`) with CRM
/// connections to it.
pub struct Emulator(Started);

impl std::ops::Deref for Emulator {
    type Target = Started;

    fn deref(&self) -> &Started {
        &self.0
    }
}

impl Emulator {
    /// The small demo org: an administrator, a manager, five reps and a leaver; 60 accounts,
    /// 250 contacts, 40 leads, 80 opportunities.
    pub async fn seeded() -> Emulator {
        Self::with(|c| c.seed = Some(SeedSize::Small)).await
    }

    pub async fn with(configure: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
        Emulator(emulator::start(configure).await)
    }

    pub fn dynamics(&self, page_size: u32) -> Dynamics {
        Dynamics::new(DynamicsConfig {
            extra_ca_pems: vec![self.ca_pem.clone()],
            allow_non_dynamics_host: true,
            page_size,
            sign_in: Some(SignInApp {
                client_id: self.emu.info.client_id.to_string(),
                client_secret: None,
                redirect_uri: REDIRECT_URI.into(),
                entra_tenant: self.emu.info.tenant_id.to_string(),
            }),
        })
    }

    /// Signs in through the emulator's sign-in page as the user shown first and returns the
    /// redirect's `code` and `state`.
    pub async fn sign_in(&self, authorize_url: &str) -> (String, String) {
        let (query, _) = self.pick_account(authorize_url).await;
        (query_value(&query, "code"), query_value(&query, "state"))
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

pub const REDIRECT_URI: &str = "https://leadbridge.test/connect/callback";

/// Every engine test runs on both databases: `both!(name, …)` makes `name::sqlite` and
/// `name::postgres` tests that each run `async fn name(db: Db)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Db::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::harness::Db::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

pub(crate) use both;

pub const TEST_KEY: [u8; 32] = [0x42; 32];

/// A migrated store: a SQLite file in a temporary directory or a PostgreSQL database of its own,
/// dropped afterwards.
pub struct Db {
    pub store: Store,
    pub url: String,
    _pg: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = store::sqlite_url(dir.path());
        let store = open(&url).await;
        store.migrate().await.unwrap();
        Db {
            store,
            url,
            _pg: None,
            _dir: Some(dir),
        }
    }

    /// `None` only when `LEADBRIDGE_SKIP_PG=1`; otherwise an unreachable server fails the test.
    pub async fn postgres() -> Option<Db> {
        let db = TestDatabase::create("lb_sync_test").await?;
        let url = db.url().to_owned();
        let store = open(&url).await;
        store.migrate().await.unwrap();
        Some(Db {
            store,
            url,
            _pg: Some(db),
            _dir: None,
        })
    }

    /// Another store on the same database, as a second process would open it.
    pub async fn reopen(&self) -> Store {
        open(&self.url).await
    }

    /// Another store whose job claims hold for `lease` only, so an abandoned claim is taken
    /// over quickly.
    pub async fn reopen_with_lease(&self, lease: chrono::TimeDelta) -> Store {
        open_with(&self.url, |options| options.queue.lease = lease).await
    }

    pub async fn tenant(&self, name: &str, seats: u32) -> TenantId {
        self.store.create_tenant(name, seats).await.unwrap().id
    }

    /// A user holding a seat.
    pub async fn rep(&self, tenant: TenantId, email: &str) -> (UserId, SeatId) {
        let mut t = self.store.tenant(tenant);
        let user = t
            .create_user(NewUser {
                email: email.to_owned(),
                display_name: email.split('@').next().unwrap().to_owned(),
                admin: false,
                password: None,
            })
            .await
            .unwrap();
        let seat = t.assign_seat(user.id).await.unwrap();
        (user.id, seat.seat.id)
    }
}

async fn open(url: &str) -> Store {
    open_with(url, |_| {}).await
}

async fn open_with(url: &str, configure: impl FnOnce(&mut StoreOptions)) -> Store {
    let mut options = StoreOptions::new(url);
    options.max_connections = 5;
    // Retries come quickly so that tests see them; the policy itself is the store's.
    options.queue.backoff_base = chrono::TimeDelta::milliseconds(200);
    options.queue.backoff_cap = chrono::TimeDelta::seconds(2);
    options.keyring = Some(Arc::new(Keyring::single(1, &TEST_KEY).unwrap()));
    configure(&mut options);
    Store::connect(options).await.unwrap()
}

/// The engine over a store and an emulator, reading in pages of `page_size`.
pub fn engine(store: &Store, e: &Emulator, page_size: u32) -> SyncEngine {
    SyncEngine::new(
        store.clone(),
        Arc::new(e.dynamics(page_size)),
        EngineConfig::default(),
    )
}

/// Workers running in the background until the returned guard is dropped.
pub struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Workers {
    pub fn start(engine: &SyncEngine) -> Workers {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let engine = engine.clone();
        let task = tokio::spawn(async move {
            sync::worker::run_workers(&engine, shutdown).await.unwrap();
        });
        Workers {
            stop,
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Polls `check` until it gives a value, failing the test after a minute.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
