//! `$select`, `$orderby`, `$top` and `$expand`.

use std::cmp::Ordering;

use super::QueryError;
use super::filter::Filter;
use crate::value::Value;

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub property: String,
    pub descending: bool,
}

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    pub navigation_property: String,
    /// `nav/$ref`: only the reference is wanted.
    pub is_ref: bool,
    pub select: Option<Vec<String>>,
    pub filter: Option<Filter>,
    pub orderby: Option<Vec<OrderBy>>,
    pub top: Option<u32>,
    pub expand: Vec<Expand>,
}

pub fn parse_select(text: &str) -> Result<Vec<String>, QueryError> {
    Ok(text.split(',').map(|s| s.trim().to_string()).collect())
}

pub fn parse_orderby(_text: &str) -> Result<Vec<OrderBy>, QueryError> {
    Ok(Vec::new())
}

pub fn parse_top(text: &str) -> Result<u32, QueryError> {
    text.trim().parse().map_err(|_| QueryError {
        code: "0x80060888",
        message: format!("Invalid value '{text}' for $top query option found."),
    })
}

pub fn parse_expand(_text: &str) -> Result<Vec<Expand>, QueryError> {
    Ok(Vec::new())
}

/// SQL Server ordering: nulls first, strings case-insensitively, numbers numerically.
pub fn compare_for_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Int(x), Value::Decimal(y)) => (*x as f64).total_cmp(y),
        (Value::Decimal(x), Value::Int(y)) => x.total_cmp(&(*y as f64)),
        (Value::Decimal(x), Value::Decimal(y)) => x.total_cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Guid(x), Value::Guid(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}
