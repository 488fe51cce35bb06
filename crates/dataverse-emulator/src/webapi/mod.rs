//! The Web API v9.2 surface: routing of `/api/data/v9.2/…` paths (entity sets, keys, functions,
//! metadata), the request context (caller, impersonation, `Prefer`), privilege checks, and replies
//! shaped as Dataverse sends them. Transport-independent, so `$batch` dispatches through it too.

pub mod aggregate;
pub mod entitydefs;
pub mod read;
pub mod refs;
pub mod rows;
pub mod write;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use uuid::Uuid;

use crate::error::ApiError;
use crate::org::{ORGANIZATION_TYPES, Org};
use crate::security::{Depth, privilege_id};
use crate::value::{Value, cell};
use rows::Annotations;

/// Who is calling and on whose behalf, and what they prefer.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://host:port/api/data/v9.2`
    pub base: String,
    /// The systemuser the request acts as (the impersonated user when `CallerObjectId` is sent).
    pub user: Uuid,
    /// The systemuser the token belongs to.
    pub caller: Uuid,
    pub impersonating: bool,
    pub prefer: Prefer,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct Prefer {
    pub return_representation: bool,
    pub annotations: Annotations,
    pub max_page_size: Option<u32>,
    pub track_changes: bool,
    pub continue_on_error: bool,
}

impl Prefer {
    pub fn parse(headers: &HeaderMap) -> Prefer {
        let mut p = Prefer::default();
        for value in headers.get_all("prefer") {
            let Ok(text) = value.to_str() else { continue };
            for item in split_prefer(text) {
                let item = item.trim();
                let (name, arg) = match item.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim())),
                    None => (item, None),
                };
                match name.to_ascii_lowercase().as_str() {
                    "return" if arg == Some("representation") => p.return_representation = true,
                    "odata.include-annotations" => {
                        p.annotations = Annotations::parse(arg.unwrap_or_default())
                    }
                    "odata.maxpagesize" => p.max_page_size = arg.and_then(|a| a.parse().ok()),
                    "odata.track-changes" => p.track_changes = true,
                    "odata.continue-on-error" => p.continue_on_error = true,
                    _ => {}
                }
            }
        }
        p
    }
}

/// Splits a Prefer header on commas outside quotes.
fn split_prefer(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// A response ready to send (or to frame inside a batch).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub const JSON: &str = "application/json; odata.metadata=minimal";

impl Reply {
    pub fn json(status: StatusCode, body: String) -> Reply {
        Reply {
            status,
            headers: vec![
                ("Content-Type".into(), JSON.into()),
                ("OData-Version".into(), "4.0".into()),
            ],
            body: body.into_bytes(),
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            headers: vec![("OData-Version".into(), "4.0".into())],
            body: Vec::new(),
        }
    }

    pub fn error(e: &ApiError) -> Reply {
        let mut r = Reply::json(e.status, e.body().to_string());
        if let Some(secs) = e.retry_after {
            r.headers.push(("Retry-After".into(), secs.to_string()));
        }
        r
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A key segment resolved against a table: a primary key, or alternate-key values.
#[derive(Debug, Clone)]
pub enum Key {
    Id(Uuid),
    Alternate {
        existing: Option<Uuid>,
        /// The key's column values, set on the row when an upsert creates it.
        values: Vec<(usize, Value)>,
    },
}

/// The id a key segment names: the primary key as given, or the row an alternate key finds.
pub fn key_to_id(org: &Org, t: usize, text: &str) -> Result<Uuid, ApiError> {
    match resolve_key(org, t, text)? {
        Key::Id(id) => Ok(id),
        Key::Alternate {
            existing: Some(id), ..
        } => Ok(id),
        Key::Alternate { .. } => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "0x80040217",
            format!(
                "A record with the specified key values does not exist in {} entity",
                org.def(t).logical_name
            ),
        )),
    }
}

/// Like `key_to_id`, and the row must exist (binds, parties, related collections).
pub fn existing_row_id(org: &Org, t: usize, text: &str) -> Result<Uuid, ApiError> {
    let id = key_to_id(org, t, text)?;
    if org.table(t).rows.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::not_found(&org.def(t).logical_name, id))
    }
}

/// Parses `(<guid>)` contents or `name='x',other=2` against the table's keys.
pub fn resolve_key(org: &Org, t: usize, text: &str) -> Result<Key, ApiError> {
    let def = org.def(t);
    let trimmed = text.trim();
    if let Ok(id) = Uuid::parse_str(trimmed.trim_matches(|c| c == '{' || c == '}')) {
        return Ok(Key::Id(id));
    }
    let parts = split_key_parts(trimmed).ok_or_else(|| bad_key(text))?;
    let mut named: Vec<(String, String)> = Vec::new();
    for part in parts {
        let (name, literal) = part.split_once('=').ok_or_else(|| bad_key(text))?;
        named.push((name.trim().to_string(), literal.trim().to_string()));
    }
    if named.len() == 1 && named[0].0 == def.primary_id {
        let id = Uuid::parse_str(&named[0].1).map_err(|_| bad_key(text))?;
        return Ok(Key::Id(id));
    }
    let key_index = def
        .keys
        .iter()
        .position(|k| {
            k.key_attributes.len() == named.len()
                && k.key_attributes.iter().all(|a| named.iter().any(|(n, _)| n == a))
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "0x80060888",
                format!(
                    "The key specified in the request does not match any of the alternate keys defined for the entity '{}'.",
                    def.logical_name
                ),
            )
        })?;
    let mut values = Vec::new();
    for (name, literal) in &named {
        let attr = def
            .attribute(name)
            .ok_or_else(|| ApiError::unknown_property(name, &def.logical_name))?;
        let value =
            parse_key_literal(literal, attr.attr_type.kind()).ok_or_else(|| bad_key(text))?;
        values.push((attr.ordinal, value));
    }
    let mut row = vec![Value::Null; def.attributes.len()];
    for (o, v) in &values {
        row[*o] = v.clone();
    }
    let existing = org
        .table(t)
        .key_of(key_index, &row)
        .and_then(|k| org.table(t).find_by_key(key_index, &k));
    Ok(Key::Alternate { existing, values })
}

fn bad_key(text: &str) -> ApiError {
    ApiError::bad_request(
        "0x80060888",
        format!("Bad Request - Error in query syntax. The key '{text}' is not valid."),
    )
}

fn split_key_parts(text: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return None;
    }
    out.push(&text[start..]);
    Some(out)
}

fn parse_key_literal(literal: &str, kind: crate::value::ValueKind) -> Option<Value> {
    use crate::value::ValueKind;
    if let Some(inner) = literal
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
    {
        // The path was percent-decoded once already; a `%` left here is part of the value.
        let text = inner.replace("''", "'");
        return match kind {
            ValueKind::String => Some(Value::String(text.into())),
            ValueKind::Guid => Uuid::parse_str(&text).ok().map(Value::Guid),
            _ => None,
        };
    }
    match kind {
        ValueKind::Int => literal.parse().ok().map(Value::Int),
        ValueKind::Decimal => literal.parse().ok().map(Value::Decimal),
        ValueKind::Guid => Uuid::parse_str(literal).ok().map(Value::Guid),
        ValueKind::Bool => literal.parse().ok().map(Value::Bool),
        _ => None,
    }
}

/// The 403 Dataverse gives a principal missing a privilege.
pub fn privilege_denied(org: &Org, ctx: &Ctx, privilege: &str, t: Option<usize>) -> ApiError {
    let access_mode = org
        .table_index("systemuser")
        .and_then(|st| match org.get(st, ctx.user, "accessmode") {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        })
        .unwrap_or(0);
    let (otc, entity) = t.map_or((0, String::new()), |t| {
        let d = org.def(t);
        (d.object_type_code, d.logical_name.clone())
    });
    ApiError::new(
        StatusCode::FORBIDDEN,
        "0x80040220",
        format!(
            "Principal user (Id={}, type=8, roleCount={}, privilegeCount={}, accessMode={access_mode}), is missing {privilege} privilege (Id={}) on OTC={otc} for entity '{entity}'. context.Caller={}",
            ctx.user,
            org.security.role_count(ctx.user),
            org.security.privilege_count(ctx.user),
            privilege_id(privilege),
            ctx.caller
        ),
    )
}

/// What a query may depend on besides the rows: the acting user, their business unit, now.
pub fn eval_context(org: &Org, ctx: &Ctx) -> crate::odata::EvalContext {
    crate::odata::EvalContext {
        user_id: ctx.user,
        business_unit_id: org
            .user_business_unit(ctx.user)
            .unwrap_or(org.root_business_unit),
        now: ctx.now,
    }
}

/// Checks that the acting user holds `prv<verb><table>`; returns its depth.
pub fn require(org: &Org, ctx: &Ctx, verb: &str, t: usize) -> Result<Depth, ApiError> {
    let privilege = format!("prv{verb}{}", org.def(t).privilege_suffix());
    org.security
        .depth(ctx.user, &privilege)
        .ok_or_else(|| privilege_denied(org, ctx, &privilege, Some(t)))
}

/// Whether a row is within reach at `depth` for the acting user.
pub fn row_visible(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    row: &[Value],
    depth: Depth,
    subtree: &[Uuid],
) -> bool {
    let def = org.def(t);
    if depth == Depth::Global || def.ownership != crate::metadata::Ownership::UserOwned {
        return true;
    }
    match depth {
        Depth::Basic => def
            .ordinal("ownerid")
            .is_some_and(|o| cell(row, o) == &Value::Guid(ctx.user)),
        _ => def
            .ordinal("owningbusinessunit")
            .is_some_and(|o| match cell(row, o) {
                Value::Guid(bu) => subtree.contains(bu),
                _ => false,
            }),
    }
}

/// The business units a depth reaches for the acting user.
pub fn reach(org: &Org, ctx: &Ctx, depth: Depth) -> Vec<Uuid> {
    let bu = org
        .user_business_unit(ctx.user)
        .unwrap_or(org.root_business_unit);
    match depth {
        Depth::Local => vec![bu],
        Depth::Deep => org.business_unit_subtree(bu),
        _ => Vec::new(),
    }
}

/// Record-level check for writes and deletes on one row.
pub fn check_record_access(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    row: &[Value],
    verb: &str,
    id: Uuid,
) -> Result<(), ApiError> {
    let depth = require(org, ctx, verb, t)?;
    let subtree = reach(org, ctx, depth);
    if row_visible(org, ctx, t, row, depth, &subtree) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "0x80040220",
        format!(
            "Principal user (Id={}) does not have {verb}Access right(s) for record with id {id} of entity {}.",
            ctx.user,
            org.def(t).logical_name
        ),
    ))
}

/// One Web API request, transport-independent.
pub struct ApiRequest<'a> {
    pub method: Method,
    /// The path after `/api/data/v9.2/`, percent-decoded.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl ApiRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Splits `accounts(…)/nav/$ref` into segments, keeping parentheses content intact.
pub fn split_path(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in path.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            '/' if !quoted && depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out.retain(|s| !s.is_empty());
    out
}

/// Splits `name(args)` into the name and the text inside the parentheses.
pub fn name_and_args(segment: &str) -> (&str, Option<&str>) {
    match (segment.find('('), segment.ends_with(')')) {
        (Some(open), true) => (
            &segment[..open],
            Some(&segment[open + 1..segment.len() - 1]),
        ),
        _ => (segment, None),
    }
}

/// Whether a request only reads (and may share the org with other readers).
pub fn is_read(req: &ApiRequest<'_>) -> bool {
    req.method == Method::GET
}

/// Handles a read. The org is shared.
pub fn dispatch_read(org: &Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Reply {
    match route_read(org, ctx, req) {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

/// Handles a write. The caller owns the org exclusively.
pub fn dispatch_write(org: &mut Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Reply {
    match route_write(org, ctx, req) {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

fn route_read(org: &Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Result<Reply, ApiError> {
    let segments = split_path(req.path);
    let Some(first) = segments.first() else {
        return Ok(service_document(org, ctx));
    };
    let (name, args) = name_and_args(first);
    match name {
        "$metadata" => return Ok(entitydefs::csdl(org, ctx)),
        "WhoAmI" => return Ok(who_am_i(org, ctx)),
        "RetrieveVersion" => {
            return Ok(Reply::json(
                StatusCode::OK,
                serde_json::json!({
                    "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", ctx.base),
                    "Version": org.version,
                })
                .to_string(),
            ));
        }
        "RetrieveCurrentOrganization" => return Ok(current_organization(org, ctx)),
        "EntityDefinitions" => return entitydefs::get(org, ctx, args, &segments[1..], req.query),
        _ => {}
    }
    let t = org
        .table_by_set(name)
        .ok_or_else(|| ApiError::resource_not_found(name))?;
    match (args, segments.get(1)) {
        (None, None) => read::collection(org, ctx, t, req.query, None),
        (None, Some(&"$count")) => read::count(org, ctx, t),
        (Some(key), None) => read::entity(org, ctx, t, key, req.query, req.header("if-none-match")),
        (Some(key), Some(seg)) if seg.starts_with("Microsoft.Dynamics.CRM.") => {
            functions_on_user(org, ctx, t, key, seg, req.query)
        }
        (Some(key), Some(_)) => read::related(org, ctx, t, key, &segments[1..], req.query),
        _ => Err(ApiError::resource_not_found(req.path)),
    }
}

fn route_write(org: &mut Org, ctx: &Ctx, req: &ApiRequest<'_>) -> Result<Reply, ApiError> {
    let segments = split_path(req.path);
    let Some(first) = segments.first() else {
        return Err(method_not_allowed());
    };
    let (name, args) = name_and_args(first);
    if name == "EntityDefinitions" {
        return entitydefs::write(org, ctx, req, args, &segments[1..]);
    }
    if name == "CreateEntities" && req.method == Method::POST {
        return entitydefs::create_entities(org, ctx, req);
    }
    let t = org
        .table_by_set(name)
        .ok_or_else(|| ApiError::resource_not_found(name))?;
    let table = org.def(t).logical_name.clone();
    match (&req.method, args, segments.get(1)) {
        (&Method::POST, None, None) => {
            let body = rows::parse_object(&table, req.body)?;
            let id = write::create(org, ctx, t, &body, None, &[])?;
            created_reply(org, ctx, t, id, None, req.query, StatusCode::CREATED)
        }
        (&Method::POST, None, Some(action)) => read::bulk(org, ctx, t, action, req.body),
        (&Method::PATCH, Some(key), None) => {
            let body = rows::parse_object(&table, req.body)?;
            let key_text = key;
            let key = resolve_key(org, t, key)?;
            let mode = match (req.header("if-match"), req.header("if-none-match")) {
                (Some(_), _) => write::PatchMode::UpdateOnly,
                (None, Some("*")) => write::PatchMode::CreateOnly,
                _ => write::PatchMode::Upsert,
            };
            match write::patch(org, ctx, t, key, &body, mode, req.header("if-match"))? {
                write::Patched::Created(id) => created_reply(
                    org,
                    ctx,
                    t,
                    id,
                    Some(key_text),
                    req.query,
                    StatusCode::CREATED,
                ),
                write::Patched::Updated(id) => {
                    created_reply(org, ctx, t, id, Some(key_text), req.query, StatusCode::OK)
                }
            }
        }
        (&Method::DELETE, Some(key), None) => {
            let id = key_to_id(org, t, key)?;
            write::delete(org, ctx, t, id, req.header("if-match"))?;
            Ok(Reply::no_content())
        }
        (&Method::PUT | &Method::DELETE | &Method::POST, Some(key), Some(_)) => refs::write(
            org,
            ctx,
            t,
            key,
            &segments[1..],
            &req.method,
            req.body,
            req.query,
        ),
        (&Method::PATCH | &Method::PUT | &Method::DELETE, None, _) => Err(method_not_allowed()),
        _ => Err(ApiError::resource_not_found(req.path)),
    }
}

pub(super) fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "0x80060888",
        "The requested resource does not support http method.",
    )
}

/// Characters of a key segment that must stay percent-encoded in a URL header.
const KEY_IN_URL: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/');

/// 204 with `OData-EntityId`, or the representation when `return=representation` was asked.
/// A create names the row by its id; an upsert (`key` given) in the key form it was addressed by,
/// `accounts(accountnumber='A-1')` as well as `accounts(<id>)`.
fn created_reply(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    id: Uuid,
    key: Option<&str>,
    query: &str,
    status_with_body: StatusCode,
) -> Result<Reply, ApiError> {
    let def = org.def(t);
    let entity_id = match key {
        Some(key) => format!(
            "{}/{}({})",
            ctx.base,
            def.entity_set_name,
            percent_encoding::utf8_percent_encode(key, KEY_IN_URL)
        ),
        None => format!("{}/{}({id})", ctx.base, def.entity_set_name),
    };
    if ctx.prefer.return_representation {
        let mut reply = read::entity(org, ctx, t, &id.to_string(), query, None)?;
        reply.status = status_with_body;
        reply
            .headers
            .push(("Preference-Applied".into(), "return=representation".into()));
        return Ok(reply);
    }
    Ok(Reply::no_content().header("OData-EntityId", entity_id))
}

fn service_document(org: &Org, ctx: &Ctx) -> Reply {
    let value: Vec<serde_json::Value> = org
        .live_tables()
        .map(|t| serde_json::json!({"name": t.entity_set_name, "kind": "EntitySet", "url": t.entity_set_name}))
        .collect();
    Reply::json(
        StatusCode::OK,
        serde_json::json!({"@odata.context": format!("{}/$metadata", ctx.base), "value": value})
            .to_string(),
    )
}

fn who_am_i(org: &Org, ctx: &Ctx) -> Reply {
    let bu = org
        .user_business_unit(ctx.user)
        .unwrap_or(org.root_business_unit);
    Reply::json(
        StatusCode::OK,
        serde_json::json!({
            "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", ctx.base),
            "BusinessUnitId": bu,
            "UserId": ctx.user,
            "OrganizationId": org.id,
        })
        .to_string(),
    )
}

fn current_organization(org: &Org, ctx: &Ctx) -> Reply {
    let origin = ctx.base.trim_end_matches("/api/data/v9.2");
    Reply::json(
        StatusCode::OK,
        serde_json::json!({
            "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse", ctx.base),
            "Detail": {
                "OrganizationId": org.id,
                "FriendlyName": org.name,
                "OrganizationVersion": org.version,
                "EnvironmentId": org.environment_id.to_string(),
                "DatacenterId": Uuid::nil(),
                "Geo": "NA",
                "TenantId": org.tenant_id.to_string(),
                "UniqueName": org.unique_name,
                "UrlName": org.unique_name,
                "Endpoints": {
                    "Count": 3,
                    "IsReadOnly": false,
                    "Keys": ["WebApplication", "OrganizationService", "OrganizationDataService"],
                    "Values": [
                        format!("{origin}/"),
                        format!("{origin}/XRMServices/2011/Organization.svc"),
                        format!("{origin}/XRMServices/2011/OrganizationData.svc"),
                    ],
                },
                "State": "Enabled",
                "OrganizationType": ORGANIZATION_TYPES.get(org.organization_type).copied().unwrap_or("Customer"),
                "SchemaType": "Standard",
            }
        })
        .to_string(),
    )
}

/// Bound functions on `systemusers(<id>)`: the privilege functions.
fn functions_on_user(
    org: &Org,
    ctx: &Ctx,
    t: usize,
    key: &str,
    segment: &str,
    query: &str,
) -> Result<Reply, ApiError> {
    let function = segment.trim_start_matches("Microsoft.Dynamics.CRM.");
    let (fname, args) = name_and_args(function);
    if org.def(t).logical_name != "systemuser" {
        return Err(ApiError::resource_not_found(segment));
    }
    require(org, ctx, "Read", t)?;
    let user = match resolve_key(org, t, key)? {
        Key::Id(id) if org.table(t).rows.contains_key(&id) => id,
        Key::Id(id) => return Err(ApiError::not_found("systemuser", id)),
        _ => return Err(ApiError::resource_not_found(key)),
    };
    let privilege_json = |name: &str, depth: Depth, bu: Uuid| serde_json::json!({"Depth": depth.as_str(), "PrivilegeId": privilege_id(name), "BusinessUnitId": bu, "PrivilegeName": name});
    match fname {
        "RetrieveUserPrivileges" => {
            let list: Vec<serde_json::Value> = org
                .security
                .privileges_of(user)
                .iter()
                .map(|(name, (depth, bu))| privilege_json(name, *depth, *bu))
                .collect();
            Ok(Reply::json(StatusCode::OK, serde_json::json!({
                "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse", ctx.base),
                "RolePrivileges": list,
            }).to_string()))
        }
        "RetrieveUserPrivilegeByPrivilegeName" => {
            let wanted = function_arg(args.unwrap_or_default(), "PrivilegeName", query)
                .ok_or_else(|| ApiError::odata("The parameter 'PrivilegeName' is required."))?;
            let list: Vec<serde_json::Value> = org
                .security
                .privileges_of(user)
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(&wanted))
                .map(|(name, (depth, bu))| privilege_json(name, *depth, *bu))
                .collect();
            Ok(Reply::json(StatusCode::OK, serde_json::json!({
                "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeNameResponse", ctx.base),
                "RolePrivileges": list,
            }).to_string()))
        }
        "RetrievePrincipalAccess" => {
            let target = function_arg(args.unwrap_or_default(), "Target", query)
                .ok_or_else(|| ApiError::odata("The parameter 'Target' is required."))?;
            let parsed: serde_json::Value = serde_json::from_str(&target).map_err(|_| {
                ApiError::odata(format!("The parameter 'Target' is not valid: {target}"))
            })?;
            let odata_id = parsed
                .get("@odata.id")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let (set, key_text) = rows::parse_bind_target(odata_id).ok_or_else(|| {
                ApiError::odata(format!("The parameter 'Target' is not valid: {target}"))
            })?;
            let tt = org
                .table_by_set(&set)
                .ok_or_else(|| ApiError::resource_not_found(&set))?;
            let id = key_to_id(org, tt, &key_text)?;
            let row = org
                .table(tt)
                .rows
                .get(&id)
                .ok_or_else(|| ApiError::not_found(&org.def(tt).logical_name, id))?;
            let as_user = Ctx {
                user,
                ..ctx.clone()
            };
            let mut rights = Vec::new();
            for (verb, right) in [
                ("Read", "ReadAccess"),
                ("Write", "WriteAccess"),
                ("Append", "AppendAccess"),
                ("AppendTo", "AppendToAccess"),
                ("Create", "CreateAccess"),
                ("Delete", "DeleteAccess"),
                ("Share", "ShareAccess"),
                ("Assign", "AssignAccess"),
            ] {
                if let Ok(depth) = require(org, &as_user, verb, tt) {
                    let subtree = reach(org, &as_user, depth);
                    if row_visible(org, &as_user, tt, &row.values, depth, &subtree) {
                        rights.push(right);
                    }
                }
            }
            let rights = if rights.is_empty() {
                "None".to_string()
            } else {
                rights.join(", ")
            };
            Ok(Reply::json(StatusCode::OK, serde_json::json!({
                "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrievePrincipalAccessResponse", ctx.base),
                "AccessRights": rights,
            }).to_string()))
        }
        _ => Err(ApiError::resource_not_found(segment)),
    }
}

/// A function argument given inline (`Name='x'`) or through a parameter alias (`Name=@p` + `?@p=…`).
pub fn function_arg(args: &str, name: &str, query: &str) -> Option<String> {
    let raw = split_key_parts(args)?.into_iter().find_map(|p| {
        p.split_once('=')
            .filter(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    })?;
    let value = if let Some(alias) = raw.strip_prefix('@') {
        query_param(query, &format!("@{alias}"))?
    } else {
        raw
    };
    Some(
        match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Some(inner) => inner.replace("''", "'"),
            None => value,
        },
    )
}

/// A query-string parameter, percent-decoded (`+` is not a space in OData URLs).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_query_component(k) == name).then(|| decode_query_component(v))
    })
}

/// The parameter aliases (`@p1=…`) a query string defines, decoded.
pub fn query_aliases(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let name = decode_query_component(k);
            let name = name.strip_prefix('@')?;
            Some((name.to_string(), decode_query_component(v)))
        })
        .collect()
}

/// Decodes one query-string component as IIS does: `+` is a space, then percent-decoding.
pub fn decode_query_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .to_string()
}
