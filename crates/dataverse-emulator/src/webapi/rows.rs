//! Rows on the wire: serializing stored rows as Dataverse JSON (ETags, `_x_value` lookups,
//! annotations, formatted values) and turning request bodies into validated column values.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::error::ApiError;
use crate::metadata::{AttrType, Attribute, Table};
use crate::org::Org;
use crate::value::{Value, cell};

/// Which instance annotations a client asked for with `Prefer: odata.include-annotations`.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    patterns: Vec<String>,
}

impl Annotations {
    pub fn parse(value: &str) -> Self {
        Annotations {
            patterns: value
                .trim_matches('"')
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    pub fn wants(&self, term: &str) -> bool {
        self.patterns.iter().any(|p| {
            if p == "*" {
                return true;
            }
            if let Some(prefix) = p.strip_suffix(".*") {
                return term.starts_with(prefix);
            }
            p.eq_ignore_ascii_case(term)
        })
    }

    pub fn formatted(&self) -> bool {
        self.wants("OData.Community.Display.V1.FormattedValue")
    }

    pub fn lookups(&self) -> bool {
        self.wants("Microsoft.Dynamics.CRM.lookuplogicalname")
    }
}

pub const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";

pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

pub fn format_datetime(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    // serde_json's escaping is the reference; writing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn push_number(out: &mut String, f: f64) {
    if f.is_finite() {
        if f.fract() == 0.0 && f.abs() < 1e15 {
            let _ = write!(out, "{f:.1}");
        } else {
            let _ = write!(out, "{f}");
        }
    } else {
        out.push_str("null");
    }
}

/// Appends one value as JSON.
pub fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Decimal(d) => push_number(out, *d),
        Value::String(s) => push_str(out, s),
        Value::Guid(g) => {
            let _ = write!(out, "\"{g}\"");
        }
        Value::DateTime(d) => {
            let _ = write!(out, "\"{}\"", format_datetime(d));
        }
        Value::Date(d) => {
            let _ = write!(out, "\"{d}\"");
        }
    }
}

/// The label Dataverse shows for a value (`FormattedValue`), when it has one.
pub fn formatted_value(
    org: &Org,
    attr: &Attribute,
    v: &Value,
    row: &[Value],
    def: &Table,
) -> Option<String> {
    match (attr.attr_type, v) {
        (_, Value::Null) => None,
        (AttrType::Picklist | AttrType::State | AttrType::Status, Value::Int(i)) => {
            attr.label_of(*i).map(str::to_string)
        }
        (AttrType::Boolean, Value::Bool(b)) => Some(if *b { "Yes" } else { "No" }.into()),
        (AttrType::Money, Value::Decimal(d)) => Some(format!("${}", group_thousands(*d))),
        (AttrType::Integer | AttrType::BigInt, Value::Int(i)) => Some(group_int(*i)),
        (AttrType::DateTime, Value::DateTime(d)) => {
            Some(d.format("%-m/%-d/%Y %-I:%M %p").to_string())
        }
        (AttrType::DateOnly, Value::Date(d)) => Some(d.format("%-m/%-d/%Y").to_string()),
        (t, Value::Guid(id)) if t.is_lookup() => {
            let target = lookup_target(def, attr, row)?;
            let ti = org.table_index(&target)?;
            let tdef = org.def(ti);
            match org.get(ti, *id, &tdef.primary_name) {
                Some(Value::String(s)) => Some(s.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

pub fn group_int(i: i64) -> String {
    let digits = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (n, c) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if i < 0 { format!("-{out}") } else { out }
}

fn group_thousands(d: f64) -> String {
    let cents = (d * 100.0).round() as i64;
    format!("{}.{:02}", group_int(cents / 100), (cents % 100).abs())
}

/// The table a lookup value points to: the single target, or the companion type column.
pub fn lookup_target(def: &Table, attr: &Attribute, row: &[Value]) -> Option<String> {
    if attr.targets.len() == 1 {
        return attr.targets.first().cloned();
    }
    let o = def.lookup_type_ordinal(&attr.logical_name)?;
    match cell(row, o) {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Serializes one row's selected attributes (all readable ones when `select` is `None`) as the
/// members of a JSON object, without braces, starting with `@odata.etag`.
pub fn write_row_members(
    out: &mut String,
    org: &Org,
    def: &Table,
    row: &[Value],
    version: u64,
    select: Option<&[usize]>,
    ann: &Annotations,
) {
    out.push_str("\"@odata.etag\":");
    push_str(out, &etag(version));
    let mut emit = |attr: &Attribute| {
        let v = cell(row, attr.ordinal);
        let name = attr.property_name();
        if ann.formatted()
            && let Some(f) = formatted_value(org, attr, v, row, def)
        {
            out.push(',');
            push_str(out, &format!("{name}{FORMATTED}"));
            out.push(':');
            push_str(out, &f);
        }
        if attr.attr_type.is_lookup() && !v.is_null() && ann.lookups() {
            let nav = navigation_for(def, attr, row);
            if let Some(nav) = nav {
                out.push(',');
                push_str(
                    out,
                    &format!("{name}@Microsoft.Dynamics.CRM.associatednavigationproperty"),
                );
                out.push(':');
                push_str(out, &nav);
            }
            if let Some(target) = lookup_target(def, attr, row) {
                out.push(',');
                push_str(
                    out,
                    &format!("{name}@Microsoft.Dynamics.CRM.lookuplogicalname"),
                );
                out.push(':');
                push_str(out, &target);
            }
        }
        out.push(',');
        push_str(out, &name);
        out.push(':');
        push_value(out, v);
    };
    match select {
        Some(ordinals) => {
            for &o in ordinals {
                emit(&def.attributes[o]);
            }
        }
        None => {
            for attr in def.attributes.iter().filter(|a| !a.hidden) {
                emit(attr);
            }
        }
    }
}

fn navigation_for(def: &Table, attr: &Attribute, row: &[Value]) -> Option<String> {
    if attr.logical_name == "regardingobjectid" {
        let target = lookup_target(def, attr, row)?;
        return Some(format!("regardingobjectid_{target}_{}", def.logical_name));
    }
    if attr.targets.len() > 1 {
        let target = lookup_target(def, attr, row)?;
        return Some(format!("{}_{target}", attr.logical_name));
    }
    Some(attr.logical_name.clone())
}

/// The ordinals `$select` names, the primary key always included (as Dataverse does).
pub fn resolve_select(def: &Table, names: &[String]) -> Result<Vec<usize>, ApiError> {
    let mut out = Vec::new();
    for name in names {
        let attr = def
            .property(name)
            .ok_or_else(|| ApiError::unknown_property(name, &def.logical_name))?;
        if !out.contains(&attr.ordinal) {
            out.push(attr.ordinal);
        }
    }
    let pk = def.primary_id_ordinal();
    if !out.contains(&pk) {
        out.push(pk);
    }
    Ok(out)
}

/// A parsed `@odata.bind` target: the entity set and the key it names.
pub fn parse_bind_target(value: &str) -> Option<(String, String)> {
    let path = match value.find("/api/data/") {
        Some(i) => {
            let rest = &value[i + "/api/data/".len()..];
            rest.split_once('/').map(|(_, p)| p)?
        }
        None => value.trim_start_matches('/'),
    };
    let open = path.find('(')?;
    let close = path.rfind(')')?;
    if close < open {
        return None;
    }
    Some((path[..open].to_string(), path[open + 1..close].to_string()))
}

/// A column value from its JSON form, checked against the column's type and limits.
pub fn json_to_value(table: &str, attr: &Attribute, v: &Json) -> Result<Value, ApiError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let wrong = |expected: &str| {
        ApiError::payload(
            table,
            format!(
                "Cannot convert the literal '{}' to the expected type '{expected}'.",
                match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                }
            ),
        )
    };
    let value = match attr.attr_type {
        AttrType::String | AttrType::Memo | AttrType::EntityName => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.String"))?;
            if let Some(max) = attr.max_length
                && s.chars().count() > max as usize
            {
                return Err(ApiError::bad_request(
                    "0x80044331",
                    format!(
                        "A validation error occurred.  The length of the '{}' attribute of the '{table}' entity exceeded the maximum allowed length of '{max}'.",
                        attr.logical_name
                    ),
                ));
            }
            Value::String(s.into())
        }
        AttrType::Integer
        | AttrType::BigInt
        | AttrType::Picklist
        | AttrType::State
        | AttrType::Status => {
            let i = v.as_i64().ok_or_else(|| wrong("Edm.Int32"))?;
            if matches!(attr.attr_type, AttrType::Picklist) && attr.label_of(i).is_none() {
                return Err(ApiError::bad_request(
                    "0x8004431a",
                    format!(
                        "A validation error occurred. The value {i} of '{}' on record of type '{table}' is outside the valid range. Accepted Values: {}",
                        attr.logical_name,
                        attr.options
                            .iter()
                            .map(|o| o.value.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            }
            if attr.attr_type == AttrType::Integer && i32::try_from(i).is_err() {
                return Err(wrong("Edm.Int32"));
            }
            Value::Int(i)
        }
        AttrType::Decimal | AttrType::Money | AttrType::Double => {
            let f = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| wrong("Edm.Decimal"))?;
            Value::Decimal(f)
        }
        AttrType::Boolean => Value::Bool(v.as_bool().ok_or_else(|| wrong("Edm.Boolean"))?),
        AttrType::DateTime => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.DateTimeOffset"))?;
            Value::DateTime(parse_datetime(s).ok_or_else(|| wrong("Edm.DateTimeOffset"))?)
        }
        AttrType::DateOnly => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.Date"))?;
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .or_else(|| parse_datetime(s).map(|d| d.date_naive()))
                .ok_or_else(|| wrong("Edm.Date"))?;
            Value::Date(date)
        }
        AttrType::Uniqueidentifier | AttrType::Lookup | AttrType::Owner | AttrType::Customer => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.Guid"))?;
            Value::Guid(Uuid::parse_str(s).map_err(|_| wrong("Edm.Guid"))?)
        }
    };
    Ok(value)
}

pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// A JSON object body, or Dataverse's error for anything else.
pub fn parse_object(table: &str, body: &[u8]) -> Result<Map<String, Json>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "0x80048d19",
            "The request body is empty. A JSON object is required.",
        ));
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::payload(
            table,
            "A node of type 'StartArray' was read from the JSON reader when trying to read the start of an entry. A 'StartObject' node was expected.",
        )),
        Err(e) => Err(ApiError::payload(table, format!("Invalid JSON. {e}"))),
    }
}
