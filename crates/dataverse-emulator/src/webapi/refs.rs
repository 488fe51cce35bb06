//! One value of one row: reading and writing a single property (`GET/PUT/DELETE
//! set(id)/column`), setting a lookup through `$ref`, associating and disassociating rows of a
//! collection-valued navigation property, and replacing an activity's parties (§6).

use http::{Method, StatusCode};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::rows::{self, parse_bind_target};
use super::{
    Ctx, Reply, check_record_access, existing_row_id, key_to_id, method_not_allowed, name_and_args,
    query_param, require,
};
use crate::error::ApiError;
use crate::metadata::OneToMany;
use crate::org::Org;
use crate::value::{Value, cell};

/// `GET set(id)/column` (`{"value": …}`) and `GET set(id)/column/$value` (the bare value).
pub fn read_property(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    key: &str,
    prop: &str,
    tail: Option<&str>,
) -> Result<Reply, ApiError> {
    let def = org.def(t);
    require(org, ctx, "Read", t)?;
    let attr = def
        .property(prop)
        .ok_or_else(|| ApiError::resource_not_found(prop))?;
    let id = existing_row_id(org, t, key)?;
    let row = org
        .table(t)
        .rows
        .get(&id)
        .ok_or_else(|| ApiError::not_found(&def.logical_name, id))?;
    check_record_access(org, ctx, t, &row.values, "Read", id)?;
    let value = cell(&row.values, attr.ordinal);
    // OData: a null property has no content.
    if value.is_null() {
        return Ok(Reply::no_content());
    }
    let mut json = String::new();
    rows::push_value(&mut json, value);
    match tail {
        None => {
            let mut out = String::from("{\"@odata.context\":");
            rows::push_str(
                &mut out,
                &format!(
                    "{}/$metadata#{}({id})/{}",
                    ctx.base,
                    def.entity_set_name,
                    attr.property_name()
                ),
            );
            out.push_str(",\"value\":");
            out.push_str(&json);
            out.push('}');
            Ok(Reply::json(StatusCode::OK, out))
        }
        Some("$value") => {
            let text = match serde_json::from_str::<Json>(&json) {
                Ok(Json::String(s)) => s,
                _ => json,
            };
            Ok(Reply {
                status: StatusCode::OK,
                headers: vec![
                    ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                    ("OData-Version".into(), "4.0".into()),
                ],
                body: text.into_bytes(),
            })
        }
        Some(other) => Err(ApiError::resource_not_found(other)),
    }
}

/// `PUT`, `DELETE` and `POST` below a row: `segments` follow `set(id)`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    key: &str,
    segments: &[&str],
    method: &Method,
    body: &[u8],
    query: &str,
) -> Result<Reply, ApiError> {
    let (segment, tail) = match segments {
        [segment] => (*segment, None),
        [segment, tail] => (*segment, Some(*tail)),
        _ => return Err(ApiError::resource_not_found(&segments.join("/"))),
    };
    let (name, nav_key) = name_and_args(segment);
    let def = org.def(t);
    let table = def.logical_name.clone();
    let collection = def
        .one_to_many
        .iter()
        .find(|r| r.schema_name == name)
        .cloned();
    match (tail, collection) {
        (Some("$ref"), Some(rel)) => {
            let parent = existing_row_id(org, t, key)?;
            match (method, nav_key) {
                (&Method::POST, None) => associate(org, ctx, t, parent, &rel, body),
                (&Method::DELETE, _) => {
                    let child = match nav_key {
                        Some(child_key) => ChildRef::Key(child_key.to_string()),
                        None => ChildRef::Uri(query_param(query, "$id").ok_or_else(|| {
                            ApiError::odata(format!(
                                "Removing a row from '{name}' needs its key \
                                 ('{name}(<id>)/$ref') or '$id=<uri>'."
                            ))
                        })?),
                    };
                    disassociate(org, ctx, t, parent, &rel, child)
                }
                _ => Err(method_not_allowed()),
            }
        }
        (Some("$ref"), None) => {
            if nav_key.is_some() || def.navigation_property(name).is_none() {
                return Err(ApiError::resource_not_found(segment));
            }
            let id = key_to_id(org, t, key)?;
            let target = match *method {
                Method::PUT => rows::parse_object(&table, body)?
                    .remove("@odata.id")
                    .filter(Json::is_string)
                    .ok_or_else(|| {
                        ApiError::payload(&table, "The '@odata.id' property is required.")
                    })?,
                Method::DELETE => Json::Null,
                _ => return Err(method_not_allowed()),
            };
            let mut change = Map::new();
            change.insert(format!("{name}@odata.bind"), target);
            super::write::update(org, ctx, t, id, &change, None)?;
            Ok(Reply::no_content())
        }
        (None, None) if nav_key.is_none() => {
            let id = key_to_id(org, t, key)?;
            if def.is_activity && name == format!("{table}_activity_parties") {
                return match *method {
                    Method::PUT => replace_parties(org, ctx, t, id, name, body),
                    _ => Err(method_not_allowed()),
                };
            }
            if def.property(name).is_none() {
                return Err(ApiError::resource_not_found(name));
            }
            let value = match *method {
                Method::PUT => rows::parse_object(&table, body)?
                    .remove("value")
                    .ok_or_else(|| {
                        ApiError::payload(&table, "The 'value' property is required.")
                    })?,
                Method::DELETE => Json::Null,
                _ => return Err(method_not_allowed()),
            };
            let mut change = Map::new();
            change.insert(name.to_string(), value);
            super::write::update(org, ctx, t, id, &change, None)?;
            Ok(Reply::no_content())
        }
        _ => Err(ApiError::resource_not_found(segment)),
    }
}

/// The navigation property of the related row's lookup that points at `parent_table`.
fn child_navigation(
    org: &Org,
    child: usize,
    rel: &OneToMany,
    parent_table: &str,
) -> Option<String> {
    org.def(child)
        .navigation_properties()
        .into_iter()
        .find(|(_, lookup, target)| *lookup == rel.lookup && target == parent_table)
        .map(|(nav, _, _)| nav)
}

/// `POST set(id)/collection/$ref {"@odata.id": "<uri of the related row>"}`: the related row's
/// lookup is set to this row.
fn associate(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    parent: Uuid,
    rel: &OneToMany,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let def = org.def(t);
    let (table, set) = (def.logical_name.clone(), def.entity_set_name.clone());
    let body = rows::parse_object(&table, body)?;
    let uri = body
        .get("@odata.id")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::payload(&table, "The '@odata.id' property is required."))?;
    let (child_table, child) = resolve_child(org, rel, uri)?;
    let nav = child_navigation(org, child_table, rel, &table)
        .ok_or_else(|| ApiError::resource_not_found(&rel.schema_name))?;
    let mut change = Map::new();
    change.insert(
        format!("{nav}@odata.bind"),
        Json::String(format!("/{set}({parent})")),
    );
    super::write::update(org, ctx, child_table, child, &change, None)?;
    Ok(Reply::no_content())
}

/// How a disassociation names the related row: by key in the path, or by URI in `$id`.
enum ChildRef {
    Key(String),
    Uri(String),
}

/// `DELETE set(id)/collection(child)/$ref` or `…/collection/$ref?$id=<uri>`: the related row's
/// lookup is cleared when it points at this row; otherwise nothing changes. [inf]
fn disassociate(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    parent: Uuid,
    rel: &OneToMany,
    child: ChildRef,
) -> Result<Reply, ApiError> {
    let (child_table, child) = match child {
        ChildRef::Uri(uri) => resolve_child(org, rel, &uri)?,
        ChildRef::Key(key) => {
            let ct = org
                .table_index(&rel.referencing_table)
                .ok_or_else(|| ApiError::resource_not_found(&rel.schema_name))?;
            (ct, existing_row_id(org, ct, &key)?)
        }
    };
    let points_here = org.def(child_table).ordinal(&rel.lookup).and_then(|o| {
        org.table(child_table)
            .rows
            .get(&child)
            .map(|r| cell(&r.values, o).clone())
    }) == Some(Value::Guid(parent));
    if points_here {
        let nav = child_navigation(org, child_table, rel, &org.def(t).logical_name.clone())
            .ok_or_else(|| ApiError::resource_not_found(&rel.schema_name))?;
        let mut change = Map::new();
        change.insert(format!("{nav}@odata.bind"), Json::Null);
        super::write::update(org, ctx, child_table, child, &change, None)?;
    }
    Ok(Reply::no_content())
}

/// The table and id of the related row a URI names; it must belong to the collection's table.
fn resolve_child(org: &Org, rel: &OneToMany, uri: &str) -> Result<(usize, Uuid), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "0x80048d19",
            format!(
                "The URI '{uri}' does not address a row of '{}', as the navigation property '{}' \
                 requires.",
                rel.referencing_table, rel.schema_name
            ),
        )
    };
    let (set, key) = parse_bind_target(uri).ok_or_else(bad)?;
    let ct = org.table_by_set(&set).ok_or_else(bad)?;
    if org.def(ct).logical_name != rel.referencing_table {
        return Err(bad());
    }
    Ok((ct, existing_row_id(org, ct, &key)?))
}

/// `PUT emails(id)/email_activity_parties {"value":[…]}`: the parties are replaced wholesale
/// (§3, the one collection that can be set on update).
fn replace_parties(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    id: Uuid,
    nav: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let table = org.def(t).logical_name.clone();
    let parties = rows::parse_object(&table, body)?
        .remove("value")
        .filter(Json::is_array)
        .ok_or_else(|| {
            ApiError::payload(
                &table,
                "The 'value' property must be an array of activity parties.",
            )
        })?;
    let stored = org
        .table(t)
        .rows
        .get(&id)
        .ok_or_else(|| ApiError::not_found(&table, id))?;
    check_record_access(org, ctx, t, &stored.values, "Write", id)?;
    if let Some(pt) = org.table_index("activityparty")
        && let Some(o) = org.def(pt).ordinal("activityid")
    {
        let old: Vec<Uuid> = org
            .table(pt)
            .rows
            .iter()
            .filter(|(_, r)| cell(&r.values, o) == &Value::Guid(id))
            .map(|(party, _)| *party)
            .collect();
        for party in old {
            org.store.delete(pt, party);
        }
    }
    let mut change = Map::new();
    change.insert(nav.to_string(), parties);
    super::write::update(org, ctx, t, id, &change, None)?;
    Ok(Reply::no_content())
}
