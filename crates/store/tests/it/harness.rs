//! A migrated store for one test: a SQLite file in a temporary directory, or a PostgreSQL database
//! of its own (created on 127.0.0.1:5432 and dropped afterwards), with a clock the test moves.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ids::{SeatId, TenantId, UserId};
use sqlx::Connection;
use store::secrets::Keyring;
use store::tenants::NewUser;
use store::{ManualClock, Store, StoreOptions};
use test_support::pg::TestDatabase;

/// Every test's behaviour is checked on both databases: `both!(name, …)` makes `name::sqlite` and
/// `name::postgres` tests that each run `async fn name(h: Harness)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Harness::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(harness) = $crate::harness::Harness::postgres().await {
                    super::$name(harness).await;
                }
            }
        }
    )*};
}

pub(crate) use both;

pub const TEST_KEY: [u8; 32] = [0x42; 32];

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub struct Harness {
    pub store: Store,
    pub clock: ManualClock,
    pub url: String,
    _pg: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = store::sqlite_url(dir.path());
        let clock = ManualClock::new(start_time());
        let store = open(&url, &clock, Some(TEST_KEY)).await;
        store.migrate().await.unwrap();
        Harness {
            store,
            clock,
            url,
            _pg: None,
            _dir: Some(dir),
        }
    }

    /// `None` only when `LEADBRIDGE_SKIP_PG=1`; otherwise an unreachable server fails the test.
    pub async fn postgres() -> Option<Harness> {
        let db = TestDatabase::create("lb_test").await?;
        let url = db.url().to_owned();
        let clock = ManualClock::new(start_time());
        let store = open(&url, &clock, Some(TEST_KEY)).await;
        let harness = Harness {
            store,
            clock,
            url,
            _pg: Some(db),
            _dir: None,
        };
        harness.store.migrate().await.unwrap();
        Some(harness)
    }

    /// Another store on the same database, as a second process would open it.
    pub async fn reopen(&self, key: Option<[u8; 32]>) -> Store {
        open(&self.url, &self.clock, key).await
    }

    /// A raw connection, for tests that look at or tamper with stored rows directly.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.url).await.unwrap()
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

async fn open(url: &str, clock: &ManualClock, key: Option<[u8; 32]>) -> Store {
    let mut options = StoreOptions::new(url);
    options.max_connections = 5;
    options.clock = Arc::new(clock.clone());
    options.keyring = key.map(|k| Arc::new(Keyring::single(1, &k).unwrap()));
    Store::connect(options).await.unwrap()
}
