//! A PostgreSQL database of a test's own.

use sqlx::{Connection, Executor};

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("LEADBRIDGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped with this value (with `FORCE`, which ends the
/// connections the test's pools still hold).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new empty database named `{prefix}_{random}`. `None` only when `LEADBRIDGE_SKIP_PG=1`;
    /// otherwise an unreachable server fails the test, saying how to skip.
    pub async fn create(prefix: &str) -> Option<TestDatabase> {
        if std::env::var("LEADBRIDGE_SKIP_PG").is_ok_and(|v| v == "1") {
            eprintln!("LEADBRIDGE_SKIP_PG=1: PostgreSQL half skipped");
            return None;
        }
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {admin} is unreachable ({e}); set LEADBRIDGE_SKIP_PG=1 to skip"
                )
            });
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(TestDatabase {
            name,
            url: url.to_string(),
        })
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its own
        // runtime drops the database.
        let admin = admin_url();
        let name = std::mem::take(&mut self.name);
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
            });
        });
        let _ = dropper.join();
    }
}
