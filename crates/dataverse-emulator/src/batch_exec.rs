//! Executing a `$batch`: each top-level request on its own, each change set atomically under one
//! write lock with `$n` Content-ID references resolved, stopping at the first failure unless the
//! client prefers `odata.continue-on-error`.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::batch::{
    InnerRequest, InnerResponse, RequestPart, ResponsePart, parse_request, write_response,
};
use crate::error::ApiError;
use crate::server::{API_PREFIX, Emulator, execute_one};
use crate::webapi::{ApiRequest, Ctx, Prefer, Reply};

fn to_inner(content_id: Option<String>, reply: Reply) -> InnerResponse {
    let mut headers = HeaderMap::new();
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    if let Some(id) = headers.get("odata-entityid").cloned() {
        headers.insert(http::header::LOCATION, id);
    }
    InnerResponse {
        content_id,
        status: reply.status,
        headers,
        body: Bytes::from(reply.body),
    }
}

/// The path (after `/api/data/v9.2/`) and query of an inner request URL.
fn split_url(url: &str) -> (String, String) {
    let after = match url.find(API_PREFIX) {
        Some(i) => &url[i + API_PREFIX.len()..],
        None => url,
    };
    let after = after.trim_start_matches('/');
    let (path, query) = after.split_once('?').unwrap_or((after, ""));
    (
        percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .to_string(),
        query.to_string(),
    )
}

/// Replaces `$n` Content-ID references (in the URL and in bind values) with the entity they name.
fn resolve_references(text: &str, ids: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    let mut keys: Vec<&String> = ids.keys().collect();
    // Longest first, so `$10` is not read as `$1` followed by `0`.
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for k in keys {
        out = out.replace(&format!("${k}"), &ids[k]);
    }
    out
}

fn inner_ctx(outer: &Ctx, headers: &HeaderMap) -> Ctx {
    let mut prefer = Prefer::parse(headers);
    if !headers.contains_key("prefer") {
        prefer.annotations = outer.prefer.annotations.clone();
    }
    Ctx {
        prefer,
        ..outer.clone()
    }
}

pub fn execute(em: &Emulator, ctx: &Ctx, content_type: &str, body: &[u8]) -> Reply {
    let parts = match parse_request(content_type, body) {
        Ok(p) => p,
        Err(e) => return Reply::error(&ApiError::bad_request("0x80048d19", e.message)),
    };
    let continue_on_error = ctx.prefer.continue_on_error;
    let mut out = Vec::new();
    let mut failed = false;
    for part in parts {
        match part {
            RequestPart::Request(r) => {
                let (path, query) = split_url(&r.url);
                let ictx = inner_ctx(ctx, &r.headers);
                let req = ApiRequest {
                    method: r.method.clone(),
                    path: &path,
                    query: &query,
                    headers: &r.headers,
                    body: &r.body,
                };
                let reply = if path == "$batch" {
                    Reply::error(&ApiError::bad_request(
                        "0x80048d19",
                        "Nested batch requests are not supported.",
                    ))
                } else {
                    execute_one(em, &ictx, &req)
                };
                let ok = reply.status.is_success() || reply.status == StatusCode::NOT_MODIFIED;
                out.push(ResponsePart::Response(to_inner(r.content_id, reply)));
                if !ok {
                    failed = true;
                    if !continue_on_error {
                        break;
                    }
                }
            }
            RequestPart::ChangeSet(requests) => match change_set(em, ctx, requests) {
                Ok(responses) => out.push(ResponsePart::ChangeSet(responses)),
                Err(failure) => {
                    out.push(ResponsePart::Response(failure));
                    failed = true;
                    if !continue_on_error {
                        break;
                    }
                }
            },
        }
    }
    let boundary = format!("batchresponse_{}", uuid::Uuid::new_v4());
    let mut reply = Reply {
        status: if failed && !continue_on_error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        headers: vec![
            (
                "Content-Type".into(),
                format!("multipart/mixed; boundary={boundary}"),
            ),
            ("OData-Version".into(), "4.0".into()),
        ],
        body: write_response(&boundary, &out),
    };
    if continue_on_error {
        reply.headers.push((
            "Preference-Applied".into(),
            "odata.continue-on-error".into(),
        ));
    }
    reply
}

// The failure is the response itself, sent as the change set's one part.
#[allow(clippy::result_large_err)]
/// Runs a change set atomically; on failure everything is rolled back and the failing
/// operation's response is returned alone.
fn change_set(
    em: &Emulator,
    ctx: &Ctx,
    requests: Vec<InnerRequest>,
) -> Result<Vec<InnerResponse>, InnerResponse> {
    let mut org = em.org.write();
    if em.is_closing() {
        return Err(to_inner(
            None,
            Reply::error(&crate::server::shutting_down()),
        ));
    }
    org.store.begin();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut responses = Vec::new();
    for r in requests {
        let url = resolve_references(&r.url, &ids);
        let (path, query) = split_url(&url);
        let body = match std::str::from_utf8(&r.body) {
            Ok(text) if text.contains('$') => resolve_references(text, &ids).into_bytes(),
            _ => r.body.to_vec(),
        };
        let ictx = inner_ctx(ctx, &r.headers);
        let req = ApiRequest {
            method: r.method.clone(),
            path: &path,
            query: &query,
            headers: &r.headers,
            body: &body,
        };
        let reply = crate::server::run_write(&mut org, &ictx, &req);
        if !reply.status.is_success() {
            org.store.rollback();
            return Err(to_inner(r.content_id, reply));
        }
        if let (Some(cid), Some((_, entity))) = (
            &r.content_id,
            reply
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("OData-EntityId")),
        ) {
            let path = entity
                .split(API_PREFIX)
                .nth(1)
                .unwrap_or(entity)
                .trim_start_matches('/');
            ids.insert(cid.clone(), format!("/{}", path));
        }
        responses.push(to_inner(r.content_id, reply));
    }
    org.store.commit();
    drop(org);
    em.changed();
    Ok(responses)
}
