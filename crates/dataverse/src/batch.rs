//! `$batch`: a hand-written `multipart/mixed` writer (operations and atomic change sets with
//! `Content-ID`s) and a parser of the response that gives each operation its own outcome.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::client::{Client, Request, Response};
use crate::error::Error;

/// Dataverse runs at most this many operations in one batch.
pub const MAX_BATCH_OPERATIONS: usize = 1000;

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    method: Method,
    /// A path under the API root, or `$n` (a `Content-ID` of an earlier operation of the same
    /// change set) optionally followed by a path.
    target: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
    content_id: Option<String>,
}

impl Operation {
    pub fn new(method: Method, target: impl Into<String>) -> Operation {
        Operation {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: None,
            content_id: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Operation {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Operation {
        self.body = Some(body);
        self
    }

    /// Names the operation so later operations of its change set can refer to it as `$id`.
    pub fn content_id(mut self, id: impl Into<String>) -> Operation {
        self.content_id = Some(id.into());
        self
    }
}

/// A top-level part: one operation, or a change set whose operations succeed or fail together.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    One(Operation),
    ChangeSet(Vec<Operation>),
}

/// What happened to one operation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Done(Response),
    Failed(Error),
    /// The batch stopped before it (an earlier failure, without continue-on-error).
    NotRun,
}

/// A batch to send.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub parts: Vec<Part>,
    /// Run every part even after a failure (`Prefer: odata.continue-on-error`).
    pub continue_on_error: bool,
}

impl Batch {
    pub fn operation_count(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::One(_) => 1,
                Part::ChangeSet(ops) => ops.len(),
            })
            .sum()
    }
}

fn write_operation(
    out: &mut Vec<u8>,
    api_url: &str,
    op: &Operation,
    caller: Option<Uuid>,
) -> Result<(), Error> {
    if op.target.contains([' ', '\r', '\n']) {
        return Err(Error::InvalidInput(format!(
            "a batch operation's path must be encoded: {}",
            op.target
        )));
    }
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(id) = &op.content_id {
        out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let url = if op.target.starts_with('$') {
        op.target.clone()
    } else {
        format!("{api_url}/{}", op.target.trim_start_matches('/'))
    };
    out.extend_from_slice(format!("{} {url} HTTP/1.1\r\n", op.method).as_bytes());
    out.extend_from_slice(b"Accept: application/json\r\n");
    if let Some(caller) = caller {
        out.extend_from_slice(format!("CallerObjectId: {caller}\r\n").as_bytes());
    }
    for (name, value) in &op.headers {
        if value.contains(['\r', '\n']) {
            return Err(Error::InvalidInput(format!(
                "the {name} header of a batch operation holds a line break"
            )));
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    match &op.body {
        Some(body) => {
            out.extend_from_slice(b"Content-Type: application/json; type=entry\r\n\r\n");
            out.extend_from_slice(body.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        None => out.extend_from_slice(b"\r\n"),
    }
    Ok(())
}

/// The request body, framed with `boundary`.
fn write_batch(
    batch: &Batch,
    boundary: &str,
    api_url: &str,
    caller: Option<Uuid>,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for part in &batch.parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::One(op) => {
                if op.content_id.is_some() {
                    return Err(Error::InvalidInput(
                        "Content-ID references only work inside a change set".into(),
                    ));
                }
                write_operation(&mut out, api_url, op, caller)?;
            }
            Part::ChangeSet(ops) => {
                if ops.iter().any(|op| op.method == Method::GET) {
                    return Err(Error::InvalidInput("a change set cannot hold a GET".into()));
                }
                let set = format!("changeset_{}", Uuid::new_v4().simple());
                out.extend_from_slice(
                    format!("Content-Type: multipart/mixed; boundary={set}\r\n\r\n").as_bytes(),
                );
                for op in ops {
                    out.extend_from_slice(format!("--{set}\r\n").as_bytes());
                    write_operation(&mut out, api_url, op, caller)?;
                }
                out.extend_from_slice(format!("--{set}--\r\n").as_bytes());
            }
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// The `boundary` parameter of a `multipart/mixed` content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The body parts between `--boundary` delimiters (CRLF or bare LF line ends).
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, String> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], d) {
        let pos = at + found;
        if pos == 0 || body[pos - 1] == b'\n' {
            starts.push(pos);
        }
        at = pos + d.len();
    }
    let mut parts = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let after = start + d.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let line_end = find(&body[after..], b"\n").ok_or("a delimiter line does not end")?;
        let content_start = after + line_end + 1;
        let content_end = match starts.get(i + 1) {
            Some(&next) => next,
            None => return Err("the multipart body has no closing delimiter".into()),
        };
        let mut content = &body[content_start..content_end];
        // The line break before a delimiter belongs to the delimiter.
        content = content.strip_suffix(b"\n").unwrap_or(content);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        parts.push(content);
    }
    Err("the multipart body has no closing delimiter".into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A part's MIME headers and content.
fn part_headers(part: &[u8]) -> Result<(HeaderMap, &[u8]), String> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    match httparse::parse_headers(part, &mut headers) {
        Ok(httparse::Status::Complete((used, parsed))) => {
            Ok((to_header_map(parsed), &part[used..]))
        }
        Ok(httparse::Status::Partial) => Err("a part's headers do not end".into()),
        Err(e) => Err(format!("a part's headers are not valid: {e}")),
    }
}

fn to_header_map(parsed: &[httparse::Header<'_>]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for h in parsed {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// An `application/http` part: the inner response's status, headers and body.
fn inner_response(content: &[u8]) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(content) {
        Ok(httparse::Status::Complete(used)) => {
            let status = response
                .code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or("an inner response has no status")?;
            Ok((
                status,
                to_header_map(response.headers),
                Bytes::copy_from_slice(&content[used..]),
            ))
        }
        Ok(httparse::Status::Partial) => Err("an inner response's head does not end".into()),
        Err(e) => Err(format!("an inner response is not valid HTTP: {e}")),
    }
}

/// One top-level part of the response.
enum ResponsePart {
    One(Outcome),
    ChangeSet(Vec<Outcome>),
}

fn outcome(status: StatusCode, headers: HeaderMap, body: Bytes) -> Outcome {
    if status.is_success() {
        Outcome::Done(Response {
            status,
            headers,
            body,
        })
    } else {
        Outcome::Failed(Error::from_response(status, &headers, &body))
    }
}

fn parse_response(content_type: &str, body: &[u8]) -> Result<Vec<ResponsePart>, String> {
    let boundary = boundary_of(content_type).ok_or("the batch response is not multipart/mixed")?;
    let mut out = Vec::new();
    for part in split_multipart(body, &boundary)? {
        let (headers, content) = part_headers(part)?;
        let kind = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(set_boundary) = boundary_of(kind) {
            let mut outcomes = Vec::new();
            for inner in split_multipart(content, &set_boundary)? {
                let (_, http) = part_headers(inner)?;
                let (status, headers, body) = inner_response(http)?;
                outcomes.push(outcome(status, headers, body));
            }
            out.push(ResponsePart::ChangeSet(outcomes));
        } else {
            let (status, headers, body) = inner_response(content)?;
            out.push(ResponsePart::One(outcome(status, headers, body)));
        }
    }
    Ok(out)
}

/// Lines the response parts up with the request's operations, one outcome per operation.
fn align(batch: &Batch, parts: Vec<ResponsePart>) -> Result<Vec<Outcome>, String> {
    if parts.len() > batch.parts.len() {
        return Err("the batch response has more parts than the request".into());
    }
    let mut parts = parts.into_iter();
    let mut out = Vec::with_capacity(batch.operation_count());
    for part in &batch.parts {
        match (part, parts.next()) {
            (Part::One(_), Some(ResponsePart::One(o))) => out.push(o),
            (Part::ChangeSet(ops), Some(ResponsePart::ChangeSet(outcomes)))
                if outcomes.len() == ops.len() =>
            {
                out.extend(outcomes)
            }
            // A failed change set answers with its one failure; everything in it was rolled back.
            (Part::ChangeSet(ops), Some(ResponsePart::One(Outcome::Failed(e)))) => {
                out.extend(ops.iter().map(|_| Outcome::Failed(e.clone())))
            }
            (Part::One(_), None) => out.push(Outcome::NotRun),
            (Part::ChangeSet(ops), None) => out.extend(ops.iter().map(|_| Outcome::NotRun)),
            _ => return Err("the batch response does not match the request's parts".into()),
        }
    }
    Ok(out)
}

impl Client {
    /// Sends a batch and returns one outcome per operation, in request order (change sets
    /// flattened). A batch is not retried as a whole unless every operation in it is safe to repeat.
    pub async fn batch(&self, batch: &Batch, idempotent: bool) -> Result<Vec<Outcome>, Error> {
        if batch.operation_count() > MAX_BATCH_OPERATIONS {
            return Err(Error::InvalidInput(format!(
                "a batch holds at most {MAX_BATCH_OPERATIONS} operations, not {}",
                batch.operation_count()
            )));
        }
        if batch.parts.is_empty() {
            return Ok(Vec::new());
        }
        let boundary = format!("batch_{}", Uuid::new_v4().simple());
        let body = write_batch(batch, &boundary, self.api_url(), self.caller())?;
        let mut request = Request::new(Method::POST, "$batch")
            .body(format!("multipart/mixed; boundary={boundary}"), body);
        request.multipart_reply = true;
        if batch.continue_on_error {
            request = request.header("prefer", "odata.continue-on-error");
        }
        if idempotent {
            request = request.idempotent();
        }
        let response = self.send(request).await?;
        let content_type = response.header("content-type").unwrap_or("").to_string();
        parse_response(&content_type, &response.body)
            .and_then(|parts| align(batch, parts))
            .map_err(|what| Error::unexpected(response.status, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://org.example/api/data/v9.2";

    #[test]
    fn the_request_is_framed_with_crlf_and_content_ids() {
        let batch = Batch {
            parts: vec![
                Part::One(Operation::new(Method::GET, "accounts?$select=name&$top=1")),
                Part::ChangeSet(vec![
                    Operation::new(Method::POST, "accounts")
                        .json(serde_json::json!({"name": "A"}))
                        .content_id("1"),
                    Operation::new(Method::POST, "$1/contact_customer_accounts")
                        .json(serde_json::json!({"lastname": "B"})),
                ]),
            ],
            continue_on_error: false,
        };
        let body = String::from_utf8(write_batch(&batch, "batch_x", API, None).unwrap()).unwrap();
        let set = body
            .split("boundary=")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .to_string();
        let expected = format!(
            "--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             GET {API}/accounts?$select=name&$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\
             --batch_x\r\nContent-Type: multipart/mixed; boundary={set}\r\n\r\n\
             --{set}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n\
             POST {API}/accounts HTTP/1.1\r\nAccept: application/json\r\nContent-Type: application/json; type=entry\r\n\r\n\
             {{\"name\":\"A\"}}\r\n\
             --{set}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             POST $1/contact_customer_accounts HTTP/1.1\r\nAccept: application/json\r\nContent-Type: application/json; type=entry\r\n\r\n\
             {{\"lastname\":\"B\"}}\r\n\
             --{set}--\r\n--batch_x--\r\n"
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn unencoded_paths_gets_in_change_sets_and_stray_content_ids_are_refused() {
        let bad = |parts| Batch {
            parts,
            continue_on_error: false,
        };
        for batch in [
            bad(vec![Part::One(Operation::new(
                Method::GET,
                "accounts?$filter=name eq 'x'",
            ))]),
            bad(vec![Part::ChangeSet(vec![Operation::new(
                Method::GET,
                "accounts",
            )])]),
            bad(vec![Part::One(
                Operation::new(Method::POST, "accounts").content_id("1"),
            )]),
            bad(vec![Part::One(
                Operation::new(Method::POST, "accounts").header("prefer", "a\r\nX-Evil: 1"),
            )]),
        ] {
            assert!(write_batch(&batch, "b", API, None).is_err());
        }
    }

    /// The response of the documentation's example, as Dataverse frames it.
    const RESPONSE: &str = "--batchresponse_1\r\n\
        Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n\
        --changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n\
        HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nLocation: https://org.example/api/data/v9.2/tasks(11111111-1111-1111-1111-111111111111)\r\nOData-EntityId: https://org.example/api/data/v9.2/tasks(11111111-1111-1111-1111-111111111111)\r\n\r\n\r\n\
        --changesetresponse_2--\r\n\
        --batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n\
        {\"value\":[{\"name\":\"A\"}]}\r\n\
        --batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
        HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n\
        {\"error\":{\"code\":\"0x80044331\",\"message\":\"A validation error occurred.\"}}\r\n\
        --batchresponse_1--\r\n";

    fn three_parts() -> Batch {
        Batch {
            parts: vec![
                Part::ChangeSet(vec![Operation::new(Method::POST, "tasks")]),
                Part::One(Operation::new(Method::GET, "accounts")),
                Part::One(Operation::new(Method::POST, "tasks")),
                Part::ChangeSet(vec![
                    Operation::new(Method::POST, "tasks"),
                    Operation::new(Method::POST, "tasks"),
                ]),
            ],
            continue_on_error: false,
        }
    }

    #[test]
    fn each_operation_gets_its_outcome() {
        let parts = parse_response(
            "multipart/mixed; boundary=batchresponse_1",
            RESPONSE.as_bytes(),
        )
        .unwrap();
        let outcomes = align(&three_parts(), parts).unwrap();
        assert_eq!(outcomes.len(), 5);
        match &outcomes[0] {
            Outcome::Done(r) => assert_eq!(
                r.entity_id().unwrap().to_string(),
                "11111111-1111-1111-1111-111111111111"
            ),
            other => panic!("{other:?}"),
        }
        match &outcomes[1] {
            Outcome::Done(r) => assert_eq!(&r.body[..], br#"{"value":[{"name":"A"}]}"#),
            other => panic!("{other:?}"),
        }
        match &outcomes[2] {
            Outcome::Failed(e) => assert_eq!(e.code(), Some("0x80044331")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcomes[3], Outcome::NotRun));
        assert!(matches!(outcomes[4], Outcome::NotRun));
    }

    #[test]
    fn a_failed_change_set_fails_all_its_operations() {
        let response = "--b\r\nContent-Type: application/http\r\n\r\n\
            HTTP/1.1 412 Precondition Failed\r\n\r\n{\"error\":{\"code\":\"0x80060882\",\"message\":\"x\"}}\r\n--b--";
        let batch = Batch {
            parts: vec![Part::ChangeSet(vec![
                Operation::new(Method::PATCH, "a(1)"),
                Operation::new(Method::PATCH, "a(2)"),
            ])],
            continue_on_error: true,
        };
        let parts = parse_response("multipart/mixed; boundary=\"b\"", response.as_bytes()).unwrap();
        let outcomes = align(&batch, parts).unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Failed(Error::Conflict(_))))
        );
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for (ct, body) in [
            ("application/json", "{}"),
            (
                "multipart/mixed; boundary=b",
                "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}",
            ),
            (
                "multipart/mixed; boundary=b",
                "--b\r\nContent-Type: application/http\r\n\r\nnot http\r\n--b--",
            ),
            (
                "multipart/mixed; boundary=b",
                "--b\r\nbroken header\r\n--b--",
            ),
            ("multipart/mixed; boundary=b", ""),
        ] {
            let parsed = parse_response(ct, body.as_bytes());
            assert!(
                parsed.is_err() || parsed.is_ok_and(|p| p.is_empty()),
                "{body}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_response("multipart/mixed; boundary=b", &body);
            let mut framed = b"--b\r\n".to_vec();
            framed.extend_from_slice(&body);
            framed.extend_from_slice(b"\r\n--b--");
            let _ = parse_response("multipart/mixed; boundary=b", &framed);
        }
    }
}
