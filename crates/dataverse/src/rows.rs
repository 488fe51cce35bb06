//! A row as Dataverse returns it (OData JSON), with readers for the shapes the Web API uses:
//! lookups as `_x_value`, formatted values and lookup targets as annotations, the row's ETag.

use serde_json::{Map, Value};
use uuid::Uuid;

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";
const LOOKUP_TABLE: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(Map<String, Value>);

impl Row {
    pub fn new(map: Map<String, Value>) -> Row {
        Row(map)
    }

    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.get(column).filter(|v| !v.is_null())
    }

    pub fn text(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(Value::as_str)
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        self.get(column).and_then(Value::as_i64)
    }

    pub fn number(&self, column: &str) -> Option<f64> {
        self.get(column).and_then(Value::as_f64)
    }

    pub fn bool(&self, column: &str) -> Option<bool> {
        self.get(column).and_then(Value::as_bool)
    }

    /// A GUID column (the primary key, `azureactivedirectoryobjectid`).
    pub fn guid(&self, column: &str) -> Option<Uuid> {
        self.text(column).and_then(|s| Uuid::parse_str(s).ok())
    }

    /// The id a lookup column points to (read as `_<column>_value`).
    pub fn lookup(&self, column: &str) -> Option<Uuid> {
        self.guid(&format!("_{column}_value"))
    }

    /// The table a lookup points to (`account`, `contact`…), when annotations were asked for.
    pub fn lookup_table(&self, column: &str) -> Option<&str> {
        self.text(&format!("_{column}_value{LOOKUP_TABLE}"))
    }

    /// The label Dataverse shows for a value (choices, money, lookups), when annotations were asked for.
    pub fn formatted(&self, column: &str) -> Option<&str> {
        self.0
            .get(&format!("{column}{FORMATTED}"))
            .or_else(|| self.0.get(&format!("_{column}_value{FORMATTED}")))
            .and_then(Value::as_str)
    }

    /// `W/"<version>"`: opaque, compared for equality only.
    pub fn etag(&self) -> Option<&str> {
        self.text("@odata.etag")
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_annotations_and_nulls_are_read_as_dataverse_writes_them() {
        let id = Uuid::new_v4();
        let row = Row::new(
            serde_json::json!({
                "@odata.etag": "W/\"42\"",
                "name": "Contoso",
                "description": null,
                "_parentaccountid_value": id.to_string(),
                "_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
                "statecode": 0,
                "statecode@OData.Community.Display.V1.FormattedValue": "Active",
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        assert_eq!(row.text("name"), Some("Contoso"));
        assert_eq!(row.get("description"), None);
        assert_eq!(row.lookup("parentaccountid"), Some(id));
        assert_eq!(row.lookup_table("parentaccountid"), Some("account"));
        assert_eq!(row.int("statecode"), Some(0));
        assert_eq!(row.formatted("statecode"), Some("Active"));
        assert_eq!(row.etag(), Some("W/\"42\""));
    }
}
