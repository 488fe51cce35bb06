//! The typed cell values the emulator stores in its tables, and the coarse kinds the query engine
//! reasons about when it binds a `$filter` or `$orderby` to a table's columns.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// One stored cell. Rows are `Vec<Value>` indexed by the column's ordinal in its table; a row shorter
/// than its table's column list reads as `Null` for the missing tail (columns added at run time).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Whole numbers, choices (picklists), state and status codes.
    Int(i64),
    /// Decimal, Money and Double columns.
    Decimal(f64),
    String(Box<str>),
    /// Primary keys, lookups (the `_x_value` form) and other unique identifiers.
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    /// DateOnly columns.
    Date(NaiveDate),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// The kinds a column can have, as far as comparisons, ordering and literal parsing care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Bool,
    Int,
    Decimal,
    String,
    Guid,
    DateTime,
    Date,
}

/// Read access to a row by column ordinal, for the query engine's evaluators.
pub fn cell(row: &[Value], ordinal: usize) -> &Value {
    static NULL: Value = Value::Null;
    row.get(ordinal).unwrap_or(&NULL)
}
