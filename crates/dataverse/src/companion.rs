//! The companion app, "leadbridge for Dynamics": a publisher (prefix `lb`), a versioned solution
//! and the custom activity tables InMails, messages and notes are written back to, each with an
//! external key column under an alternate key. Installed, repaired and upgraded through the Web API.

use http::Method;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::{Client, Request};
use crate::error::Error;
use crate::query::{Filter, Key, Query, entity_path};

pub const SOLUTION: &str = "leadbridge";
pub const SOLUTION_NAME: &str = "leadbridge for Dynamics";
pub const PUBLISHER: &str = "leadbridge";
pub const PREFIX: &str = "lb";
/// Choice values of the publisher start at this number times 10,000.
const OPTION_VALUE_PREFIX: i64 = 72_315;
/// The version this client installs; an org with an older one is upgraded by `install`.
pub const VERSION: &str = "1.0.0.0";

/// The column holding leadbridge's own id of the item, unique per table (the alternate key).
pub const EXTERNAL_KEY: &str = "lb_externalkey";
pub const EXTERNAL_KEY_NAME: &str = "lb_externalkey_key";
pub const PROFILE_URL: &str = "lb_profileurl";
pub const THREAD_ID: &str = "lb_threadid";

/// A custom activity table of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityTable {
    pub logical_name: &'static str,
    schema_name: &'static str,
    display_name: &'static str,
    display_collection_name: &'static str,
}

pub const INMAIL: ActivityTable = ActivityTable {
    logical_name: "lb_inmail",
    schema_name: "lb_InMail",
    display_name: "InMail",
    display_collection_name: "InMails",
};
pub const MESSAGE: ActivityTable = ActivityTable {
    logical_name: "lb_message",
    schema_name: "lb_Message",
    display_name: "Message",
    display_collection_name: "Messages",
};
pub const NOTE: ActivityTable = ActivityTable {
    logical_name: "lb_note",
    schema_name: "lb_Note",
    display_name: "leadbridge Note",
    display_collection_name: "leadbridge Notes",
};
pub const ACTIVITY_TABLES: [ActivityTable; 3] = [INMAIL, MESSAGE, NOTE];

/// The app's own columns on each activity table: (schema name, display name, max length).
const COLUMNS: [(&str, &str, u32); 3] = [
    ("lb_ExternalKey", "External key", 100),
    ("lb_ProfileUrl", "Profile URL", 1000),
    ("lb_ThreadId", "Thread id", 100),
];

/// What an org has of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanionState {
    /// The solution's version, if the solution exists.
    pub version: Option<String>,
    /// Components not (or not completely) there: `publisher`, `solution`, `lb_inmail`,
    /// `lb_inmail.lb_externalkey`, `lb_inmail key`…
    pub missing: Vec<String>,
}

impl CompanionState {
    /// Every component is there.
    pub fn installed(&self) -> bool {
        self.missing.is_empty()
    }

    /// Installed, at least at the version this client installs.
    pub fn up_to_date(&self) -> bool {
        self.installed()
            && self
                .version
                .as_deref()
                .is_some_and(|v| compare_versions(v, VERSION) != std::cmp::Ordering::Less)
    }
}

/// Compares `major.minor.build.revision` component by component as integers (missing = 0).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| -> Vec<u64> {
        v.trim()
            .split('.')
            .map(|p| p.trim().parse().unwrap_or(0))
            .collect()
    };
    let (a, b) = (parse(a), parse(b));
    let len = a.len().max(b.len());
    for i in 0..len {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

fn label(text: &str) -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}]
    })
}

fn string_column(schema_name: &str, display: &str, max_length: u32, primary: bool) -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(display),
        "RequiredLevel": {"Value": if primary { "ApplicationRequired" } else { "None" }},
        "MaxLength": max_length,
        "FormatName": {"Value": "Text"},
        "IsPrimaryName": primary,
    })
}

fn table_definition(table: &ActivityTable) -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": table.schema_name,
        "DisplayName": label(table.display_name),
        "DisplayCollectionName": label(table.display_collection_name),
        "Description": label(&format!("{} written by leadbridge", table.display_collection_name)),
        "OwnershipType": "UserOwned",
        "IsActivity": true,
        "ActivityTypeMask": 1,
        "HasActivities": false,
        "HasNotes": true,
        "Attributes": [string_column("Subject", "Subject", 200, true)],
    })
}

fn definition_path(logical_name: &str) -> Result<String, Error> {
    entity_path(
        "EntityDefinitions",
        &Key::alternate("LogicalName", logical_name),
    )
}

/// The external-key index of a table. Dataverse builds a new key's index in the background; an
/// upsert by key works once it is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Missing,
    Building,
    Active,
    Failed,
}

/// What exists of one activity table.
struct TableState {
    exists: bool,
    columns: Vec<String>,
    key: KeyState,
}

impl Client {
    async fn one_row(&self, query: Query) -> Result<Option<crate::rows::Row>, Error> {
        Ok(self.query_all(&query.top(1)).await?.into_iter().next())
    }

    async fn publisher_id(&self) -> Result<Option<Uuid>, Error> {
        Ok(self
            .one_row(
                Query::new("publishers")
                    .select(["publisherid"])
                    .filter(Filter::eq("uniquename", PUBLISHER)),
            )
            .await?
            .and_then(|r| r.guid("publisherid")))
    }

    /// The solution's id and version.
    async fn solution(&self) -> Result<Option<(Uuid, String)>, Error> {
        Ok(self
            .one_row(
                Query::new("solutions")
                    .select(["solutionid", "version"])
                    .filter(Filter::eq("uniquename", SOLUTION)),
            )
            .await?
            .and_then(|r| Some((r.guid("solutionid")?, r.text("version")?.to_string()))))
    }

    async fn table_state(&self, table: &ActivityTable) -> Result<TableState, Error> {
        let path = format!(
            "{}?$select=LogicalName&$expand=Attributes($select=LogicalName),Keys($select=KeyAttributes,EntityKeyIndexStatus)",
            definition_path(table.logical_name)?
        );
        let definition: Value = match self.get_json(&path).await {
            Ok(d) => d,
            Err(Error::NotFound(_) | Error::ObjectsUnreadable(_)) => {
                return Ok(TableState {
                    exists: false,
                    columns: Vec::new(),
                    key: KeyState::Missing,
                });
            }
            Err(e) => return Err(e),
        };
        let columns = definition["Attributes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["LogicalName"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let key = definition["Keys"]
            .as_array()
            .and_then(|keys| {
                keys.iter()
                    .find(|k| k["KeyAttributes"] == json!([EXTERNAL_KEY]))
            })
            .map_or(KeyState::Missing, |k| {
                match k["EntityKeyIndexStatus"].as_str() {
                    Some("Pending" | "InProgress") => KeyState::Building,
                    Some("Failed") => KeyState::Failed,
                    _ => KeyState::Active,
                }
            });
        Ok(TableState {
            exists: true,
            columns,
            key,
        })
    }

    /// What the org has of the companion app (read-only; used by pre-flight).
    pub async fn companion_state(&self) -> Result<CompanionState, Error> {
        let mut missing = Vec::new();
        if self.publisher_id().await?.is_none() {
            missing.push("publisher".to_string());
        }
        let version = match self.solution().await? {
            Some((_, v)) => Some(v),
            None => {
                missing.push("solution".to_string());
                None
            }
        };
        for table in &ACTIVITY_TABLES {
            let state = self.table_state(table).await?;
            if !state.exists {
                missing.push(table.logical_name.to_string());
                continue;
            }
            for (schema, _, _) in COLUMNS {
                let column = schema.to_lowercase();
                if !state.columns.contains(&column) {
                    missing.push(format!("{}.{column}", table.logical_name));
                }
            }
            match state.key {
                KeyState::Active => {}
                KeyState::Missing => missing.push(format!("{} key", table.logical_name)),
                KeyState::Building => {
                    missing.push(format!("{} key (still being built)", table.logical_name))
                }
                KeyState::Failed => missing.push(format!(
                    "{} key (index failed to build)",
                    table.logical_name
                )),
            }
        }
        Ok(CompanionState { version, missing })
    }

    /// Installs the companion app, or completes and upgrades what is there: every step checks
    /// first and creates only what is missing, so a run stopped half-way is repaired by running
    /// it again. The solution's version is raised last, once everything is in place.
    pub async fn install_companion(&self) -> Result<CompanionState, Error> {
        let publisher = match self.publisher_id().await? {
            Some(id) => id,
            None => self
                .post_json(
                    "publishers",
                    &json!({
                        "uniquename": PUBLISHER,
                        "friendlyname": "leadbridge",
                        "customizationprefix": PREFIX,
                        "customizationoptionvalueprefix": OPTION_VALUE_PREFIX,
                        "description": "Publisher of leadbridge for Dynamics",
                    }),
                )
                .await?
                .entity_id()?,
        };
        let (solution, installed_version) = match self.solution().await? {
            Some(found) => found,
            None => {
                // Created at version 0 so an interrupted install never looks complete.
                let id = self
                    .post_json(
                        "solutions",
                        &json!({
                            "uniquename": SOLUTION,
                            "friendlyname": SOLUTION_NAME,
                            "version": "0.0.0.0",
                            "publisherid@odata.bind": format!("/publishers({publisher})"),
                            "description": "Custom activity tables for the InMails, messages and notes leadbridge writes back.",
                        }),
                    )
                    .await?
                    .entity_id()?;
                (id, "0.0.0.0".to_string())
            }
        };
        for table in &ACTIVITY_TABLES {
            self.ensure_table(table).await?;
        }
        if compare_versions(&installed_version, VERSION) == std::cmp::Ordering::Less {
            self.send(
                Request::new(Method::PATCH, entity_path("solutions", &Key::Id(solution))?)
                    .header("if-match", "*")
                    .json(&json!({"version": VERSION}))
                    .idempotent(),
            )
            .await?;
        }
        self.companion_state().await
    }

    async fn ensure_table(&self, table: &ActivityTable) -> Result<(), Error> {
        let mut state = self.table_state(table).await?;
        if !state.exists {
            self.send(
                Request::new(Method::POST, "EntityDefinitions")
                    .header("mscrm.solutionuniquename", SOLUTION)
                    .json(&table_definition(table)),
            )
            .await?;
            state = self.table_state(table).await?;
        }
        for (schema, display, max_length) in COLUMNS {
            if state.columns.contains(&schema.to_lowercase()) {
                continue;
            }
            self.send(
                Request::new(
                    Method::POST,
                    format!("{}/Attributes", definition_path(table.logical_name)?),
                )
                .header("mscrm.solutionuniquename", SOLUTION)
                .json(&string_column(schema, display, max_length, false)),
            )
            .await?;
        }
        if state.key == KeyState::Missing {
            self.send(
                Request::new(
                    Method::POST,
                    format!("{}/Keys", definition_path(table.logical_name)?),
                )
                .header("mscrm.solutionuniquename", SOLUTION)
                .json(&json!({
                    "SchemaName": EXTERNAL_KEY_NAME,
                    "DisplayName": label("External key"),
                    "KeyAttributes": [EXTERNAL_KEY],
                })),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_component_by_component() {
        assert_eq!(compare_versions("9.2.24054.189", "8.2"), Ordering::Greater);
        assert_eq!(compare_versions("8.2", "8.2.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("8.1.9", "8.2"), Ordering::Less);
        assert_eq!(compare_versions("10.0", "9.99"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0.0", VERSION), Ordering::Equal);
    }

    #[test]
    fn a_complete_state_is_installed_and_an_old_one_is_not_up_to_date() {
        let state = CompanionState {
            version: Some("0.9.0.0".into()),
            missing: vec![],
        };
        assert!(state.installed());
        assert!(!state.up_to_date());
        let partial = CompanionState {
            version: Some(VERSION.into()),
            missing: vec!["lb_note key".into()],
        };
        assert!(!partial.up_to_date());
    }

    #[test]
    fn the_activity_tables_are_custom_activities_with_the_prefix() {
        for t in ACTIVITY_TABLES {
            let d = table_definition(&t);
            assert_eq!(d["IsActivity"], true);
            assert!(t.logical_name.starts_with("lb_"));
            assert_eq!(t.schema_name.to_lowercase(), t.logical_name);
        }
        assert_eq!(COLUMNS[0].0.to_lowercase(), EXTERNAL_KEY);
        assert_eq!(COLUMNS[1].0.to_lowercase(), PROFILE_URL);
        assert_eq!(COLUMNS[2].0.to_lowercase(), THREAD_ID);
    }
}
