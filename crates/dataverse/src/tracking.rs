//! Change tracking: the initial tracked read (pages ending with a delta link), delta reads that
//! yield upserts and deletes, and per-table detection and enabling of change tracking.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::{Client, Request};
use crate::error::Error;
use crate::paging::{Page, PageOptions, prefer};
use crate::query::{Filter, Key, Query, entity_path};
use crate::rows::Row;

/// One change since the last delta link.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new or changed row, with the selected columns.
    Upsert(Row),
    /// A row deleted (or created and deleted) since the last read.
    Delete { id: Uuid },
}

/// A page of a delta read. The last page carries the delta link for the next read.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub delta_link: Option<String>,
}

/// Whether a table tracks changes, and whether it could.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableTracking {
    pub logical_name: String,
    pub entity_set: String,
    pub enabled: bool,
    pub can_be_enabled: bool,
}

#[derive(Deserialize)]
struct Managed {
    #[serde(rename = "Value")]
    value: bool,
}

#[derive(Deserialize)]
struct Definition {
    #[serde(rename = "LogicalName")]
    logical_name: String,
    #[serde(rename = "EntitySetName")]
    entity_set: Option<String>,
    #[serde(rename = "ChangeTrackingEnabled")]
    enabled: Option<bool>,
    #[serde(rename = "CanChangeTrackingBeEnabled")]
    can_be_enabled: Option<Managed>,
}

#[derive(Deserialize)]
struct Definitions {
    value: Vec<Definition>,
}

fn change_of(row: Row) -> Result<Change, Error> {
    let deleted = row
        .text("@odata.context")
        .is_some_and(|c| c.ends_with("/$deletedEntity"))
        || row.text("reason") == Some("deleted");
    if !deleted {
        return Ok(Change::Upsert(row));
    }
    row.guid("id")
        .map(|id| Change::Delete { id })
        .ok_or_else(|| {
            Error::unexpected(
                http::StatusCode::OK,
                "a deleted entity in a delta has no id",
            )
        })
}

impl Client {
    /// The initial tracked read of `entity_set` (all rows, paged). The last page carries the
    /// delta link to pass to [`Client::changes`] later. Change tracking allows no filter, order,
    /// expand or top, and needs organization-wide read on the table.
    pub fn tracked_read(
        &self,
        entity_set: &str,
        select: &[&str],
        options: &PageOptions,
    ) -> BoxStream<'static, Result<Page, Error>> {
        let path = Query::new(entity_set).select(select.iter().copied()).path();
        self.page_stream(path, prefer(options, false, true))
    }

    /// The changes since a delta link: upserts first, then deletes, paged; the last page carries
    /// the next delta link. An expired link fails with [`Error::DeltaExpired`]: read in full again.
    pub fn changes(
        &self,
        delta_link: &str,
        options: &PageOptions,
    ) -> BoxStream<'static, Result<ChangePage, Error>> {
        self.page_stream(Ok(delta_link.to_string()), prefer(options, false, true))
            .and_then(|page| async move {
                let changes = page
                    .rows
                    .into_iter()
                    .map(change_of)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ChangePage {
                    changes,
                    delta_link: page.delta_link,
                })
            })
            .boxed()
    }

    /// Change tracking state of the named tables (logical names); tables the org does not have
    /// are left out.
    pub async fn change_tracking(&self, tables: &[&str]) -> Result<Vec<TableTracking>, Error> {
        let Some((first, rest)) = tables.split_first() else {
            return Ok(Vec::new());
        };
        let filter = rest.iter().fold(Filter::eq("LogicalName", *first), |f, t| {
            f.or(Filter::eq("LogicalName", *t))
        });
        let query = Query::new("EntityDefinitions")
            .select([
                "LogicalName",
                "EntitySetName",
                "ChangeTrackingEnabled",
                "CanChangeTrackingBeEnabled",
            ])
            .filter(filter);
        let found: Definitions = self.get_json(&query.path()?).await?;
        Ok(found
            .value
            .into_iter()
            .map(|d| TableTracking {
                entity_set: d.entity_set.unwrap_or_default(),
                enabled: d.enabled.unwrap_or(false),
                can_be_enabled: d.can_be_enabled.is_some_and(|m| m.value),
                logical_name: d.logical_name,
            })
            .collect())
    }

    /// Turns change tracking on for a table (it cannot be turned off again). Table definitions
    /// are updated whole: the current definition is read, changed and put back.
    pub async fn enable_change_tracking(&self, logical_name: &str) -> Result<(), Error> {
        let path = entity_path(
            "EntityDefinitions",
            &Key::alternate("LogicalName", logical_name),
        )?;
        let mut definition: serde_json::Map<String, serde_json::Value> =
            self.get_json(&path).await?;
        if definition.get("ChangeTrackingEnabled") == Some(&serde_json::Value::Bool(true)) {
            return Ok(());
        }
        definition.retain(|k, _| !k.starts_with("@odata."));
        definition.insert("ChangeTrackingEnabled".into(), true.into());
        self.send(
            Request::new(Method::PUT, path)
                .header("mscrm.mergelabels", "true")
                .json(&serde_json::Value::Object(definition))
                .idempotent(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_entities_become_deletes() {
        let id = Uuid::new_v4();
        let deleted = Row::new(
            serde_json::json!({"@odata.context": "https://x/api/data/v9.2/$metadata#accounts/$deletedEntity", "id": id.to_string(), "reason": "deleted"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(change_of(deleted).unwrap(), Change::Delete { id });
        let changed = Row::new(
            serde_json::json!({"@odata.etag": "W/\"5\"", "accountid": id.to_string(), "name": "A"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert!(matches!(change_of(changed).unwrap(), Change::Upsert(_)));
        let broken = Row::new(
            serde_json::json!({"reason": "deleted"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert!(change_of(broken).is_err());
    }
}
