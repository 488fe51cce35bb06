//! Table metadata over the Web API: `EntityDefinitions` reads (filter/select/expand), creating
//! custom tables (activity tables included), columns and alternate keys, switching change tracking
//! on, and the CSDL `$metadata` document.

use http::{Method, StatusCode};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use super::{ApiRequest, Ctx, Reply, name_and_args, query_param};
use crate::error::ApiError;
use crate::metadata::{
    AlternateKey, AttrType, Attribute, Ownership, REGARDING_TARGETS, RequiredLevel, Table,
    TableBuilder, TableSpec, activity_columns, stable_id,
};
use crate::odata::{self, Schema};
use crate::org::Org;
use crate::value::{Value, ValueKind};

fn label(text: &str) -> Json {
    let localized = json!({"Label": text, "LanguageCode": 1033, "IsManaged": false, "MetadataId": stable_id(&["label", text])});
    json!({"LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized})
}

fn bool_managed(v: bool) -> Json {
    json!({"Value": v, "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyadditionalsettings"})
}

fn attribute_json(table: &Table, a: &Attribute) -> Json {
    let mut o = json!({
        "@odata.type": a.attr_type.metadata_odata_type(),
        "MetadataId": a.metadata_id,
        "LogicalName": a.logical_name,
        "SchemaName": a.schema_name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": a.attr_type.metadata_name(),
        "AttributeTypeName": {"Value": format!("{}Type", a.attr_type.metadata_name())},
        "DisplayName": label(&a.display_name),
        "Description": label(""),
        "IsPrimaryId": a.logical_name == table.primary_id,
        "IsPrimaryName": a.logical_name == table.primary_name,
        "IsCustomAttribute": a.is_custom,
        "IsValidForCreate": a.valid_for_create,
        "IsValidForUpdate": a.valid_for_update,
        "IsValidForRead": !a.hidden,
        "IsLogical": false,
        "RequiredLevel": {"Value": a.required.as_str(), "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
    });
    if let Some(max) = a.max_length {
        o["MaxLength"] = json!(max);
    }
    if a.attr_type.is_lookup() {
        o["Targets"] = json!(a.targets);
    }
    if a.attr_type == AttrType::EntityName {
        o["AttributeOf"] = json!(a.logical_name.trim_end_matches("type"));
    }
    o
}

/// Every property of a table's `EntityMetadata`, in the order Dataverse lists them.
fn table_json(org: &Org, table: &Table) -> Map<String, Json> {
    let _ = org;
    let mut o = Map::new();
    let mut put = |k: &str, v: Json| {
        o.insert(k.into(), v);
    };
    put("MetadataId", json!(table.metadata_id));
    put("LogicalName", json!(table.logical_name));
    put("SchemaName", json!(table.schema_name));
    put("EntitySetName", json!(table.entity_set_name));
    put(
        "LogicalCollectionName",
        json!(table.logical_collection_name),
    );
    put(
        "CollectionSchemaName",
        json!(format!("{}s", table.schema_name)),
    );
    put("PrimaryIdAttribute", json!(table.primary_id));
    put("PrimaryNameAttribute", json!(table.primary_name));
    put("ObjectTypeCode", json!(table.object_type_code));
    put("IsActivity", json!(table.is_activity));
    put("IsCustomEntity", json!(table.is_custom));
    put("IsManaged", json!(table.is_managed));
    put("OwnershipType", json!(table.ownership.as_str()));
    put("ChangeTrackingEnabled", json!(table.change_tracking));
    put(
        "CanChangeTrackingBeEnabled",
        bool_managed(table.can_change_tracking_be_enabled),
    );
    put("TableType", json!("Standard"));
    put("HasNotes", json!(true));
    put("HasActivities", json!(!table.is_activity));
    put(
        "ActivityTypeMask",
        json!(if table.is_activity { 1 } else { 0 }),
    );
    put("DisplayName", label(&table.display_name));
    put(
        "DisplayCollectionName",
        label(&table.display_collection_name),
    );
    put("Description", label(&table.description));
    put("IsValidForAdvancedFind", json!(true));
    put("IsIntersect", json!(false));
    put("IsPrivate", json!(false));
    o
}

fn keys_json(table: &Table) -> Json {
    Json::Array(
        table
            .keys
            .iter()
            .map(|k| {
                json!({
                    "MetadataId": k.metadata_id,
                    "LogicalName": k.logical_name,
                    "SchemaName": k.schema_name,
                    "DisplayName": label(&k.display_name),
                    "KeyAttributes": k.key_attributes,
                    "EntityLogicalName": table.logical_name,
                    "EntityKeyIndexStatus": "Active",
                    "IsManaged": false,
                })
            })
            .collect(),
    )
}

/// The metadata properties `$filter` may use on `EntityDefinitions`.
const FILTERABLE: &[(&str, ValueKind)] = &[
    ("LogicalName", ValueKind::String),
    ("SchemaName", ValueKind::String),
    ("EntitySetName", ValueKind::String),
    ("LogicalCollectionName", ValueKind::String),
    ("PrimaryIdAttribute", ValueKind::String),
    ("ChangeTrackingEnabled", ValueKind::Bool),
    ("IsActivity", ValueKind::Bool),
    ("IsCustomEntity", ValueKind::Bool),
    ("IsManaged", ValueKind::Bool),
    ("ObjectTypeCode", ValueKind::Int),
    ("MetadataId", ValueKind::Guid),
    ("IsPrivate", ValueKind::Bool),
    ("IsIntersect", ValueKind::Bool),
];

struct MetaSchema;

impl Schema for MetaSchema {
    fn logical_name(&self) -> &str {
        "EntityMetadata"
    }

    fn column(&self, name: &str) -> Option<(usize, ValueKind)> {
        FILTERABLE
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| (i, FILTERABLE[i].1))
    }
}

fn meta_row(t: &Table) -> Vec<Value> {
    vec![
        Value::String(t.logical_name.as_str().into()),
        Value::String(t.schema_name.as_str().into()),
        Value::String(t.entity_set_name.as_str().into()),
        Value::String(t.logical_collection_name.as_str().into()),
        Value::String(t.primary_id.as_str().into()),
        Value::Bool(t.change_tracking),
        Value::Bool(t.is_activity),
        Value::Bool(t.is_custom),
        Value::Bool(t.is_managed),
        Value::Int(t.object_type_code),
        Value::Guid(t.metadata_id),
        Value::Bool(false),
        Value::Bool(false),
    ]
}

fn find_table(org: &Org, args: &str) -> Result<usize, ApiError> {
    let args = args.trim();
    let found = if let Ok(id) = Uuid::parse_str(args) {
        (0..org.table_count()).find(|&i| {
            org.def(i).metadata_id == id && org.table_by_set(&org.def(i).entity_set_name) == Some(i)
        })
    } else {
        let value = args
            .strip_prefix("LogicalName=")
            .map(|v| v.trim_matches('\''))
            .ok_or_else(|| {
                ApiError::odata(format!(
                    "The key '{args}' is not valid for EntityDefinitions."
                ))
            })?;
        org.table_index(value)
    };
    found.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "0x80040217",
            format!("Could not find entity with the specified key: {args}"),
        )
    })
}

fn select_members(
    mut obj: Map<String, Json>,
    select: &Option<Vec<String>>,
    always: &[&str],
) -> Map<String, Json> {
    if let Some(cols) = select {
        obj.retain(|k, _| cols.iter().any(|c| c == k) || always.contains(&k.as_str()));
    }
    obj
}

/// `GET EntityDefinitions…`
pub fn get(
    org: &Org,
    ctx: &Ctx,
    args: Option<&str>,
    rest: &[&str],
    query: &str,
) -> Result<Reply, ApiError> {
    let select = query_param(query, "$select").map(|s| {
        s.split(',')
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()
    });
    let expand = query_param(query, "$expand").unwrap_or_default();
    let expands: Vec<&str> = expand
        .split(',')
        .map(|e| e.split('(').next().unwrap_or("").trim())
        .filter(|e| !e.is_empty())
        .collect();
    let render = |t: &Table| -> Json {
        let mut obj = select_members(table_json(org, t), &select, &["MetadataId"]);
        for e in &expands {
            match *e {
                "Attributes" => {
                    obj.insert(
                        "Attributes".into(),
                        Json::Array(
                            t.attributes
                                .iter()
                                .filter(|a| !a.hidden)
                                .map(|a| attribute_json(t, a))
                                .collect(),
                        ),
                    );
                }
                "Keys" => {
                    obj.insert("Keys".into(), keys_json(t));
                }
                _ => {}
            }
        }
        Json::Object(obj)
    };
    let context = format!("{}/$metadata#EntityDefinitions", ctx.base);
    match args {
        None => {
            let ectx = super::eval_context(org, ctx);
            let filter = match query_param(query, "$filter") {
                Some(text) => Some(
                    odata::filter::parse_with_aliases(&text, &super::query_aliases(query))?
                        .bind(&MetaSchema, &ectx)?,
                ),
                None => None,
            };
            let value: Vec<Json> = org
                .live_tables()
                .filter(|t| {
                    filter
                        .as_ref()
                        .is_none_or(|f| f.matches(&meta_row(t), &ectx))
                })
                .map(render)
                .collect();
            let context = match &select {
                Some(cols) => format!("{context}({})", cols.join(",")),
                None => context,
            };
            Ok(Reply::json(
                StatusCode::OK,
                json!({"@odata.context": context, "value": value}).to_string(),
            ))
        }
        Some(key) => {
            let t = org.def(find_table(org, key)?);
            match rest.first().map(|s| name_and_args(s)) {
                None => {
                    let mut obj = match render(t) {
                        Json::Object(o) => o,
                        _ => Map::new(),
                    };
                    obj.insert("@odata.context".into(), json!(format!("{context}/$entity")));
                    Ok(Reply::json(StatusCode::OK, Json::Object(obj).to_string()))
                }
                Some(("Attributes", None)) => {
                    if let Some(cast) = rest.get(1) {
                        return Ok(typed_attributes(ctx, t, cast));
                    }
                    let wanted = query_param(query, "$filter").and_then(|f| {
                        f.split_once("LogicalName eq ").map(|(_, v)| v.trim().trim_matches('\'').to_string())
                    });
                    let value: Vec<Json> = t
                        .attributes
                        .iter()
                        .filter(|a| !a.hidden && wanted.as_ref().is_none_or(|w| *w == a.logical_name))
                        .map(|a| attribute_json(t, a))
                        .collect();
                    Ok(Reply::json(StatusCode::OK, json!({"@odata.context": format!("{context}('{}')/Attributes", t.logical_name), "value": value}).to_string()))
                }
                Some(("Attributes", Some(a))) => {
                    let name = a.trim().strip_prefix("LogicalName=").unwrap_or(a).trim_matches('\'');
                    let attr = t
                        .attribute(name)
                        .or_else(|| Uuid::parse_str(name).ok().and_then(|id| t.attributes.iter().find(|x| x.metadata_id == id)))
                        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "0x80040217", format!("Could not find attribute with the specified key: {a}")))?;
                    Ok(Reply::json(StatusCode::OK, attribute_json(t, attr).to_string()))
                }
                Some(("Keys", None)) => Ok(Reply::json(StatusCode::OK, json!({"@odata.context": format!("{context}('{}')/Keys", t.logical_name), "value": keys_json(t)}).to_string())),
                Some((other, _)) => Err(ApiError::resource_not_found(other)),
            }
        }
    }
}

/// `…/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata` and other casts: the columns of
/// that type, with their option sets.
fn typed_attributes(ctx: &Ctx, t: &Table, cast: &str) -> Reply {
    let kind = cast.trim_start_matches("Microsoft.Dynamics.CRM.");
    let value: Vec<Json> = t
        .attributes
        .iter()
        .filter(|a| !a.hidden && a.attr_type.metadata_odata_type().ends_with(kind))
        .map(|a| {
            let options: Vec<Json> = a
                .options
                .iter()
                .map(|o| json!({"Value": o.value, "Label": label(&o.label)}))
                .collect();
            let mut j = attribute_json(t, a);
            j["OptionSet"] = json!({"Options": options, "IsGlobal": false});
            j
        })
        .collect();
    Reply::json(
        StatusCode::OK,
        json!({"@odata.context": format!("{}/$metadata#EntityDefinitions('{}')/Attributes/{cast}", ctx.base, t.logical_name), "value": value}).to_string(),
    )
}

fn label_text(v: Option<&Json>) -> Option<String> {
    v?.get("LocalizedLabels")?
        .as_array()?
        .first()?
        .get("Label")?
        .as_str()
        .map(str::to_string)
}

fn attr_type_of(v: &Map<String, Json>) -> Option<AttrType> {
    let odata_type = v
        .get("@odata.type")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let name = odata_type
        .trim_start_matches('#')
        .trim_start_matches("Microsoft.Dynamics.CRM.")
        .trim_start_matches("Complex");
    Some(match name {
        "StringAttributeMetadata" => AttrType::String,
        "MemoAttributeMetadata" => AttrType::Memo,
        "IntegerAttributeMetadata" => AttrType::Integer,
        "BigIntAttributeMetadata" => AttrType::BigInt,
        "DecimalAttributeMetadata" => AttrType::Decimal,
        "MoneyAttributeMetadata" => AttrType::Money,
        "DoubleAttributeMetadata" => AttrType::Double,
        "BooleanAttributeMetadata" => AttrType::Boolean,
        "DateTimeAttributeMetadata"
            if v.get("Format").and_then(Json::as_str) == Some("DateOnly") =>
        {
            AttrType::DateOnly
        }
        "DateTimeAttributeMetadata" => AttrType::DateTime,
        "PicklistAttributeMetadata" => AttrType::Picklist,
        "UniqueIdentifierAttributeMetadata" => AttrType::Uniqueidentifier,
        _ => match v.get("AttributeType").and_then(Json::as_str)? {
            "String" => AttrType::String,
            "Memo" => AttrType::Memo,
            "Integer" => AttrType::Integer,
            "Decimal" => AttrType::Decimal,
            "Money" => AttrType::Money,
            "Double" => AttrType::Double,
            "Boolean" => AttrType::Boolean,
            "DateTime" => AttrType::DateTime,
            "Picklist" => AttrType::Picklist,
            _ => return None,
        },
    })
}

fn new_attribute(table: &str, v: &Map<String, Json>) -> Result<Attribute, ApiError> {
    let schema = v
        .get("SchemaName")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::payload(table, "SchemaName is required for a new attribute."))?;
    let attr_type = attr_type_of(v).ok_or_else(|| {
        ApiError::payload(
            table,
            format!("The attribute type of '{schema}' is not supported."),
        )
    })?;
    let logical = schema.to_lowercase();
    let max = v
        .get("MaxLength")
        .and_then(Json::as_u64)
        .map(|m| m as u32)
        .or(match attr_type {
            AttrType::String => Some(100),
            AttrType::Memo => Some(2000),
            _ => None,
        });
    let required = match v
        .get("RequiredLevel")
        .and_then(|r| r.get("Value"))
        .and_then(Json::as_str)
    {
        Some("ApplicationRequired") => RequiredLevel::ApplicationRequired,
        Some("SystemRequired") => RequiredLevel::SystemRequired,
        _ => RequiredLevel::None,
    };
    let options = v
        .get("OptionSet")
        .and_then(|o| o.get("Options"))
        .and_then(Json::as_array)
        .map(|opts| {
            opts.iter()
                .filter_map(|o| {
                    Some(crate::metadata::OptionValue {
                        value: o.get("Value")?.as_i64()?,
                        label: label_text(o.get("Label")).unwrap_or_default(),
                        state: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Attribute {
        metadata_id: stable_id(&["attribute", table, &logical]),
        display_name: label_text(v.get("DisplayName")).unwrap_or_else(|| schema.to_string()),
        logical_name: logical,
        schema_name: schema.into(),
        attr_type,
        max_length: max,
        required,
        targets: Vec::new(),
        options,
        valid_for_create: true,
        valid_for_update: true,
        hidden: false,
        is_custom: true,
        ordinal: 0,
    })
}

fn check_prefix(org: &Org, schema_name: &str) -> Result<(), ApiError> {
    let prefix = schema_name.split_once('_').map(|(p, _)| p.to_lowercase());
    let known: Vec<String> = org
        .table_index("publisher")
        .map(|t| {
            org.table(t)
                .rows
                .values()
                .filter_map(|r| {
                    org.def(t)
                        .ordinal("customizationprefix")
                        .map(|o| crate::value::cell(&r.values, o).clone())
                })
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.to_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    match prefix {
        Some(p) if p == "new" || known.contains(&p) => Ok(()),
        _ => Err(ApiError::bad_request(
            "0x80044363",
            format!(
                "Invalid schema name '{schema_name}': a custom name must start with the customization prefix of a publisher followed by an underscore (for example 'new_')."
            ),
        )),
    }
}

/// `POST CreateEntities`: the action the SDK creates tables with (`?SolutionUniqueName=`).
pub fn create_entities(org: &mut Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Result<Reply, ApiError> {
    if org.security.depth(ctx.user, "prvCreateEntity").is_none() {
        return Err(super::privilege_denied(org, ctx, "prvCreateEntity", None));
    }
    let solution = query_param(req.query, "SolutionUniqueName");
    let b = super::rows::parse_object("EntityMetadata", req.body)?;
    let entities = b.get("Entities").and_then(Json::as_array).ok_or_else(|| {
        ApiError::payload("EntityMetadata", "The parameter 'Entities' is required.")
    })?;
    let mut ids = Vec::new();
    for e in entities {
        let e = e
            .as_object()
            .ok_or_else(|| ApiError::payload("EntityMetadata", "Each entity must be an object."))?;
        ids.push(create_table(org, ctx, e, solution.clone())?);
    }
    Ok(Reply::json(
        StatusCode::OK,
        json!({"@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.CreateEntitiesResponse", ctx.base), "EntityIds": ids}).to_string(),
    ))
}

/// Writes on `EntityDefinitions`: create table, add column or key, change tracking, delete table.
pub fn write(
    org: &mut Org,
    ctx: &Ctx,
    req: &ApiRequest<'_>,
    args: Option<&str>,
    rest: &[&str],
) -> Result<Reply, ApiError> {
    let solution = req.header("mscrm.solutionuniquename").map(str::to_string);
    if let Some(name) = &solution {
        let exists = org.table_index("solution").is_some_and(|t| {
            let o = org.def(t).ordinal("uniquename");
            org.table(t).rows.values().any(|r| {
                o.is_some_and(|o| {
                    crate::value::cell(&r.values, o) == &Value::String(name.as_str().into())
                })
            })
        });
        if !exists {
            return Err(ApiError::bad_request(
                "0x8004f01b",
                format!("The solution '{name}' was not found."),
            ));
        }
    }
    let privilege = match req.method {
        Method::DELETE => "prvDeleteEntity",
        Method::POST if args.is_none() => "prvCreateEntity",
        _ => "prvWriteEntity",
    };
    if org.security.depth(ctx.user, privilege).is_none() {
        return Err(super::privilege_denied(org, ctx, privilege, None));
    }
    let body = || super::rows::parse_object("EntityMetadata", req.body);
    match (&req.method, args, rest.first().copied()) {
        (&Method::POST, None, None) => {
            let b = body()?;
            let id = create_table(org, ctx, &b, solution)?;
            Ok(Reply::no_content().header(
                "OData-EntityId",
                format!("{}/EntityDefinitions({id})", ctx.base),
            ))
        }
        (&Method::POST, Some(key), Some("Attributes")) => {
            let t = find_table(org, key)?;
            let b = body()?;
            let schema = b
                .get("SchemaName")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            check_prefix(org, &schema)?;
            let attr = new_attribute(&org.def(t).logical_name.clone(), &b)?;
            if org.def(t).attribute(&attr.logical_name).is_some() {
                return Err(ApiError::bad_request(
                    "0x80044363",
                    format!(
                        "An attribute with the specified name already exists: {}",
                        attr.logical_name
                    ),
                ));
            }
            let id = attr.metadata_id;
            org.store.tables[t].def.push_attribute(attr);
            Ok(Reply::no_content().header(
                "OData-EntityId",
                format!(
                    "{}/EntityDefinitions({})/Attributes({id})",
                    ctx.base,
                    org.def(t).metadata_id
                ),
            ))
        }
        (&Method::POST, Some(key), Some("Keys")) => {
            let t = find_table(org, key)?;
            let b = body()?;
            let schema = b
                .get("SchemaName")
                .and_then(Json::as_str)
                .ok_or_else(|| ApiError::payload("EntityKeyMetadata", "SchemaName is required."))?
                .to_string();
            let attrs: Vec<String> = b
                .get("KeyAttributes")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_lowercase))
                        .collect()
                })
                .unwrap_or_default();
            if attrs.is_empty() {
                return Err(ApiError::payload(
                    "EntityKeyMetadata",
                    "KeyAttributes must name at least one column.",
                ));
            }
            for a in &attrs {
                if org.def(t).attribute(a).is_none() {
                    return Err(ApiError::unknown_property(a, &org.def(t).logical_name));
                }
            }
            let key = AlternateKey {
                metadata_id: stable_id(&["key", &org.def(t).logical_name, &schema]),
                logical_name: schema.to_lowercase(),
                display_name: label_text(b.get("DisplayName")).unwrap_or_else(|| schema.clone()),
                schema_name: schema,
                key_attributes: attrs,
            };
            let id = key.metadata_id;
            let state = &mut org.store.tables[t];
            state.def.keys.push(key);
            state.key_index.push(Default::default());
            let k = state.def.keys.len() - 1;
            if state.rebuild_key(k).is_err() {
                state.def.keys.pop();
                state.key_index.pop();
                return Err(ApiError::bad_request(
                    "0x80060892",
                    "The key cannot be created: existing rows have duplicate values for its columns.",
                ));
            }
            Ok(Reply::no_content().header(
                "OData-EntityId",
                format!(
                    "{}/EntityDefinitions(LogicalName='{}')/Keys({id})",
                    ctx.base,
                    org.def(t).logical_name
                ),
            ))
        }
        (&Method::DELETE, Some(key), Some(attribute)) if attribute.starts_with("Attributes(") => {
            let t = find_table(org, key)?;
            let inner = attribute
                .trim_start_matches("Attributes(")
                .trim_end_matches(')');
            let def = org.def(t);
            let attr = def
                .attributes
                .iter()
                .find(|a| {
                    !a.hidden
                        && (a.metadata_id.to_string() == inner
                            || format!("LogicalName='{}'", a.logical_name) == inner)
                })
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "0x80040217",
                        format!("Could not find attribute with the specified key: {inner}"),
                    )
                })?;
            if !attr.is_custom {
                return Err(ApiError::bad_request(
                    "0x80044363",
                    "Only custom columns can be deleted.",
                ));
            }
            // Rows keep their cells; the column is hidden from every read and write.
            let o = attr.ordinal;
            org.store.tables[t].def.attributes[o].hidden = true;
            Ok(Reply::no_content())
        }
        (&Method::PUT, Some(key), None) => {
            let t = find_table(org, key)?;
            let b = body()?;
            if let Some(on) = b.get("ChangeTrackingEnabled").and_then(Json::as_bool) {
                let def = &mut org.store.tables[t].def;
                if !on && def.change_tracking {
                    return Err(ApiError::bad_request(
                        "0x80044363",
                        "Change tracking cannot be turned off once it is enabled.",
                    ));
                }
                if on && !def.can_change_tracking_be_enabled {
                    return Err(ApiError::bad_request(
                        "0x80044363",
                        format!(
                            "Change tracking cannot be enabled for the entity '{}'.",
                            def.logical_name
                        ),
                    ));
                }
                def.change_tracking = on;
            }
            if let Some(d) = label_text(b.get("DisplayName")) {
                org.store.tables[t].def.display_name = d;
            }
            Ok(Reply::no_content())
        }
        (&Method::DELETE, Some(key), None) => {
            let t = find_table(org, key)?;
            if !org.def(t).is_custom {
                return Err(ApiError::bad_request(
                    "0x80044363",
                    "Only custom tables can be deleted.",
                ));
            }
            org.store.tables[t].rows.clear();
            org.store.tables[t].by_version.clear();
            org.store.tables[t].def.entity_set_name = format!("deleted:{}", Uuid::new_v4());
            org.forget_table(t);
            Ok(Reply::no_content())
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "0x80060888",
            "The requested resource does not support http method.",
        )),
    }
}

/// Creates a custom table (activity tables included) from an `EntityMetadata` payload; the table
/// is usable as soon as this returns, as the SDK expects.
fn create_table(
    org: &mut Org,
    ctx: &Ctx,
    b: &Map<String, Json>,
    solution: Option<String>,
) -> Result<Uuid, ApiError> {
    let schema = b
        .get("SchemaName")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::payload("EntityMetadata", "SchemaName is required."))?
        .to_string();
    check_prefix(org, &schema)?;
    let logical = schema.to_lowercase();
    if org.table_index(&logical).is_some() {
        return Err(ApiError::bad_request(
            "0x80044363",
            format!("An entity with the specified name already exists. Entity Name: {logical}"),
        ));
    }
    let is_activity = b.get("IsActivity").and_then(Json::as_bool).unwrap_or(false);
    let attrs: Vec<Map<String, Json>> = b
        .get("Attributes")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_object().cloned()).collect())
        .unwrap_or_default();
    let primary = attrs.iter().find(|a| {
        a.get("IsPrimaryName")
            .and_then(Json::as_bool)
            .unwrap_or(false)
    });
    let (primary_name, primary_len) = if is_activity {
        (
            "subject".to_string(),
            primary
                .and_then(|p| p.get("MaxLength"))
                .and_then(Json::as_u64)
                .unwrap_or(200) as u32,
        )
    } else {
        let p = primary.ok_or_else(|| {
            ApiError::payload(
                "EntityMetadata",
                "A new table needs a primary name attribute (IsPrimaryName = true).",
            )
        })?;
        (
            p.get("SchemaName")
                .and_then(Json::as_str)
                .unwrap_or("new_name")
                .to_lowercase(),
            p.get("MaxLength").and_then(Json::as_u64).unwrap_or(100) as u32,
        )
    };
    let display = label_text(b.get("DisplayName")).unwrap_or_else(|| schema.clone());
    let display_plural =
        label_text(b.get("DisplayCollectionName")).unwrap_or_else(|| format!("{display}s"));
    let ownership = match b.get("OwnershipType").and_then(Json::as_str) {
        Some("OrganizationOwned") => Ownership::OrganizationOwned,
        _ => Ownership::UserOwned,
    };
    let set = format!("{logical}s");
    let otc = org.next_object_type_code;
    org.next_object_type_code += 1;
    let mut builder = TableBuilder::new(TableSpec {
        logical_name: &logical,
        schema_name: &schema,
        entity_set_name: &set,
        display_name: &display,
        display_collection_name: &display_plural,
        object_type_code: otc,
        ownership,
        primary_name: &primary_name,
        primary_name_length: primary_len,
    });
    if is_activity {
        builder = activity_columns(builder, REGARDING_TARGETS).activity();
    } else {
        builder = builder.state_status(
            &[(0, "Active"), (1, "Inactive")],
            &[(1, "Active", 0), (2, "Inactive", 1)],
        );
    }
    let mut table = builder.build();
    table.is_custom = true;
    table.solution = solution;
    table.description = label_text(b.get("Description")).unwrap_or_default();
    table.change_tracking = b
        .get("ChangeTrackingEnabled")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    for a in &attrs {
        if a.get("IsPrimaryName")
            .and_then(Json::as_bool)
            .unwrap_or(false)
        {
            continue;
        }
        let attr = new_attribute(&logical, a)?;
        if table.attribute(&attr.logical_name).is_none() {
            table.push_attribute(attr);
        }
    }
    let id = table.metadata_id;
    org.register_table(table);
    if is_activity && let Some(at) = org.table_index("annotation") {
        let def = &mut org.store.tables[at].def;
        if let Some(o) = def.ordinal("objectid") {
            def.attributes[o].targets.push(logical.clone());
        }
    }
    org.refresh_bulk_filters(ctx.now);
    Ok(id)
}

/// `GET $metadata`: the CSDL document of every table.
pub fn csdl(org: &Org, ctx: &Ctx) -> Reply {
    let _ = ctx;
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\"><edmx:DataServices><Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">",
    );
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
    };
    for t in org.live_tables() {
        x.push_str(&format!(
            "<EntityType Name=\"{}\"><Key><PropertyRef Name=\"{}\" /></Key>",
            esc(&t.logical_name),
            esc(&t.primary_id)
        ));
        for a in t.attributes.iter().filter(|a| !a.hidden) {
            x.push_str(&format!(
                "<Property Name=\"{}\" Type=\"{}\" />",
                esc(&a.property_name()),
                a.attr_type.edm_type()
            ));
        }
        for (nav, _, target) in t.navigation_properties() {
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"mscrm.{}\" />",
                esc(&nav),
                esc(&target)
            ));
        }
        for r in &t.one_to_many {
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"Collection(mscrm.{})\" />",
                esc(&r.schema_name),
                esc(&r.referencing_table)
            ));
        }
        x.push_str("</EntityType>");
    }
    x.push_str("<EntityContainer Name=\"System\">");
    for t in org.live_tables() {
        x.push_str(&format!(
            "<EntitySet Name=\"{}\" EntityType=\"Microsoft.Dynamics.CRM.{}\">",
            esc(&t.entity_set_name),
            esc(&t.logical_name)
        ));
        if t.change_tracking {
            x.push_str("<Annotation Term=\"Org.OData.Capabilities.V1.ChangeTracking\"><Record><PropertyValue Property=\"Supported\" Bool=\"true\" /></Record></Annotation>");
        }
        x.push_str("</EntitySet>");
    }
    x.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    Reply {
        status: StatusCode::OK,
        headers: vec![
            ("Content-Type".into(), "application/xml".into()),
            ("OData-Version".into(), "4.0".into()),
        ],
        body: x.into_bytes(),
    }
}
