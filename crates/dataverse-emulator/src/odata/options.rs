//! `$select`, `$orderby`, `$top` and `$expand`.

use super::QueryError;
use super::filter::Filter;

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
