//! `$apply` on an entity set: the source rows (visible to the caller, passing `$filter` and the
//! `filter(…)` steps, at most 50,000 of them), grouped and aggregated into the response shape of
//! aggregate-data.md.

use std::cmp::Ordering;
use std::collections::HashMap;

use http::StatusCode;

use super::read::TableSchema;
use super::rows::{self, FORMATTED, formatted_value, push_str, push_value};
use super::{Ctx, Reply, eval_context, reach, row_visible};
use crate::error::ApiError;
use crate::metadata::{Attribute, Table};
use crate::odata::apply::{self, MAX_SOURCE_ROWS, Method};
use crate::odata::filter::{Aliases, BoundFilter};
use crate::odata::options::compare_for_order;
use crate::odata::{self, collation_key};
use crate::org::Org;
use crate::security::Depth;
use crate::value::{Value, ValueKind, cell};

/// Where a `groupby` value comes from: a column of the row, or of the row a lookup points to.
struct GroupColumn<'a> {
    /// The member name in the response (`statuscode`, `contact_fullname`).
    name: String,
    attr: &'a Attribute,
    /// The table `attr` belongs to.
    def: &'a Table,
    /// For a lookup path: the lookup's ordinal in the source row and the related table.
    via: Option<(usize, usize)>,
}

struct Aggregate<'a> {
    method: Method,
    alias: &'a str,
    attr: Option<&'a Attribute>,
}

/// One group's running total for one aggregate.
#[derive(Clone)]
enum Total {
    Count(i64),
    /// For `sum` and `average`: the numbers seen, and whether the column holds whole numbers.
    Sum {
        sum: f64,
        seen: i64,
        whole: bool,
    },
    /// For `min` and `max`.
    Extreme(Value),
}

/// The query options `$apply` may be combined with.
pub struct Request<'a> {
    pub apply: &'a str,
    pub aliases: &'a Aliases,
    pub filter: Option<&'a BoundFilter>,
    pub orderby: Option<&'a str>,
    pub top: Option<u32>,
}

pub fn respond(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    depth: Depth,
    request: &Request<'_>,
) -> Result<Reply, ApiError> {
    let def = org.def(t);
    let parsed = apply::parse(request.apply, request.aliases)?;
    let ectx = eval_context(org, ctx);
    let steps: Vec<BoundFilter> = parsed
        .filters
        .iter()
        .map(|f| f.bind(&TableSchema { org, t }, &ectx))
        .collect::<Result<_, _>>()?;
    let columns = parsed
        .group_by
        .iter()
        .map(|path| group_column(org, t, path))
        .collect::<Result<Vec<_>, _>>()?;
    let aggregates = parsed
        .aggregates
        .iter()
        .map(|a| aggregate(def, a))
        .collect::<Result<Vec<_>, _>>()?;
    let order = sort_keys(request.orderby, request.aliases, &columns, &aggregates, def)?;

    let subtree = reach(org, ctx, depth);
    let mut source = Vec::new();
    for row in org.table(t).rows.values() {
        let values = &row.values;
        if row_visible(org, ctx, t, values, depth, &subtree)
            && request.filter.is_none_or(|f| f.matches(values, &ectx))
            && steps.iter().all(|f| f.matches(values, &ectx))
        {
            if source.len() == MAX_SOURCE_ROWS {
                // aggregate-data.md and data-service-error-codes.md.
                return Err(ApiError::bad_request(
                    "0x8004e023",
                    "The maximum record limit is exceeded. Reduce the number of records.",
                ));
            }
            source.push(&values[..]);
        }
    }

    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, &[Value], Vec<Total>)> = Vec::new();
    let fresh: Vec<Total> = aggregates.iter().map(|a| start(a)).collect();
    for values in source {
        let key: Vec<Value> = columns
            .iter()
            .map(|c| group_value(org, c, values))
            .collect();
        let slot = *index.entry(key_text(&key)).or_insert_with(|| {
            groups.push((key, values, fresh.clone()));
            groups.len() - 1
        });
        for (total, aggregate) in groups[slot].2.iter_mut().zip(&aggregates) {
            add(total, aggregate, values);
        }
    }
    groups.sort_by(|a, b| {
        for &(i, descending) in &order {
            let o = compare_for_order(&a.0[i], &b.0[i]);
            let o = if descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if let Some(top) = request.top {
        groups.truncate(top as usize);
    }

    let ann = &ctx.prefer.annotations;
    let mut out = String::with_capacity(256 + groups.len() * 128);
    out.push_str("{\"@odata.context\":");
    push_str(
        &mut out,
        &format!("{}/$metadata#{}", ctx.base, def.entity_set_name),
    );
    out.push_str(",\"value\":[");
    for (i, (key, sample, totals)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        let mut first = true;
        for (column, value) in columns.iter().zip(key) {
            let row = match column.via {
                Some(_) => &[][..],
                None => *sample,
            };
            let formatted = ann
                .formatted()
                .then(|| formatted_value(org, column.attr, value, row, column.def))
                .flatten();
            member(&mut out, &mut first, &column.name, value, formatted);
        }
        for (aggregate, total) in aggregates.iter().zip(totals) {
            let value = finish(total, aggregate.method);
            let formatted = ann.formatted().then(|| match (aggregate.attr, &value) {
                (_, Value::Null) => None,
                (None, Value::Int(n)) => Some(rows::group_int(*n)),
                (Some(attr), v) => formatted_value(org, attr, v, &[], def),
                _ => None,
            });
            member(
                &mut out,
                &mut first,
                aggregate.alias,
                &value,
                formatted.flatten(),
            );
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(Reply::json(StatusCode::OK, out))
}

/// Writes `"name":value` (with its formatted value first); aggregate-data.md leaves nulls out.
fn member(
    out: &mut String,
    first: &mut bool,
    name: &str,
    value: &Value,
    formatted: Option<String>,
) {
    if value.is_null() {
        return;
    }
    if let Some(f) = formatted {
        if !std::mem::take(first) {
            out.push(',');
        }
        push_str(out, &format!("{name}{FORMATTED}"));
        out.push(':');
        push_str(out, &f);
    }
    if !std::mem::take(first) {
        out.push(',');
    }
    push_str(out, name);
    out.push(':');
    push_value(out, value);
}

fn group_column<'a>(org: &'a Org, t: usize, path: &str) -> Result<GroupColumn<'a>, ApiError> {
    let def = org.def(t);
    let (column, via) = match path.split_once('/') {
        None => (def.property(path), None),
        Some((nav, rest)) => {
            let (lookup, target) = def
                .navigation_properties()
                .into_iter()
                .find(|(n, _, _)| n == nav)
                .map(|(_, lookup, target)| (lookup, target))
                .ok_or_else(|| ApiError::unknown_property(nav, &def.logical_name))?;
            let tt = org
                .table_index(&target)
                .ok_or_else(|| ApiError::unknown_property(nav, &def.logical_name))?;
            if rest.contains('/') {
                return Err(ApiError::odata(format!(
                    "Grouping by '{path}' is not supported by this emulator: a groupby path may \
                     follow one lookup."
                )));
            }
            let lookup = def
                .ordinal(&lookup)
                .ok_or_else(|| ApiError::unknown_property(nav, &def.logical_name))?;
            let tdef = org.def(tt);
            match tdef.property(rest) {
                Some(attr) => (Some(attr), Some((lookup, tt))),
                None => return Err(ApiError::unknown_property(rest, &tdef.logical_name)),
            }
        }
    };
    let attr = column.ok_or_else(|| ApiError::unknown_property(path, &def.logical_name))?;
    if matches!(attr.attr_type.kind(), ValueKind::DateTime | ValueKind::Date) {
        // aggregate-data.md: "groupby with datetime values is not supported".
        return Err(ApiError::odata(format!(
            "Grouping by the date and time column '{path}' is not supported."
        )));
    }
    let (name, owner) = match via {
        // aggregate-data.md: `primarycontactid/fullname` comes back as `contact_fullname`.
        Some((_, tt)) => (
            format!("{}_{}", org.def(tt).logical_name, attr.property_name()),
            org.def(tt),
        ),
        None => (attr.property_name(), def),
    };
    Ok(GroupColumn {
        name,
        attr,
        def: owner,
        via,
    })
}

fn aggregate<'a>(def: &'a Table, a: &'a apply::Aggregate) -> Result<Aggregate<'a>, ApiError> {
    let Some(property) = &a.property else {
        return Ok(Aggregate {
            method: a.method,
            alias: &a.alias,
            attr: None,
        });
    };
    let attr = def
        .property(property)
        .ok_or_else(|| ApiError::unknown_property(property, &def.logical_name))?;
    let kind = attr.attr_type.kind();
    let fits = match a.method {
        Method::Sum | Method::Average => matches!(kind, ValueKind::Int | ValueKind::Decimal),
        Method::Min | Method::Max => matches!(
            kind,
            ValueKind::Int | ValueKind::Decimal | ValueKind::DateTime | ValueKind::Date
        ),
        Method::Count => true,
    };
    if !fits {
        return Err(ApiError::odata(format!(
            "The aggregate '{property} with {}' needs a number{} column; '{property}' is not one.",
            method_name(a.method),
            if matches!(a.method, Method::Min | Method::Max) {
                " or date"
            } else {
                ""
            }
        )));
    }
    Ok(Aggregate {
        method: a.method,
        alias: &a.alias,
        attr: Some(attr),
    })
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Count => "$count",
        Method::Sum => "sum",
        Method::Average => "average",
        Method::Min => "min",
        Method::Max => "max",
    }
}

/// `$orderby` over an aggregate result: group columns only.
fn sort_keys(
    orderby: Option<&str>,
    aliases: &Aliases,
    columns: &[GroupColumn<'_>],
    aggregates: &[Aggregate<'_>],
    def: &Table,
) -> Result<Vec<(usize, bool)>, ApiError> {
    let Some(text) = orderby else {
        return Ok((0..columns.len()).map(|i| (i, false)).collect());
    };
    odata::options::parse_orderby_with_aliases(text, aliases)?
        .into_iter()
        .map(|o| {
            if aggregates.iter().any(|a| a.alias == o.property) {
                // aggregate-data.md: ordering by an aggregate value fails with this text.
                return Err(ApiError::odata(
                    "The query node SingleValueOpenPropertyAccess is not supported",
                ));
            }
            columns
                .iter()
                .position(|c| c.name == o.property)
                .map(|i| (i, o.descending))
                .ok_or_else(|| ApiError::unknown_property(&o.property, &def.logical_name))
        })
        .collect()
}

fn group_value(org: &Org, column: &GroupColumn<'_>, values: &[Value]) -> Value {
    match column.via {
        None => cell(values, column.attr.ordinal).clone(),
        Some((lookup, tt)) => match cell(values, lookup) {
            Value::Guid(id) => org.table(tt).rows.get(id).map_or(Value::Null, |r| {
                cell(&r.values, column.attr.ordinal).clone()
            }),
            _ => Value::Null,
        },
    }
}

/// A group's identity: strings without regard to case, as the database collation groups them.
fn key_text(key: &[Value]) -> String {
    let mut out = String::new();
    for value in key {
        match value {
            Value::String(s) => out.push_str(&collation_key(s)),
            other => push_value(&mut out, other),
        }
        out.push('\u{1f}');
    }
    out
}

fn start(aggregate: &Aggregate<'_>) -> Total {
    match aggregate.method {
        Method::Count => Total::Count(0),
        Method::Sum | Method::Average => Total::Sum {
            sum: 0.0,
            seen: 0,
            whole: aggregate
                .attr
                .is_some_and(|a| a.attr_type.kind() == ValueKind::Int),
        },
        Method::Min | Method::Max => Total::Extreme(Value::Null),
    }
}

fn add(total: &mut Total, aggregate: &Aggregate<'_>, values: &[Value]) {
    let value = aggregate
        .attr
        .map_or(&Value::Null, |a| cell(values, a.ordinal));
    match total {
        Total::Count(n) => *n += 1,
        Total::Sum { sum, seen, .. } => {
            let number = match value {
                Value::Int(i) => Some(*i as f64),
                Value::Decimal(d) => Some(*d),
                _ => None,
            };
            if let Some(number) = number {
                *sum += number;
                *seen += 1;
            }
        }
        Total::Extreme(best) => {
            if value.is_null() {
                return;
            }
            let wanted = if aggregate.method == Method::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            if best.is_null() || compare_for_order(value, best) == wanted {
                *best = value.clone();
            }
        }
    }
}

/// The aggregate's value: SQL Server's, so an empty set sums to null and the average of whole
/// numbers is a whole number (truncated).
fn finish(total: &Total, method: Method) -> Value {
    match total {
        Total::Count(n) => Value::Int(*n),
        Total::Sum { seen: 0, .. } => Value::Null,
        Total::Sum { sum, seen, whole } => {
            let value = if method == Method::Average {
                sum / *seen as f64
            } else {
                *sum
            };
            if *whole {
                Value::Int(value.trunc() as i64)
            } else {
                Value::Decimal(value)
            }
        }
        Total::Extreme(v) => v.clone(),
    }
}
