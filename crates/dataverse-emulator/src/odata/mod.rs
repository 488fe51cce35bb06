//! The OData query language subset Dataverse accepts: `$filter` expressions and the other system
//! query options (`$select`, `$orderby`, `$top`, `$expand`, `$count`), parsed into typed trees and
//! bound to a table's columns before evaluation.
//!
//! Contract used by the rest of the emulator:
//! - `filter::parse(text)` → `Filter` (syntax only), `Filter::bind(&dyn Schema)` → `BoundFilter`
//!   (names resolved to column ordinals, literals converted to the column's kind),
//!   `BoundFilter::matches(row, ctx)`.
//! - `options::parse_select`, `parse_orderby`, `parse_expand`, `parse_top`.
//! - Every failure is a `QueryError` carrying the Dataverse error code and message.

mod collation;
pub mod filter;
mod lexer;
pub mod options;

use crate::value::ValueKind;

/// What the query engine needs to know about a table to bind names in a query.
pub trait Schema {
    /// The table's logical name (`account`), used in error messages such as
    /// `Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.account'.`
    fn logical_name(&self) -> &str;
    /// A column's ordinal in the row and its kind, by the name a query uses for it (`name`,
    /// `_parentaccountid_value`, `statecode`…). `None` when the table has no such property.
    fn column(&self, name: &str) -> Option<(usize, ValueKind)>;
}

/// Values a filter may depend on besides the row (e.g. `Microsoft.Dynamics.CRM.EqualUserId`).
#[derive(Debug, Clone)]
pub struct EvalContext {
    pub user_id: uuid::Uuid,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A rejected query, with the Dataverse error code (`0x80060888` for syntax and unknown
/// properties, …) and the message Dataverse gives for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}
