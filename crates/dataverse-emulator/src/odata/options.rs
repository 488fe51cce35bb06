//! `$select`, `$orderby`, `$top` and `$expand`, and the SQL Server row order `$orderby` sorts by.

use std::cmp::Ordering;

use super::QueryError;
use super::collation;
use super::filter::{self, Filter};
use super::lexer::{self, Lexer, TokenKind, query_error};
use crate::value::Value;

/// Dataverse allows at most 15 `$expand` items per query, nested ones included (join-tables.md).
pub const MAX_EXPANDS: usize = 15;

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

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// UriSelectParser_TermIsNotValid.
fn term_not_valid(term: &str) -> QueryError {
    query_error(format!(
        "Term '{}' is not valid in a $select or $expand expression.",
        lexer::echo(term)
    ))
}

pub fn parse_select(text: &str) -> Result<Vec<String>, QueryError> {
    text.split(',')
        .map(|item| {
            let item = item.trim();
            if item.starts_with('$') {
                // UriSelectParser_SystemTokenInSelectExpand.
                return Err(query_error(format!(
                    "Found system token '{}' in select or expand clause '{}'.",
                    lexer::echo(item),
                    lexer::echo(text)
                )));
            }
            if !is_name(item) {
                return Err(term_not_valid(item));
            }
            Ok(item.to_string())
        })
        .collect()
}

/// `name`, `name asc`, `createdon desc`, comma-separated; ascending unless `desc` is given.
/// Parameter aliases are not allowed (inside `$expand`).
pub fn parse_orderby(text: &str) -> Result<Vec<OrderBy>, QueryError> {
    parse_orderby_with(text, None)
}

/// A top-level `$orderby`, where `@p1` stands for the property the request names (`&@p1=name`).
pub fn parse_orderby_with_aliases(
    text: &str,
    aliases: &filter::Aliases,
) -> Result<Vec<OrderBy>, QueryError> {
    parse_orderby_with(text, Some(aliases))
}

fn parse_orderby_with(
    text: &str,
    aliases: Option<&filter::Aliases>,
) -> Result<Vec<OrderBy>, QueryError> {
    let mut lexer = Lexer::new(text);
    let mut token = lexer.next_token()?;
    let mut items = Vec::new();
    loop {
        let property = match &token.kind {
            TokenKind::Identifier => text[token.start..token.end].to_string(),
            TokenKind::Alias(name) => alias_property(text, name, aliases)?,
            _ => return Err(lexer::expression_expected(text, token.start)),
        };
        token = lexer.next_token()?;
        if token.kind == TokenKind::Slash {
            return Err(query_error(format!(
                "Ordering by a related table's column ('{property}/…') is not supported by this emulator."
            )));
        }
        let mut descending = false;
        if token.is_identifier(text, "asc") || token.is_identifier(text, "desc") {
            descending = token.is_identifier(text, "desc");
            token = lexer.next_token()?;
        }
        items.push(OrderBy {
            property,
            descending,
        });
        match token.kind {
            TokenKind::Comma => token = lexer.next_token()?,
            TokenKind::End => return Ok(items),
            _ => return Err(lexer::syntax_error(text, token.end)),
        }
    }
}

/// The property an `$orderby` alias names; its value must be a plain property name.
fn alias_property(
    text: &str,
    name: &str,
    aliases: Option<&filter::Aliases>,
) -> Result<String, QueryError> {
    let Some(aliases) = aliases else {
        return Err(query_error(format!(
            "Parameter aliases cannot be used here (inside $expand, for example): '@{name}' in \
             '{}'.",
            lexer::echo(text)
        )));
    };
    let value = aliases
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim())
        .ok_or_else(|| {
            // MetadataBinder_OrderByExpressionNotSingleValue: an undefined alias is null.
            query_error(
                "The $orderby expression must evaluate to a single value of primitive type.".into(),
            )
        })?;
    if !is_name(value) {
        return Err(query_error(format!(
            "The parameter alias '@{name}' in $orderby must name a property; '{}' does not.",
            lexer::echo(value)
        )));
    }
    Ok(value.to_string())
}

/// A non-negative 32-bit count, as Microsoft.OData requires; `$top=0` is accepted like OData does.
pub fn parse_top(text: &str) -> Result<u32, QueryError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|&top| i32::try_from(top).is_ok())
        .ok_or_else(|| {
            // SyntacticTree_InvalidTopQueryOptionValue.
            query_error(format!(
                "Invalid value '{}' for $top query option found. The $top query option requires a \
                 non-negative integer value.",
                lexer::echo(text)
            ))
        })
}

pub fn parse_expand(text: &str) -> Result<Vec<Expand>, QueryError> {
    let mut count = 0;
    parse_expand_items(text, &mut count)
}

fn parse_expand_items(text: &str, count: &mut usize) -> Result<Vec<Expand>, QueryError> {
    split_top_level(text, ',')?
        .into_iter()
        .map(|item| {
            *count += 1;
            if *count > MAX_EXPANDS {
                // UriParser_ExpandCountExceeded.
                return Err(query_error(format!(
                    "The result of parsing $expand contained at least {count} items, but the \
                     maximum allowed is {MAX_EXPANDS}."
                )));
            }
            parse_expand_item(item.trim(), count)
        })
        .collect()
}

fn parse_expand_item(item: &str, count: &mut usize) -> Result<Expand, QueryError> {
    let (head, options) = match item.find('(') {
        Some(open) if item.ends_with(')') => (&item[..open], Some(&item[open + 1..item.len() - 1])),
        Some(_) => return Err(term_not_valid(item)),
        None => (item, None),
    };
    let head = head.trim_end();
    let (name, is_ref) = match head.strip_suffix("/$ref") {
        Some(name) => (name, true),
        None => (head, false),
    };
    if !is_name(name) {
        return Err(term_not_valid(item));
    }
    let mut expand = Expand {
        navigation_property: name.to_string(),
        is_ref,
        select: None,
        filter: None,
        orderby: None,
        top: None,
        expand: Vec::new(),
    };
    let Some(options) = options else {
        return Ok(expand);
    };
    if options.trim().is_empty() {
        // UriParser_EmptyParenthesis.
        return Err(query_error("Empty parenthesis not allowed.".into()));
    }
    if is_ref {
        return Err(query_error(format!(
            "Options cannot follow '{name}/$ref' in $expand: a reference has no columns."
        )));
    }
    let mut seen_expand = false;
    for option in split_top_level(options, ';')? {
        let option = option.trim();
        let Some((key, value)) = option.split_once('=') else {
            return Err(term_not_valid(option));
        };
        let key = key.trim();
        let duplicate = match key {
            "$select" => expand.select.replace(parse_select(value)?).is_some(),
            "$filter" => expand.filter.replace(filter::parse(value)?).is_some(),
            "$orderby" => expand.orderby.replace(parse_orderby(value)?).is_some(),
            "$top" => expand.top.replace(parse_top(value)?).is_some(),
            "$expand" => {
                expand.expand = parse_expand_items(value, count)?;
                std::mem::replace(&mut seen_expand, true)
            }
            // join-tables.md: these OData expand options are not supported by Dataverse.
            "$skip" | "$count" | "$search" | "$levels" => {
                return Err(query_error(format!(
                    "The query option '{key}' is not supported inside $expand; only $select, \
                     $filter, $orderby, $top and $expand are."
                )));
            }
            _ => return Err(term_not_valid(option)),
        };
        if duplicate {
            // QueryOptionUtils_QueryParameterMustBeSpecifiedOnce.
            return Err(query_error(format!(
                "Query option '{key}' was specified more than once, but it must be specified at \
                 most once."
            )));
        }
    }
    Ok(expand)
}

/// Splits at `separator` where it is outside parentheses and outside quoted strings (`'…'` with
/// `''` escapes, and the `"…"` JSON strings of query-function arrays).
fn split_top_level(text: &str, separator: char) -> Result<Vec<&str>, QueryError> {
    let unbalanced = || query_error("Found an unbalanced bracket expression.".into());
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                // `''` inside a single-quoted string closes and reopens it: same effect.
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && d == '\\' {
                        chars.next();
                    }
                }
                if !closed {
                    return Err(query_error(format!(
                        "There is an unterminated literal at position {} in '{}'.",
                        text.chars().count(),
                        lexer::echo(text)
                    )));
                }
            }
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(unbalanced)?,
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(unbalanced());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// SQL Server's `ORDER BY` order for two cells: NULLs first (so last when descending), numbers
/// numerically, strings case-insensitively, GUIDs as `uniqueidentifier`, then dates. Cells of
/// unrelated kinds (which a well-typed column never mixes) are ordered by kind so sorting always
/// sees a total order.
pub fn compare_for_order(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    collation::compare_values(a, b).unwrap_or_else(|| kind_rank(a).cmp(&kind_rank(b)))
}

fn kind_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Decimal(_) => 2,
        Value::String(_) => 3,
        Value::Guid(_) => 4,
        Value::DateTime(_) => 5,
        Value::Date(_) => 6,
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
