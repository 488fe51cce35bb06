//! How the store talks to SQL: which backend a URL names, connections taken from the pool or from
//! the caller's transaction, `$n` placeholders for multi-row statements, and typed column reads.
//!
//! Queries go through sqlx's `Any` driver so one set of SQL serves SQLite and PostgreSQL. That
//! limits columns to text, integers, booleans and bytes: ids are UUID text, times are Unix
//! milliseconds, and SQLite keeps booleans as integers (read back with [`RowExt::flag`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Row, Transaction};
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// The database behind a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Appended to a claim's inner SELECT so concurrent claimers pass over rows another one is
    /// taking instead of waiting for it. SQLite has a single writer, so there is nothing to skip.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A connection for one operation: a fresh one from the pool, or the caller's open transaction.
pub(crate) enum Conn<'a> {
    Pooled(PoolConnection<Any>),
    InTx(&'a mut AnyConnection),
}

impl Deref for Conn<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Pooled(c) => c,
            Conn::InTx(c) => c,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Pooled(c) => c,
            Conn::InTx(c) => c,
        }
    }
}

/// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
/// deferred transaction that reads and then writes fails outright when another writer got in
/// between, while waiting for the lock up front is covered by the busy timeout.
pub(crate) async fn begin(pool: &AnyPool, backend: Backend) -> Result<Transaction<'static, Any>> {
    Ok(match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    })
}

/// An atomic unit inside whatever the caller holds: a savepoint in the caller's transaction, or a
/// new transaction when there is none.
pub(crate) async fn atomic<'a>(
    pool: &AnyPool,
    backend: Backend,
    tx: &'a mut Option<Transaction<'static, Any>>,
) -> Result<Transaction<'a, Any>> {
    match tx {
        Some(tx) => Ok(sqlx::Connection::begin(&mut **tx).await?),
        None => begin(pool, backend).await,
    }
}

pub(crate) async fn conn<'a>(
    pool: &AnyPool,
    tx: &'a mut Option<Transaction<'static, Any>>,
) -> Result<Conn<'a>> {
    match tx {
        Some(tx) => Ok(Conn::InTx(tx)),
        None => Ok(Conn::Pooled(pool.acquire().await?)),
    }
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(format!("{ms} is not a time")))
}

/// The VALUES list of a multi-row statement that binds nothing else: `rows` rows of `columns`
/// parameters, in binding order.
///
/// PostgreSQL gets `$1, $2, …`. SQLite gets anonymous `?`: it keeps a named parameter (`$7`) in a
/// list that it searches linearly, once per parameter when it compiles the statement and again
/// each time sqlx binds one, so a 7,000-parameter statement cost tens of millions of steps and
/// a million-row import ran at about 2,000 rows/s. Anonymous parameters are numbered by position
/// and never searched.
pub(crate) fn values_placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    let mut n = 1;
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&n.to_string());
                }
            }
            n += 1;
        }
        out.push(')');
    }
    out
}

/// `$start, $start+1, …` for an `IN (…)` list of `count` values.
pub(crate) fn list_placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement for one chunk of a batch (its placeholders depend on the chunk's size). A chunk of
/// the full size (`chunk == full`) stays prepared on its connection, since every large batch
/// reuses it; any other size runs once and is discarded. Kept, every size a pooled connection
/// ever saw would stay prepared on it: a large import's statements have thousands of
/// placeholders each, and they came to hundreds of MiB.
pub(crate) fn chunk_query<'q>(
    sql: String,
    chunk: usize,
    full: usize,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk == full)
}

/// The items to write, with only the last one for each key: within one batch the last entry wins,
/// as if they had been sent one by one (and one statement cannot upsert a row twice on
/// PostgreSQL). Items without a key are all kept. Input order is kept.
pub(crate) fn last_per_key<'a, T, K: Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> Option<K>,
) -> Vec<&'a T> {
    let mut last: HashMap<K, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(k) = key(item) {
            last.insert(k, i);
        }
    }
    items
        .iter()
        .enumerate()
        .filter(|(i, item)| key(item).is_none_or(|k| last.get(&k) == Some(i)))
        .map(|(_, item)| item)
        .collect()
}

/// The most rows one multi-row statement writes; a bulk write of more rows takes several
/// statements in one transaction.
pub const MAX_ROWS_PER_STATEMENT: usize = 500;

/// Rows per multi-row statement: under SQLite's (32,766) and PostgreSQL's (65,535)
/// bound-parameter limits for the widest row we write, and large enough that a million-row
/// import is not statement-bound.
pub(crate) fn chunk_rows(columns: usize) -> usize {
    (30_000 / columns.max(1)).clamp(1, MAX_ROWS_PER_STATEMENT)
}

/// Typed reads that turn a malformed stored value into [`StoreError::Corrupt`] naming the column.
pub(crate) trait RowExt {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn flag(&self, column: &str) -> Result<bool>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
    fn time(&self, column: &str) -> Result<DateTime<Utc>>;
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>>;
    fn uuid(&self, column: &str) -> Result<Uuid>;
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>>;

    fn id<T: From<Uuid>>(&self, column: &str) -> Result<T> {
        self.uuid(column).map(T::from)
    }

    fn opt_id<T: From<Uuid>>(&self, column: &str) -> Result<Option<T>> {
        Ok(self.opt_uuid(column)?.map(T::from))
    }
}

fn column_error(column: &str, error: sqlx::Error) -> StoreError {
    StoreError::corrupt(format!("column {column}: {error}"))
}

fn parse_uuid(column: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text)
        .map_err(|e| StoreError::corrupt(format!("column {column}: {text:?} is not an id: {e}")))
}

impl RowExt for AnyRow {
    fn text(&self, column: &str) -> Result<String> {
        self.try_get(column).map_err(|e| column_error(column, e))
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.try_get(column).map_err(|e| column_error(column, e))
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.try_get(column).map_err(|e| column_error(column, e))
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.try_get(column).map_err(|e| column_error(column, e))
    }

    fn flag(&self, column: &str) -> Result<bool> {
        // PostgreSQL has a boolean type; SQLite stores 0 and 1.
        match self.try_get::<bool, _>(column) {
            Ok(flag) => Ok(flag),
            Err(_) => self.int(column).map(|n| n != 0),
        }
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        self.try_get(column).map_err(|e| column_error(column, e))
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        from_millis(self.int(column)?)
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.opt_int(column)?.map(from_millis).transpose()
    }

    fn uuid(&self, column: &str) -> Result<Uuid> {
        parse_uuid(column, &self.text(column)?)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.opt_text(column)?
            .map(|text| parse_uuid(column, &text))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_consecutively() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_placeholders(Backend::Postgres, 0, 3), "");
        assert_eq!(list_placeholders(2, 3), "$2, $3, $4");
    }

    #[test]
    fn the_last_entry_per_key_wins() {
        let items = [
            (Some("a"), 1),
            (None, 2),
            (Some("b"), 3),
            (Some("a"), 4),
            (None, 5),
        ];
        let kept: Vec<i32> = last_per_key(&items, |(k, _)| *k)
            .into_iter()
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(kept, [2, 3, 4, 5]);
        assert!(last_per_key(&[] as &[(Option<&str>, i32)], |(k, _)| *k).is_empty());
    }

    #[test]
    fn chunks_stay_under_parameter_limits() {
        for columns in [1, 7, 14, 60] {
            let rows = chunk_rows(columns);
            assert!(rows >= 1 && rows * columns <= 30_000, "{columns}: {rows}");
        }
    }

    #[test]
    fn urls_name_their_backend() {
        let cases = [
            ("sqlite://data/lb.db", Some(Backend::Sqlite)),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            ("postgres://u@h/db", Some(Backend::Postgres)),
            ("postgresql://u@h/db", Some(Backend::Postgres)),
            ("mysql://u@h/db", None),
            ("", None),
        ];
        for (url, expected) in cases {
            assert_eq!(Backend::from_url(url).ok(), expected, "{url}");
        }
    }

    #[test]
    fn passwords_are_left_out_of_urls_in_messages() {
        let redacted = redact_url("postgres://lb:s3cret@db.internal/lb");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
