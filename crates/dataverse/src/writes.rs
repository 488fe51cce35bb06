//! Writes: create (204 + `OData-EntityId`), update (`If-Match: *`), upsert by alternate key,
//! delete; many rows at once through CreateMultiple/UpsertMultiple where `sdkmessagefilters` says
//! the table supports them, `$batch` otherwise, with one outcome per row.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::StreamExt;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::batch::{Batch, Operation, Outcome, Part};
use crate::client::{Client, Request, Response};
use crate::error::Error;
use crate::query::{Filter, Key, Query, entity_path};
use crate::rows::Row;

/// A table as the Web API addresses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub logical_name: String,
    pub entity_set: String,
    pub primary_id: String,
}

/// The result of an upsert. Bulk responses may not say which rows they created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    pub id: Option<Uuid>,
    pub created: Option<bool>,
}

/// The bulk messages leadbridge uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkMessage {
    CreateMultiple,
    UpsertMultiple,
}

impl BulkMessage {
    fn name(self) -> &'static str {
        match self {
            BulkMessage::CreateMultiple => "CreateMultiple",
            BulkMessage::UpsertMultiple => "UpsertMultiple",
        }
    }
}

/// What the client learned about the org's metadata, kept for the client's lifetime.
#[derive(Default)]
pub(crate) struct MetadataCache {
    tables: Mutex<HashMap<String, Table>>,
    bulk: Mutex<HashMap<(BulkMessage, String), bool>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The body of an upsert without its alternate-key columns (Dataverse takes them from the URL).
fn without_key_columns(key: &Key, row: &Value) -> Value {
    match (key, row) {
        (Key::Alternate(parts), Value::Object(map)) => {
            let mut map = map.clone();
            for (column, _) in parts {
                map.remove(column);
            }
            Value::Object(map)
        }
        _ => row.clone(),
    }
}

fn upsert_operation(table: &Table, key: &Key, row: &Value) -> Result<Operation, Error> {
    let path = format!(
        "{}?$select={}",
        entity_path(&table.entity_set, key)?,
        table.primary_id
    );
    Ok(Operation::new(Method::PATCH, path)
        .header("Prefer", "return=representation")
        .json(without_key_columns(key, row)))
}

fn upserted(table: &Table, response: &Response) -> Result<Upserted, Error> {
    let row: Row = Row::new(response.json::<Map<String, Value>>()?);
    Ok(Upserted {
        id: row.guid(&table.primary_id),
        created: Some(response.status == StatusCode::CREATED),
    })
}

/// A bulk target: the row with its `@odata.type`; for an upsert by key also `@odata.id` and the
/// key's values as columns (a bulk upsert that creates takes them from the body).
fn bulk_target(table: &Table, key: Option<&Key>, row: &Value) -> Result<Value, Error> {
    let Value::Object(map) = row else {
        return Err(Error::InvalidInput(
            "a row to write must be a JSON object".into(),
        ));
    };
    let mut target = map.clone();
    if let Some(Key::Alternate(parts)) = key {
        for (column, value) in parts {
            target.insert(column.clone(), value.to_json()?);
        }
    }
    target.insert(
        "@odata.type".into(),
        Value::String(format!("Microsoft.Dynamics.CRM.{}", table.logical_name)),
    );
    if let Some(key) = key {
        target.insert(
            "@odata.id".into(),
            Value::String(entity_path(&table.entity_set, key)?),
        );
    }
    Ok(Value::Object(target))
}

#[derive(Deserialize)]
struct CreateMultipleResponse {
    #[serde(rename = "Ids")]
    ids: Vec<Uuid>,
}

#[derive(Deserialize)]
struct UpsertMultipleResponse {
    #[serde(rename = "Results", default)]
    results: Vec<UpsertResult>,
    #[serde(rename = "Ids", default)]
    ids: Vec<Uuid>,
}

#[derive(Deserialize)]
struct UpsertResult {
    #[serde(rename = "RecordCreated")]
    created: Option<bool>,
    #[serde(rename = "Target")]
    target: Option<Map<String, Value>>,
}

/// The outcome of a whole chunk applied to each of its rows.
fn all_of<T: Clone>(n: usize, result: Result<T, Error>) -> Vec<Result<T, Error>> {
    (0..n).map(|_| result.clone()).collect()
}

/// Whether a failed bulk call should be split up to find the rows at fault: it failed because of
/// the data, and the transaction rolled back, so nothing of it was written.
fn is_data_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Validation(_) | Error::Conflict(_) | Error::NotFound(_)
    )
}

impl Client {
    /// The entity set and primary key of a table (logical name), read once from its definition.
    pub async fn table(&self, logical_name: &str) -> Result<Table, Error> {
        if let Some(t) = lock(&self.metadata().tables).get(logical_name) {
            return Ok(t.clone());
        }
        let query = Query::new("EntityDefinitions")
            .select(["LogicalName", "EntitySetName", "PrimaryIdAttribute"])
            .filter(Filter::eq("LogicalName", logical_name));
        let rows = self.query_all(&query).await?;
        let table = rows
            .first()
            .and_then(|r| {
                Some(Table {
                    logical_name: r.text("LogicalName")?.to_string(),
                    entity_set: r.text("EntitySetName")?.to_string(),
                    primary_id: r.text("PrimaryIdAttribute")?.to_string(),
                })
            })
            .ok_or_else(|| {
                Error::ObjectsUnreadable(crate::error::ApiFailure {
                    status: 404,
                    code: String::new(),
                    message: format!("the org has no table named {logical_name}"),
                })
            })?;
        lock(&self.metadata().tables).insert(logical_name.to_string(), table.clone());
        Ok(table)
    }

    /// Creates a row and returns its id. Not retried after a failure in flight: a create that
    /// may have run must not run twice (use [`Client::upsert`] with a key for that).
    pub async fn create(&self, table: &Table, row: &Value) -> Result<Uuid, Error> {
        let path = Query::new(&table.entity_set).path()?;
        self.send(Request::new(Method::POST, path).json(row))
            .await?
            .entity_id()
    }

    /// Updates an existing row; a row that does not exist is [`Error::NotFound`], never recreated.
    pub async fn update(&self, table: &Table, id: Uuid, changes: &Value) -> Result<(), Error> {
        let path = entity_path(&table.entity_set, &Key::Id(id))?;
        self.send(
            Request::new(Method::PATCH, path)
                .header("if-match", "*")
                .json(changes)
                .idempotent(),
        )
        .await?;
        Ok(())
    }

    /// Creates the row with this key or updates it: safe to repeat, so it is retried.
    pub async fn upsert(&self, table: &Table, key: &Key, row: &Value) -> Result<Upserted, Error> {
        let path = format!(
            "{}?$select={}",
            entity_path(&table.entity_set, key)?,
            table.primary_id
        );
        let response = self
            .send(
                Request::new(Method::PATCH, path)
                    .header("prefer", "return=representation")
                    .json(&without_key_columns(key, row))
                    .idempotent(),
            )
            .await?;
        upserted(table, &response)
    }

    /// Deletes a row.
    pub async fn delete_row(&self, table: &Table, id: Uuid) -> Result<(), Error> {
        let path = entity_path(&table.entity_set, &Key::Id(id))?;
        self.send(Request::new(Method::DELETE, path)).await?;
        Ok(())
    }

    /// Whether the table supports a bulk message, from `sdkmessagefilters` (asked once).
    pub async fn supports(&self, message: BulkMessage, table: &Table) -> Result<bool, Error> {
        let cache_key = (message, table.logical_name.clone());
        if let Some(known) = lock(&self.metadata().bulk).get(&cache_key) {
            return Ok(*known);
        }
        let found = match self.message_filters(message, &table.logical_name).await {
            Ok(found) => found,
            // Without read on the SDK message tables, writes go through $batch.
            Err(Error::InsufficientPrivileges(_)) => false,
            Err(e) => return Err(e),
        };
        lock(&self.metadata().bulk).insert(cache_key, found);
        Ok(found)
    }

    async fn message_filters(
        &self,
        message: BulkMessage,
        logical_name: &str,
    ) -> Result<bool, Error> {
        let documented = Query::new("sdkmessagefilters")
            .select(["sdkmessagefilterid"])
            .filter(
                Filter::eq("sdkmessageid/name", message.name())
                    .and(Filter::eq("primaryobjecttypecode", logical_name)),
            )
            .top(1);
        match self.query_all(&documented).await {
            Ok(rows) => return Ok(!rows.is_empty()),
            Err(Error::Validation(_)) => {}
            Err(e) => return Err(e),
        }
        // Where a lookup path is not accepted in $filter: the message's id first.
        let messages = self
            .query_all(
                &Query::new("sdkmessages")
                    .select(["sdkmessageid"])
                    .filter(Filter::eq("name", message.name())),
            )
            .await?;
        let Some(id) = messages.first().and_then(|m| m.guid("sdkmessageid")) else {
            return Ok(false);
        };
        let filters = self
            .query_all(
                &Query::new("sdkmessagefilters")
                    .select(["sdkmessagefilterid"])
                    .filter(
                        Filter::eq("_sdkmessageid_value", id)
                            .and(Filter::eq("primaryobjecttypecode", logical_name)),
                    )
                    .top(1),
            )
            .await?;
        Ok(!filters.is_empty())
    }

    /// Creates many rows: CreateMultiple in chunks where supported, `$batch` otherwise. One
    /// result per row, in order. A chunk refused for its data is resent as single operations so
    /// that only the rows at fault fail.
    pub async fn create_many(
        &self,
        table: &Table,
        rows: &[Value],
    ) -> Result<Vec<Result<Uuid, Error>>, Error> {
        let chunks = self.config().write_chunks;
        if self.supports(BulkMessage::CreateMultiple, table).await? {
            let results = futures_util::stream::iter(rows.chunks(chunks.bulk.max(1)))
                .map(|chunk| self.create_chunk(table, chunk))
                .buffered(self.write_parallelism())
                .collect::<Vec<_>>()
                .await;
            return Ok(results.into_iter().flatten().collect());
        }
        let results = futures_util::stream::iter(rows.chunks(chunks.batch.max(1)))
            .map(|chunk| self.create_batch(table, chunk))
            .buffered(self.write_parallelism())
            .collect::<Vec<_>>()
            .await;
        Ok(results.into_iter().flatten().collect())
    }

    async fn create_chunk(&self, table: &Table, rows: &[Value]) -> Vec<Result<Uuid, Error>> {
        let targets: Result<Vec<Value>, Error> =
            rows.iter().map(|r| bulk_target(table, None, r)).collect();
        let targets = match targets {
            Ok(t) => t,
            Err(e) => return all_of(rows.len(), Err(e)),
        };
        let path = format!("{}/Microsoft.Dynamics.CRM.CreateMultiple", table.entity_set);
        let sent = self
            .send(Request::new(Method::POST, path).json(&serde_json::json!({"Targets": targets})))
            .await
            .and_then(|r| r.json::<CreateMultipleResponse>());
        match sent {
            Ok(created) if created.ids.len() == rows.len() => {
                created.ids.into_iter().map(Ok).collect()
            }
            Ok(_) => all_of(
                rows.len(),
                Err(Error::unexpected(
                    StatusCode::OK,
                    "CreateMultiple returned a different number of ids",
                )),
            ),
            Err(e) if is_data_error(&e) && rows.len() > 1 => self.create_batch(table, rows).await,
            Err(e) => all_of(rows.len(), Err(e)),
        }
    }

    async fn create_batch(&self, table: &Table, rows: &[Value]) -> Vec<Result<Uuid, Error>> {
        let path = match Query::new(&table.entity_set).path() {
            Ok(p) => p,
            Err(e) => return all_of(rows.len(), Err(e)),
        };
        let batch = Batch {
            parts: rows
                .iter()
                .map(|r| Part::One(Operation::new(Method::POST, path.clone()).json(r.clone())))
                .collect(),
            continue_on_error: true,
        };
        match self.batch(&batch, false).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|o| match o {
                    Outcome::Done(r) => r.entity_id(),
                    Outcome::Failed(e) => Err(e),
                    Outcome::NotRun => Err(Error::unexpected(
                        StatusCode::OK,
                        "the batch did not run this row",
                    )),
                })
                .collect(),
            Err(e) => all_of(rows.len(), Err(e)),
        }
    }

    /// Upserts many rows by key: UpsertMultiple in chunks where supported, `$batch` otherwise.
    /// Safe to repeat as a whole. One result per row, in order.
    pub async fn upsert_many(
        &self,
        table: &Table,
        rows: &[(Key, Value)],
    ) -> Result<Vec<Result<Upserted, Error>>, Error> {
        let chunks = self.config().write_chunks;
        // Owned chunks: a closure over borrowed ones makes the future impossible to prove `Send`
        // where callers need it to be (rust-lang/rust#102211).
        let bulk = self.supports(BulkMessage::UpsertMultiple, table).await?;
        let size = if bulk { chunks.bulk } else { chunks.batch }.max(1);
        let owned: Vec<Vec<(Key, Value)>> = rows.chunks(size).map(<[_]>::to_vec).collect();
        let results = futures_util::stream::iter(owned)
            .map(|chunk| async move {
                if bulk {
                    self.upsert_chunk(table, &chunk).await
                } else {
                    self.upsert_batch(table, &chunk).await
                }
            })
            .buffered(self.write_parallelism())
            .collect::<Vec<_>>()
            .await;
        Ok(results.into_iter().flatten().collect())
    }

    async fn upsert_chunk(
        &self,
        table: &Table,
        rows: &[(Key, Value)],
    ) -> Vec<Result<Upserted, Error>> {
        let targets: Result<Vec<Value>, Error> = rows
            .iter()
            .map(|(k, r)| bulk_target(table, Some(k), r))
            .collect();
        let targets = match targets {
            Ok(t) => t,
            Err(e) => return all_of(rows.len(), Err(e)),
        };
        let path = format!("{}/Microsoft.Dynamics.CRM.UpsertMultiple", table.entity_set);
        let sent = self
            .send(
                Request::new(Method::POST, path)
                    .json(&serde_json::json!({"Targets": targets}))
                    .idempotent(),
            )
            .await
            .and_then(|r| r.json::<UpsertMultipleResponse>());
        match sent {
            Ok(response) => (0..rows.len())
                .map(|i| {
                    let result = response.results.get(i);
                    let id = result
                        .and_then(|r| r.target.as_ref())
                        .and_then(|t| t.get(&table.primary_id))
                        .and_then(Value::as_str)
                        .and_then(|s| Uuid::parse_str(s).ok())
                        .or_else(|| response.ids.get(i).copied());
                    Ok(Upserted {
                        id,
                        created: result.and_then(|r| r.created),
                    })
                })
                .collect(),
            Err(e) if is_data_error(&e) && rows.len() > 1 => self.upsert_batch(table, rows).await,
            Err(e) => all_of(rows.len(), Err(e)),
        }
    }

    async fn upsert_batch(
        &self,
        table: &Table,
        rows: &[(Key, Value)],
    ) -> Vec<Result<Upserted, Error>> {
        let ops: Result<Vec<Part>, Error> = rows
            .iter()
            .map(|(k, r)| upsert_operation(table, k, r).map(Part::One))
            .collect();
        let batch = match ops {
            Ok(parts) => Batch {
                parts,
                continue_on_error: true,
            },
            Err(e) => return all_of(rows.len(), Err(e)),
        };
        match self.batch(&batch, true).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|o| match o {
                    Outcome::Done(r) => upserted(table, &r),
                    Outcome::Failed(e) => Err(e),
                    Outcome::NotRun => Err(Error::unexpected(
                        StatusCode::OK,
                        "the batch did not run this row",
                    )),
                })
                .collect(),
            Err(e) => all_of(rows.len(), Err(e)),
        }
    }
}
