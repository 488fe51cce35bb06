//! Writes: create, update, upsert and delete of rows, with `@odata.bind` lookups, activity parties,
//! state/status rules, alternate-key collisions and ownership, all checked against privileges.

use http::StatusCode;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::rows::{json_to_value, parse_bind_target};
use super::{Ctx, Key, check_record_access, existing_row_id, require};
use crate::error::ApiError;
use crate::metadata::AttrType;
use crate::org::{Org, default_status, s};
use crate::value::Value;

/// Column values a body sets, plus the parties of an activity.
struct Changes {
    values: Vec<(usize, Value)>,
    owner: Option<Uuid>,
    parties: Vec<Map<String, Json>>,
    explicit_id: Option<Uuid>,
}

fn collect_changes(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    body: &Map<String, Json>,
    creating: bool,
) -> Result<Changes, ApiError> {
    let def = org.def(t);
    let table = def.logical_name.as_str();
    let mut changes = Changes {
        values: Vec::new(),
        owner: None,
        parties: Vec::new(),
        explicit_id: None,
    };
    for (key, v) in body {
        if let Some(nav) = key.strip_suffix("@odata.bind") {
            let (lookup, target) = def
                .navigation_property(nav)
                .ok_or_else(|| ApiError::payload_unknown_property(nav, table))?;
            let lookup_ordinal = def
                .ordinal(&lookup)
                .ok_or_else(|| ApiError::payload_unknown_property(nav, table))?;
            if v.is_null() {
                changes.values.push((lookup_ordinal, Value::Null));
                if let Some(o) = def.lookup_type_ordinal(&lookup) {
                    changes.values.push((o, Value::Null));
                }
                continue;
            }
            let text = v.as_str().ok_or_else(|| {
                ApiError::payload(
                    table,
                    format!(
                        "An unexpected '{}' node was found when reading the value of '{key}'.",
                        v
                    ),
                )
            })?;
            let (set, key_text) = parse_bind_target(text).ok_or_else(|| {
                ApiError::bad_request("0x80048d19", format!("The URI '{text}' in '{key}' is not valid for the navigation property '{nav}'."))
            })?;
            let target_index = org
                .table_by_set(&set)
                .ok_or_else(|| ApiError::resource_not_found(&set))?;
            let target_def = org.def(target_index);
            if target_def.logical_name != target {
                return Err(ApiError::bad_request(
                    "0x80048d19",
                    format!(
                        "The URI '{text}' does not address an entity of type '{target}', as the navigation property '{nav}' requires."
                    ),
                ));
            }
            let id = existing_row_id(org, target_index, &key_text)?;
            require(org, ctx, "AppendTo", target_index)?;
            if lookup == "ownerid" {
                changes.owner = Some(id);
            }
            changes.values.push((lookup_ordinal, Value::Guid(id)));
            if let Some(o) = def.lookup_type_ordinal(&lookup) {
                changes.values.push((o, s(&target)));
            }
            continue;
        }
        if key.starts_with('@') || key.contains('@') {
            continue;
        }
        if def.is_activity && key == &format!("{table}_activity_parties") {
            let parties = v.as_array().ok_or_else(|| {
                ApiError::payload(
                    table,
                    format!("'{key}' must be an array of activity parties."),
                )
            })?;
            for p in parties {
                let party = p.as_object().ok_or_else(|| {
                    ApiError::payload(table, "An activity party must be an object.")
                })?;
                changes.parties.push(party.clone());
            }
            continue;
        }
        let attr = def
            .property(key)
            .ok_or_else(|| ApiError::payload_unknown_property(key, table))?;
        if attr.attr_type.is_lookup() {
            return Err(ApiError::bad_request(
                "0x80048d19",
                "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
            ));
        }
        if attr.logical_name == def.primary_id {
            let value = json_to_value(table, attr, v)?;
            if let Value::Guid(g) = value {
                changes.explicit_id = Some(g);
            }
            continue;
        }
        if creating && attr.attr_type == AttrType::State {
            return Err(ApiError::bad_request(
                "0x80040203",
                format!(
                    "{} is not a valid attribute for create on {table}: a new record always starts in its default state. Change the state with an update after the record is created.",
                    attr.logical_name
                ),
            ));
        }
        let allowed = if creating {
            attr.valid_for_create
        } else {
            attr.valid_for_update
        };
        if !allowed {
            // Dataverse ignores read-only columns in a payload rather than failing the request.
            continue;
        }
        changes
            .values
            .push((attr.ordinal, json_to_value(table, attr, v)?));
    }
    Ok(changes)
}

/// Checks and completes state/status in `row` after the changes are applied.
fn settle_state(
    org: &Org,
    t: usize,
    row: &mut [Value],
    state_given: bool,
    status_given: bool,
) -> Result<(), ApiError> {
    let def = org.def(t);
    let (Some(st), Some(sc)) = (def.ordinal("statecode"), def.ordinal("statuscode")) else {
        return Ok(());
    };
    let Some(status_attr) = def.attribute("statuscode") else {
        return Ok(());
    };
    let state = match &row[st] {
        Value::Int(i) => *i,
        _ => 0,
    };
    if state_given && !status_given {
        row[sc] = default_status(def, state).map_or(Value::Null, Value::Int);
        return Ok(());
    }
    if let Value::Int(status) = row[sc] {
        let owner_state = status_attr
            .options
            .iter()
            .find(|o| o.value == status)
            .and_then(|o| o.state);
        match owner_state {
            Some(s) if s == state => {}
            Some(s) if !state_given => row[st] = Value::Int(s),
            _ => {
                let state_label = def
                    .attribute("statecode")
                    .and_then(|a| a.label_of(state))
                    .unwrap_or("Unknown");
                return Err(ApiError::bad_request(
                    "0x80040203",
                    format!(
                        "{status} is not a valid status code for state code {}State.{state_label} on {} with Id {}.",
                        def.schema_name,
                        def.logical_name,
                        match &row[def.primary_id_ordinal()] {
                            Value::Guid(g) => g.to_string(),
                            _ => String::new(),
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn duplicate_key(org: &Org, t: usize, key_name: &str) -> ApiError {
    let def = org.def(t);
    let attrs = def
        .keys
        .iter()
        .find(|k| k.schema_name == key_name)
        .map(|k| k.key_attributes.join(","))
        .unwrap_or_default();
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "0x80060892",
        format!(
            "A record that has the attribute values {attrs} already exists. The entity key {key_name} requires that this set of attributes contains unique values. Select unique values and try again."
        ),
    )
}

/// Creates a row; `id` and `preset` come from an upsert's key.
pub fn create(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    body: &Map<String, Json>,
    id: Option<Uuid>,
    preset: &[(usize, Value)],
) -> Result<Uuid, ApiError> {
    require(org, ctx, "Create", t)?;
    let changes = collect_changes(org, ctx, t, body, true)?;
    if changes
        .values
        .iter()
        .any(|(o, _)| org.def(t).attributes[*o].attr_type.is_lookup())
    {
        require(org, ctx, "Append", t)?;
    }
    let id = id.or(changes.explicit_id).unwrap_or_else(Uuid::new_v4);
    if org.table(t).rows.contains_key(&id) {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "0x80040237",
            "Cannot insert duplicate key.",
        ));
    }
    let def = org.def(t);
    let mut row = vec![Value::Null; def.attributes.len()];
    for (o, v) in preset.iter().chain(changes.values.iter()) {
        row[*o] = v.clone();
    }
    let status_given = changes
        .values
        .iter()
        .any(|(o, _)| def.attributes[*o].attr_type == AttrType::Status);
    if let Some(st) = def.ordinal("statecode") {
        row[st] = Value::Int(0);
    }
    settle_state(org, t, &mut row, false, status_given)?;
    let on_behalf = ctx.impersonating.then_some(ctx.caller);
    org.stamp_new_row(
        t,
        &mut row,
        id,
        changes.owner,
        Some(ctx.user),
        on_behalf,
        ctx.now,
    );
    org.store
        .insert(t, id, row)
        .map_err(|d| duplicate_key(org, t, &d.key_name))?;
    if !changes.parties.is_empty() {
        add_parties(org, ctx, t, id, &changes.parties)?;
    }
    Ok(id)
}

fn add_parties(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    activity: Uuid,
    parties: &[Map<String, Json>],
) -> Result<(), ApiError> {
    let Some(pt) = org.table_index("activityparty") else {
        return Ok(());
    };
    let activity_table = org.def(t).logical_name.clone();
    for party in parties {
        let mut row = vec![Value::Null; org.def(pt).attributes.len()];
        let pdef = org.def(pt);
        let set = |row: &mut Vec<Value>, name: &str, v: Value| {
            if let Some(o) = pdef.ordinal(name) {
                row[o] = v;
            }
        };
        set(&mut row, "activityid", Value::Guid(activity));
        for (key, v) in party {
            if let Some(nav) = key.strip_suffix("@odata.bind") {
                let target = nav
                    .strip_prefix("partyid_")
                    .ok_or_else(|| ApiError::payload_unknown_property(nav, "activityparty"))?;
                let text = v.as_str().unwrap_or_default();
                let (set_name, key_text) = parse_bind_target(text).ok_or_else(|| {
                    ApiError::bad_request(
                        "0x80048d19",
                        format!("The URI '{text}' is not valid for '{key}'."),
                    )
                })?;
                let ti = org
                    .table_by_set(&set_name)
                    .ok_or_else(|| ApiError::resource_not_found(&set_name))?;
                let id = existing_row_id(org, ti, &key_text)?;
                set(&mut row, "partyid", Value::Guid(id));
                set(&mut row, "partyidtype", s(target));
            } else if key == "participationtypemask" {
                let mask = v.as_i64().ok_or_else(|| {
                    ApiError::payload("activityparty", "participationtypemask must be a number.")
                })?;
                set(&mut row, "participationtypemask", Value::Int(mask));
            } else if key == "addressused" {
                set(&mut row, "addressused", v.as_str().map_or(Value::Null, s));
            } else if !key.contains('@') {
                return Err(ApiError::payload_unknown_property(key, "activityparty"));
            }
        }
        let id = Uuid::new_v4();
        org.stamp_new_row(pt, &mut row, id, None, Some(ctx.user), None, ctx.now);
        let _ = org.store.insert(pt, id, row);
    }
    let _ = activity_table;
    Ok(())
}

/// How a PATCH treats a missing row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchMode {
    /// No `If-Match` / `If-None-Match`: create when missing.
    Upsert,
    /// `If-Match: *` or an ETag: update only.
    UpdateOnly,
    /// `If-None-Match: *`: create only.
    CreateOnly,
}

/// What a PATCH did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patched {
    Created(Uuid),
    Updated(Uuid),
}

pub fn patch(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    key: Key,
    body: &Map<String, Json>,
    mode: PatchMode,
    if_match: Option<&str>,
) -> Result<Patched, ApiError> {
    let (existing, id_for_create, preset) = match key {
        Key::Id(id) => (
            org.table(t).rows.contains_key(&id).then_some(id),
            Some(id),
            Vec::new(),
        ),
        Key::Alternate {
            existing, values, ..
        } => (existing, None, values),
    };
    match (existing, mode) {
        (Some(_), PatchMode::CreateOnly) => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "0x80060892",
            "A record with matching key values already exists.",
        )),
        (None, PatchMode::UpdateOnly) => Err(match id_for_create {
            Some(id) => ApiError::not_found(&org.def(t).logical_name, id),
            None => ApiError::new(
                StatusCode::NOT_FOUND,
                "0x80040217",
                format!(
                    "A record with the specified key values does not exist in {} entity",
                    org.def(t).logical_name
                ),
            ),
        }),
        (None, _) => create(org, ctx, t, body, id_for_create, &preset).map(Patched::Created),
        (Some(id), _) => update(org, ctx, t, id, body, if_match).map(|_| Patched::Updated(id)),
    }
}

pub fn update(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    id: Uuid,
    body: &Map<String, Json>,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    require(org, ctx, "Write", t)?;
    let stored = org
        .table(t)
        .rows
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&org.def(t).logical_name, id))?;
    check_record_access(org, ctx, t, &stored.values, "Write", id)?;
    if let Some(tag) = if_match
        && tag != "*"
        && tag != super::rows::etag(stored.version)
    {
        return Err(ApiError::concurrency());
    }
    let changes = collect_changes(org, ctx, t, body, false)?;
    if changes.explicit_id.is_some_and(|given| given != id) {
        return Err(ApiError::bad_request(
            "0x80060888",
            "The primary key cannot be changed.",
        ));
    }
    let def = org.def(t);
    let mut row = stored.values.to_vec();
    row.resize(def.attributes.len(), Value::Null);
    let mut state_given = false;
    let mut status_given = false;
    for (o, v) in &changes.values {
        match def.attributes[*o].attr_type {
            AttrType::State => state_given = true,
            AttrType::Status => status_given = true,
            _ => {}
        }
        row[*o] = v.clone();
    }
    settle_state(org, t, &mut row, state_given, status_given)?;
    if let Some(owner) = changes.owner {
        require(org, ctx, "Assign", t)?;
        let bu = org
            .user_business_unit(owner)
            .unwrap_or(org.root_business_unit);
        for (name, v) in [
            ("owninguser", Value::Guid(owner)),
            ("owningbusinessunit", Value::Guid(bu)),
            ("owneridtype", s("systemuser")),
        ] {
            if let Some(o) = def.ordinal(name) {
                row[o] = v;
            }
        }
    }
    for (name, v) in [
        ("modifiedon", Value::DateTime(ctx.now)),
        ("modifiedby", Value::Guid(ctx.user)),
        (
            "modifiedonbehalfby",
            if ctx.impersonating {
                Value::Guid(ctx.caller)
            } else {
                Value::Null
            },
        ),
    ] {
        if let Some(o) = def.ordinal(name) {
            row[o] = v;
        }
    }
    org.compute_columns(t, &mut row);
    org.store
        .replace(t, id, row)
        .map_err(|d| duplicate_key(org, t, &d.key_name))?;
    if !changes.parties.is_empty() {
        add_parties(org, ctx, t, id, &changes.parties)?;
    }
    Ok(())
}

pub fn delete(
    org: &mut Org,
    ctx: &Ctx,
    t: usize,
    id: Uuid,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    require(org, ctx, "Delete", t)?;
    let stored = org
        .table(t)
        .rows
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&org.def(t).logical_name, id))?;
    check_record_access(org, ctx, t, &stored.values, "Delete", id)?;
    if let Some(tag) = if_match
        && tag != "*"
        && tag != super::rows::etag(stored.version)
    {
        return Err(ApiError::concurrency());
    }
    org.store.delete(t, id);
    // Cascade what Dataverse deletes with a record: its activity parties and notes.
    for (child, lookup) in [("activityparty", "activityid"), ("annotation", "objectid")] {
        let Some(ct) = org.table_index(child) else {
            continue;
        };
        let Some(o) = org.def(ct).ordinal(lookup) else {
            continue;
        };
        let ids: Vec<Uuid> = org
            .table(ct)
            .rows
            .iter()
            .filter(|(_, r)| crate::value::cell(&r.values, o) == &Value::Guid(id))
            .map(|(k, _)| *k)
            .collect();
        for child_id in ids {
            org.store.delete(ct, child_id);
        }
    }
    Ok(())
}
