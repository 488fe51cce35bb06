//! `$filter`: parsing, binding to a table's columns, and evaluation against rows.

use super::{EvalContext, QueryError, Schema};
use crate::value::Value;

/// A parsed, unbound `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {}

/// A filter whose names are resolved to column ordinals and whose literals have the columns' kinds.
#[derive(Debug, Clone)]
pub struct BoundFilter {}

pub fn parse(_text: &str) -> Result<Filter, QueryError> {
    Err(QueryError {
        code: "0x80060888",
        message: "$filter is not supported yet".into(),
    })
}

impl Filter {
    pub fn bind(&self, _schema: &dyn Schema) -> Result<BoundFilter, QueryError> {
        Ok(BoundFilter {})
    }
}

impl BoundFilter {
    pub fn matches(&self, _row: &[Value], _ctx: &EvalContext) -> bool {
        true
    }
}
