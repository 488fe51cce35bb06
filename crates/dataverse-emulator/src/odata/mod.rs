//! The OData query language subset Dataverse accepts: `$filter` expressions and the other system
//! query options (`$select`, `$orderby`, `$top`, `$expand`, `$count`), parsed into typed trees and
//! bound to a table's columns before evaluation.
//!
//! Contract used by the rest of the emulator:
//! - `filter::parse(text)` / `parse_with_aliases` → `Filter` (syntax only),
//!   `Filter::bind(&dyn Schema, &EvalContext)` → `BoundFilter` (names resolved to column
//!   ordinals, literals converted to the column's kind, related tables reached through navigation
//!   properties read once into id sets), `BoundFilter::matches(row, ctx)`.
//! - `options::parse_select`, `parse_orderby`, `parse_expand`, `parse_top`; `apply::parse`.
//! - Every failure is a `QueryError` carrying the Dataverse error code and message.

pub mod apply;
mod collation;
pub mod dates;
pub mod filter;
mod lexer;
pub mod options;

use uuid::Uuid;

use crate::value::{Value, ValueKind};

/// The form of a string two values share when the database collation finds them equal
/// (case-insensitive, trailing spaces ignored): what groups rows together in `groupby`.
pub fn collation_key(s: &str) -> Box<str> {
    collation::fold_str(collation::trim_pad(s))
}

/// What the query engine needs to know about a table to bind names in a query.
pub trait Schema {
    /// The table's logical name (`account`), used in error messages such as
    /// `Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.account'.`
    fn logical_name(&self) -> &str;
    /// A column's ordinal in the row and its kind, by the name a query uses for it (`name`,
    /// `_parentaccountid_value`, `statecode`…). `None` when the table has no such property.
    fn column(&self, name: &str) -> Option<(usize, ValueKind)>;
    /// A single-valued navigation property (`primarycontactid`, `parentcustomerid_account`).
    fn lookup(&self, _name: &str) -> Option<Lookup<'_>> {
        None
    }
    /// A collection-valued navigation property (`contact_customer_accounts`).
    fn collection(&self, _name: &str) -> Option<Collection<'_>> {
        None
    }
}

/// A table reached through a navigation property: its columns, and its rows.
pub trait Related: Schema {
    /// Calls `visit` with the primary key and the values of every row.
    fn scan(&self, visit: &mut dyn FnMut(Uuid, &[Value]));
}

/// How to follow a single-valued navigation property from a row.
pub struct Lookup<'a> {
    /// The ordinal of the lookup column holding the related row's id.
    pub ordinal: usize,
    pub target: Box<dyn Related + 'a>,
}

/// How to find the rows of a collection-valued navigation property.
pub struct Collection<'a> {
    /// The ordinal of this table's primary key.
    pub key: usize,
    /// The ordinal, in the related rows, of the lookup that points back here.
    pub referencing: usize,
    pub related: Box<dyn Related + 'a>,
}

/// Values a filter may depend on besides the row (`EqualUserId`, `EqualBusinessId`, the date
/// functions).
#[derive(Debug, Clone)]
pub struct EvalContext {
    pub user_id: Uuid,
    /// The caller's business unit (`Microsoft.Dynamics.CRM.EqualBusinessId`).
    pub business_unit_id: Uuid,
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
