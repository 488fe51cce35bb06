//! Tests for the `$batch` codec: the docs' examples, the Python SDK's exact output, every
//! malformed case we reject, the response framing, and property tests for both directions.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use proptest::prelude::*;

use super::*;

const ORG: &str = "https://contoso.crm.dynamics.com";

fn lf_to_crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

fn request(part: &RequestPart) -> &InnerRequest {
    match part {
        RequestPart::Request(request) => request,
        RequestPart::ChangeSet(_) => panic!("expected a single request, got a change set"),
    }
}

fn change_set(part: &RequestPart) -> &[InnerRequest] {
    match part {
        RequestPart::ChangeSet(requests) => requests,
        RequestPart::Request(_) => panic!("expected a change set, got a single request"),
    }
}

fn header<'a>(request: &'a InnerRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn error_of(content_type: &str, body: &str) -> String {
    match parse_request(content_type, body.as_bytes()) {
        Ok(parts) => panic!("expected an error, parsed {} parts", parts.len()),
        Err(error) => error.message,
    }
}

// -------------------------------------------------------------------------------------------
// The docs' request examples (execute-batch-operations-using-web-api.md), verbatim but for the
// org URL. The docs print them with LF line endings.
// -------------------------------------------------------------------------------------------

const DOC_TASK_BODY_1: &str = "{\n  \"subject\": \"Task 1 in batch\",\n  \"regardingobjectid_account_task@odata.bind\": \"accounts(00000000-0000-0000-0000-000000000001)\"\n}";

const DOC_BATCH_WITHOUT_CHANGE_SETS: &str = r#"--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_80dd1615-2a10-428a-bb6f-0e559792721f--
"#;

const DOC_BATCH_CONTENT_TYPE: &str =
    "multipart/mixed; boundary=\"batch_80dd1615-2a10-428a-bb6f-0e559792721f\"";

fn check_doc_batch_without_change_sets(parts: &[RequestPart]) {
    assert_eq!(parts.len(), 4);
    for (index, part) in parts[..3].iter().enumerate() {
        let task = request(part);
        assert_eq!(task.method, Method::POST);
        assert_eq!(task.url, "/api/data/v9.2/tasks");
        assert_eq!(task.content_id, None);
        assert_eq!(
            header(task, "content-type"),
            Some("application/json; type=entry")
        );
        let json: serde_json::Value = serde_json::from_slice(&task.body).unwrap();
        assert_eq!(json["subject"], format!("Task {} in batch", index + 1));
    }
    let get = request(&parts[3]);
    assert_eq!(get.method, Method::GET);
    assert_eq!(
        get.url,
        "/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject"
    );
    assert!(get.headers.is_empty());
    assert!(get.body.is_empty());
}

#[test]
fn doc_batch_without_change_sets_parses_with_lf_line_endings() {
    let parts = parse_request(
        DOC_BATCH_CONTENT_TYPE,
        DOC_BATCH_WITHOUT_CHANGE_SETS.as_bytes(),
    )
    .unwrap();
    check_doc_batch_without_change_sets(&parts);
    assert_eq!(request(&parts[0]).body, DOC_TASK_BODY_1.as_bytes());
}

#[test]
fn doc_batch_without_change_sets_parses_with_crlf_line_endings() {
    let body = lf_to_crlf(DOC_BATCH_WITHOUT_CHANGE_SETS);
    let parts = parse_request(DOC_BATCH_CONTENT_TYPE, body.as_bytes()).unwrap();
    check_doc_batch_without_change_sets(&parts);
    assert_eq!(
        request(&parts[0]).body,
        lf_to_crlf(DOC_TASK_BODY_1).as_bytes()
    );
}

const DOC_BATCH_WITH_CHANGE_SET: &str = r#"--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: multipart/mixed; boundary="changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"

--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a--

--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_22975cad-7f57-410d-be15-6363209367ea--
"#;

#[test]
fn doc_batch_with_change_set_keeps_content_ids_and_order() {
    for body in [
        DOC_BATCH_WITH_CHANGE_SET.to_owned(),
        lf_to_crlf(DOC_BATCH_WITH_CHANGE_SET),
    ] {
        let parts = parse_request(
            "multipart/mixed; boundary=\"batch_22975cad-7f57-410d-be15-6363209367ea\"",
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        let tasks = change_set(&parts[0]);
        assert_eq!(tasks.len(), 3);
        for (index, task) in tasks.iter().enumerate() {
            assert_eq!(task.content_id.as_deref(), Some(&*(index + 1).to_string()));
            assert_eq!(task.method, Method::POST);
            assert_eq!(task.url, "/api/data/v9.2/tasks");
            let json: serde_json::Value = serde_json::from_slice(&task.body).unwrap();
            assert_eq!(json["subject"], format!("Task {} in batch", index + 1));
        }
        assert_eq!(request(&parts[1]).method, Method::GET);
    }
}

/// "Reference URIs in URL and request body using @odata.id": unquoted boundary without a space
/// in the outer Content-Type, `Name:value` part headers, absolute URLs, `$1` URL references and
/// bodies followed by an empty line.
const DOC_REFERENCE_URIS: &str = r#"--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:1

POST https://contoso.crm.dynamics.com/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{ "name":"Account Name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:2

POST https://contoso.crm.dynamics.com/api/data/v9.2/contacts HTTP/1.1
Content-Type:application/json

{ "firstname":"Contact first name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:3

PUT $1/primarycontactid/$ref HTTP/1.1
Content-Type:application/json

{"@odata.id":"$2"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--
--batch_AAA123--
"#;

#[test]
fn doc_reference_uris_example_parses_absolute_and_content_id_urls() {
    let parts = parse_request(
        "multipart/mixed;boundary=batch_AAA123",
        DOC_REFERENCE_URIS.as_bytes(),
    )
    .unwrap();
    assert_eq!(parts.len(), 1);
    let operations = change_set(&parts[0]);
    let summary: Vec<_> = operations
        .iter()
        .map(|op| {
            (
                op.content_id.as_deref(),
                op.method.as_str(),
                op.url.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some("1"),
                "POST",
                "https://contoso.crm.dynamics.com/api/data/v9.2/accounts"
            ),
            (
                Some("2"),
                "POST",
                "https://contoso.crm.dynamics.com/api/data/v9.2/contacts"
            ),
            (Some("3"), "PUT", "$1/primarycontactid/$ref"),
        ]
    );
    // The empty line after each body is body content (RFC 2046 gives only the last line break
    // to the delimiter).
    assert_eq!(
        operations[0].body,
        "{ \"name\":\"Account Name\"}\n".as_bytes()
    );
    assert_eq!(operations[2].body, "{\"@odata.id\":\"$2\"}\n".as_bytes());
    assert_eq!(
        header(&operations[1], "content-type"),
        Some("application/json")
    );
}

#[test]
fn doc_url_reference_example_with_swapped_part_headers_parses() {
    let body = "--batch_AAA123\n\
        Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab\n\
        \n\
        --changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab\n\
        Content-Transfer-Encoding: binary\n\
        Content-Type: application/http\n\
        Content-ID: 2\n\
        \n\
        PUT $1/lastname HTTP/1.1\n\
        Content-Type: application/json\n\
        \n\
        {\n  \"value\":\"BBBBB\"\n}\n\
        \n\
        --changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--\n\
        --batch_AAA123--\n";
    let parts = parse_request("multipart/mixed;boundary=batch_AAA123", body.as_bytes()).unwrap();
    let put = &change_set(&parts[0])[0];
    assert_eq!(
        (put.method.as_str(), put.url.as_str()),
        ("PUT", "$1/lastname")
    );
    assert_eq!(put.content_id.as_deref(), Some("2"));
}

/// The docs' error-handling example carries a part-level `Content-Length` (the size of the
/// whole part, not of the inner body); it must not cut the inner body short.
#[test]
fn part_level_content_length_is_ignored() {
    let body = lf_to_crlf(
        "--batch_431faf5a\n\
         Content-Type: application/http\n\
         Content-Transfer-Encoding: binary\n\
         Content-Length: 5\n\
         \n\
         POST /api/data/v9.2/tasks HTTP/1.1\n\
         Content-Type: application/json; type=entry\n\
         \n\
         {\"subject\": \"Task 2 in batch\"}\n\
         --batch_431faf5a--\n",
    );
    let parts = parse_request(
        "multipart/mixed; boundary=\"batch_431faf5a\"",
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        request(&parts[0]).body,
        "{\"subject\": \"Task 2 in batch\"}".as_bytes()
    );
}

// -------------------------------------------------------------------------------------------
// PowerPlatform-Dataverse-Client 1.1.0: the exact bytes `_BatchBase._build_batch_body` produces
// for: create account; get account with $select and an annotation Prefer header; a change set
// creating a contact (Content-ID 1) then updating `$1` (Content-ID 2) then deleting another
// contact (Content-ID 3). `_serialize_raw_request` joins part headers with CRLF, adds an empty
// line, the request line, `Content-Type: application/json; type=entry` when there is a body,
// extra headers, an empty line and the body, and ends each part with CRLF.
// -------------------------------------------------------------------------------------------

const SDK_BATCH_BOUNDARY: &str = "batch_0f8fad5b-d9cb-469f-a165-70867728950e";
const SDK_CHANGE_SET_BOUNDARY: &str = "changeset_7c9e6679-7425-40de-944b-e07fc1f90ae7";

fn python_sdk_body() -> String {
    let b = SDK_BATCH_BOUNDARY;
    let c = SDK_CHANGE_SET_BOUNDARY;
    let api = format!("{ORG}/api/data/v9.2");
    [
        // _serialize_raw_request(create)
        format!("--{b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
        format!("POST {api}/accounts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"),
        "{\"name\": \"Contoso\", \"telephone1\": \"555-0100\"}\r\n".to_owned(),
        // _serialize_raw_request(get): no body, so the inner lines end in "" and the part ends
        // with the request headers followed by CRLF CRLF.
        format!("--{b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
        format!("GET {api}/accounts(9b1f6c6e-1f2c-4a57-9d3f-1c2d3e4f5a6b)?$select=name,telephone1 HTTP/1.1\r\n"),
        "Prefer: odata.include-annotations=\"*\"\r\n\r\n".to_owned(),
        // _serialize_changeset_item
        format!("--{b}\r\nContent-Type: multipart/mixed; boundary=\"{c}\"\r\n\r\n"),
        format!("--{c}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"),
        format!("POST {api}/contacts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"),
        "{\"firstname\": \"Ana\", \"lastname\": \"Lima\"}\r\n".to_owned(),
        format!("--{c}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"),
        "PATCH $1 HTTP/1.1\r\nContent-Type: application/json; type=entry\r\nIf-Match: *\r\n\r\n".to_owned(),
        "{\"jobtitle\": \"CTO\"}\r\n".to_owned(),
        format!("--{c}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 3\r\n\r\n"),
        format!("DELETE {api}/contacts(2c9e6679-7425-40de-944b-e07fc1f90ae7) HTTP/1.1\r\nIf-Match: *\r\n\r\n"),
        format!("--{c}--\r\n\r\n"),
        format!("--{b}--\r\n"),
    ]
    .concat()
}

#[test]
fn python_sdk_batch_parses_exactly() {
    let content_type = format!("multipart/mixed; boundary=\"{SDK_BATCH_BOUNDARY}\"");
    let parts = parse_request(&content_type, python_sdk_body().as_bytes()).unwrap();
    assert_eq!(parts.len(), 3);

    let create = request(&parts[0]);
    assert_eq!(create.method, Method::POST);
    assert_eq!(create.url, format!("{ORG}/api/data/v9.2/accounts"));
    assert_eq!(
        create.body,
        "{\"name\": \"Contoso\", \"telephone1\": \"555-0100\"}".as_bytes()
    );

    let get = request(&parts[1]);
    assert_eq!(get.method, Method::GET);
    assert_eq!(
        get.url,
        format!(
            "{ORG}/api/data/v9.2/accounts(9b1f6c6e-1f2c-4a57-9d3f-1c2d3e4f5a6b)?$select=name,telephone1"
        )
    );
    assert_eq!(
        header(get, "prefer"),
        Some("odata.include-annotations=\"*\"")
    );
    assert!(get.body.is_empty());

    let writes = change_set(&parts[2]);
    let summary: Vec<_> = writes
        .iter()
        .map(|op| {
            (
                op.content_id.as_deref(),
                op.method.as_str(),
                header(op, "if-match"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("1"), "POST", None),
            (Some("2"), "PATCH", Some("*")),
            (Some("3"), "DELETE", Some("*")),
        ]
    );
    assert_eq!(writes[1].url, "$1");
    assert_eq!(writes[1].body, "{\"jobtitle\": \"CTO\"}".as_bytes());
    assert!(writes[2].body.is_empty());
    assert_eq!(writes[2].headers.len(), 1);
}

// -------------------------------------------------------------------------------------------
// Tolerated variations
// -------------------------------------------------------------------------------------------

#[test]
fn preamble_epilogue_and_transport_padding_are_ignored() {
    let body = "This is a preamble --batch_x not a delimiter\r\n\
                --batch_x \t\r\n\
                Content-Type: application/http\r\n\
                Content-Transfer-Encoding: BINARY\r\n\
                \r\n\
                \r\n\
                DELETE /api/data/v9.2/tasks(1) HTTP/1.1\r\n\
                \r\n\
                --batch_x-- \r\n\
                epilogue, ignored\r\n\
                --batch_x\r\n";
    let parts = parse_request(
        "Multipart/Mixed; charset=utf-8; BOUNDARY=batch_x",
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(parts.len(), 1);
    let delete = request(&parts[0]);
    assert_eq!(
        (delete.method.as_str(), delete.url.as_str()),
        ("DELETE", "/api/data/v9.2/tasks(1)")
    );
}

#[test]
fn boundary_lookalikes_inside_bodies_stay_in_the_body() {
    let json = "{\"description\": \"--batch_x\\n\"}\r\nsee --batch_x and\r\n--batch_xy\r\n--batch_x-- later";
    let body = format!(
        "--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
         POST /api/data/v9.2/notes HTTP/1.1\r\n\r\n{json}\r\n--batch_x--"
    );
    let parts = parse_request("multipart/mixed; boundary=batch_x", body.as_bytes()).unwrap();
    assert_eq!(request(&parts[0]).body, json.as_bytes());
}

#[test]
fn urls_with_spaces_are_taken_between_the_first_and_last_space() {
    let body = "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                GET /api/data/v9.2/accounts?$filter=name eq 'A B' HTTP/1.1\r\n\r\n--b--\r\n";
    let parts = parse_request("multipart/mixed; boundary=b", body.as_bytes()).unwrap();
    assert_eq!(
        request(&parts[0]).url,
        "/api/data/v9.2/accounts?$filter=name eq 'A B'"
    );
}

#[test]
fn inner_content_length_bounds_the_body() {
    let body = "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                POST /api/data/v9.2/tasks HTTP/1.1\r\nContent-Length: 4\r\n\r\n{\"a\"trailing\r\n--b--\r\n";
    let parts = parse_request("multipart/mixed; boundary=b", body.as_bytes()).unwrap();
    assert_eq!(request(&parts[0]).body, "{\"a\"".as_bytes());
}

#[test]
fn quoted_boundary_with_escapes_and_special_characters() {
    let boundary = "b'()+_,-./:=? x";
    let body = format!(
        "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
         GET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n--{boundary}--\r\n"
    );
    let content_type = "multipart/mixed; boundary=\"b'()+_,-./:=\\? x\"";
    let parts = parse_request(content_type, body.as_bytes()).unwrap();
    assert_eq!(request(&parts[0]).url, "/api/data/v9.2/WhoAmI");
}

#[test]
fn empty_batch_and_empty_change_set_are_accepted() {
    assert_eq!(
        parse_request("multipart/mixed; boundary=b", b"--b--\r\n").unwrap(),
        []
    );
    let body = "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--b--\r\n";
    assert_eq!(
        parse_request("multipart/mixed; boundary=b", body.as_bytes()).unwrap(),
        [RequestPart::ChangeSet(Vec::new())]
    );
}

// -------------------------------------------------------------------------------------------
// Malformed requests
// -------------------------------------------------------------------------------------------

fn operation(method_and_url: &str) -> String {
    format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
         {method_and_url} HTTP/1.1\r\n\r\n"
    )
}

fn batch_of(parts: &[String]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str("--b\r\n");
        body.push_str(part);
        body.push_str("\r\n");
    }
    body.push_str("--b--\r\n");
    body
}

fn change_set_of(operations: &[String]) -> String {
    let mut body = String::from("Content-Type: multipart/mixed; boundary=c\r\n\r\n");
    for operation in operations {
        body.push_str("--c\r\n");
        body.push_str(operation);
        body.push_str("\r\n");
    }
    body.push_str("--c--");
    body
}

fn with_content_id(id: &str, method_and_url: &str) -> String {
    format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {id}\r\n\r\n\
         {method_and_url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{}}"
    )
}

const CT: &str = "multipart/mixed; boundary=b";

#[test]
fn rejects_bad_outer_content_types() {
    let body = batch_of(&[operation("GET /api/data/v9.2/WhoAmI")]);
    assert_eq!(
        error_of("application/json", &body),
        "The content type 'application/json' is not supported for $batch. A batch request must \
         be sent as 'multipart/mixed' with a 'boundary' parameter."
    );
    assert!(error_of("", &body).contains("is not supported for $batch"));
    assert_eq!(
        error_of("multipart/mixed", &body),
        "The content type 'multipart/mixed' specifies a batch payload; however, the payload \
         either does not include a batch boundary or includes more than one boundary. In OData, \
         batch payload content types must specify exactly one batch boundary in the 'boundary' \
         parameter of the content type."
    );
    assert!(
        error_of("multipart/mixed; boundary=b; boundary=c", &body)
            .contains("includes more than one boundary")
    );
    assert!(error_of("multipart/mixed; boundary=\"b", &body).contains("is not supported"));
    assert!(error_of("multipart/mixed; boundary=\"\"", &body).contains("between 1 and 70"));
    let long = "x".repeat(71);
    assert!(
        error_of(&format!("multipart/mixed; boundary={long}"), &body).contains("between 1 and 70")
    );
}

#[test]
fn rejects_a_body_without_delimiters_or_without_its_closing_delimiter() {
    assert_eq!(
        error_of(CT, "just some text\r\n"),
        "The batch body contains no '--b' delimiter line."
    );
    assert_eq!(
        error_of(CT, ""),
        "The batch body contains no '--b' delimiter line."
    );
    let missing_close = format!("--b\r\n{}", operation("GET /api/data/v9.2/WhoAmI"));
    assert_eq!(
        error_of(CT, &missing_close),
        "The batch body ends without its closing delimiter '--b--'; the body is truncated."
    );
    let full = batch_of(&[operation("GET /api/data/v9.2/WhoAmI")]);
    for cut in 1..full.len() - "--b--\r\n".len() {
        assert!(
            parse_request(CT, &full.as_bytes()[..cut]).is_err(),
            "a body truncated to {cut} bytes must not parse"
        );
    }
    let open_change_set = batch_of(&["Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n"
        .to_owned()
        + &with_content_id("1", "POST /api/data/v9.2/tasks")]);
    assert_eq!(
        error_of(CT, &open_change_set),
        "The change set body ends without its closing delimiter '--c--'; the body is truncated."
    );
}

#[test]
fn rejects_bad_part_headers() {
    let no_content_type = "Content-Transfer-Encoding: binary\r\n\r\nGET /x HTTP/1.1\r\n";
    assert_eq!(
        error_of(CT, &batch_of(&[no_content_type.to_owned()])),
        "The 'Content-Type' header is missing. The 'Content-Type' header must be specified for \
         each MIME part of a batch message."
    );
    let text_part = "Content-Type: text/plain\r\n\r\nhello";
    assert_eq!(
        error_of(CT, &batch_of(&[text_part.to_owned()])),
        "The 'Content-Type' header value 'text/plain' is invalid. When this is the start of the \
         change set, the value must be 'multipart/mixed'; otherwise it must be 'application/http'."
    );
    let not_binary = "Content-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n\r\nGET /x HTTP/1.1\r\n";
    assert_eq!(
        error_of(CT, &batch_of(&[not_binary.to_owned()])),
        "A missing or invalid 'Content-Transfer-Encoding' header was found. The \
         'Content-Transfer-Encoding' header must be specified for each batch operation, and its \
         value must be 'binary'."
    );
    let no_colon = "Content-Type application/http\r\n\r\nGET /x HTTP/1.1\r\n";
    assert_eq!(
        error_of(CT, &batch_of(&[no_colon.to_owned()])),
        "The message header 'Content-Type application/http' is invalid. The header value must be \
         of the format '<header name>: <header value>'."
    );
    let duplicate = format!("Content-ID: 1\r\nContent-ID: 2\r\n{}", operation("GET /x"));
    assert_eq!(
        error_of(CT, &batch_of(&[duplicate])),
        "The header 'Content-ID' was specified multiple times. Each header must appear only once \
         in a batch part."
    );
    let no_request_line =
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\r\n";
    assert_eq!(
        error_of(CT, &batch_of(&[no_request_line.to_owned()])),
        "A batch operation ends before its request line ('METHOD URL HTTP/1.1')."
    );
}

#[test]
fn rejects_bad_request_lines() {
    let cases = [
        (
            "GET",
            "The request line 'GET HTTP/1.1' is invalid. The request line at the start of each \
             operation must be of the format 'HttpMethod RequestUrl HttpVersion'.",
        ),
        (
            "GET /x HTTP/1.0\r\nX: y",
            "The HTTP version 'HTTP/1.0' used in a batch operation request or response is not \
             valid. The value must be 'HTTP/1.1'.",
        ),
        (
            "get /x",
            "The string 'get' cannot be converted into a supported HTTP method. The only \
             supported HTTP methods are GET, DELETE, PUT, POST and PATCH.",
        ),
        (
            "MERGE /x",
            "The string 'MERGE' cannot be converted into a supported HTTP method. The only \
             supported HTTP methods are GET, DELETE, PUT, POST and PATCH.",
        ),
        (
            "POST /api/data/v9.2/$batch",
            "Batch requests cannot contain other batch requests.",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(
            error_of(CT, &batch_of(&[operation(line)])),
            expected,
            "{line}"
        );
    }
    let no_version =
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /x\r\n";
    assert!(
        error_of(CT, &batch_of(&[no_version.to_owned()]))
            .contains("The request line 'GET /x' is invalid")
    );
}

#[test]
fn rejects_bad_inner_headers_and_lengths() {
    let body_without_blank_line = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
        POST /x HTTP/1.1\r\nContent-Type: application/json\r\n{\"a\": 1}";
    assert!(
        error_of(CT, &batch_of(&[body_without_blank_line.to_owned()]))
            .starts_with("The message header '{\"a\": 1}' is invalid.")
    );
    let bad_name = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
        POST /x HTTP/1.1\r\nBad Name: y\r\n\r\n";
    assert!(
        error_of(CT, &batch_of(&[bad_name.to_owned()]))
            .starts_with("The message header 'Bad Name: y'")
    );
    for (length, expected) in [
        ("-1", "The content length header '-1' is not valid."),
        ("ten", "The content length header 'ten' is not valid."),
        (
            "3000000000",
            "The content length header '3000000000' is not valid.",
        ),
        (
            "50",
            "A batch operation declares 'Content-Length: 50' but its body has only 2 bytes; the \
             body is truncated.",
        ),
    ] {
        let part = format!(
            "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             POST /x HTTP/1.1\r\nContent-Length: {length}\r\n\r\n{{}}"
        );
        assert!(
            error_of(CT, &batch_of(&[part])).starts_with(expected),
            "{length}"
        );
    }
}

#[test]
fn rejects_absurd_header_sizes_and_urls() {
    let many_headers: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let part = format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
         GET /x HTTP/1.1\r\n{many_headers}\r\n"
    );
    let too_large = "The headers of a batch part are too large: at most 100 headers and 65536 \
                     bytes are allowed.";
    assert_eq!(error_of(CT, &batch_of(&[part])), too_large);
    let huge_value = format!("X-Big: {}\r\n{}", "v".repeat(70_000), operation("GET /x"));
    assert_eq!(error_of(CT, &batch_of(&[huge_value])), too_large);

    let ok_url = format!("/api/data/v9.2/accounts?fetchXml={}", "a".repeat(60_000));
    assert!(
        parse_request(
            CT,
            batch_of(&[operation(&format!("GET {ok_url}"))]).as_bytes()
        )
        .is_ok()
    );
    let long_url = format!("/api/data/v9.2/accounts?fetchXml={}", "a".repeat(70_000));
    assert_eq!(
        error_of(CT, &batch_of(&[operation(&format!("GET {long_url}"))])),
        "The URL of a batch operation is longer than the 65536 characters allowed."
    );
}

#[test]
fn rejects_what_change_sets_may_not_hold() {
    let get = batch_of(&[change_set_of(&[operation("GET /api/data/v9.2/accounts")])]);
    assert_eq!(
        error_of(CT, &get),
        "An invalid HTTP method 'GET' was detected for a request in a change set. Requests in \
         change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'."
    );
    let nested = batch_of(&[change_set_of(&[
        "Content-Type: multipart/mixed; boundary=d\r\n\r\n--d--".to_owned(),
    ])]);
    assert_eq!(
        error_of(CT, &nested),
        "Nested change sets in a batch payload are not supported."
    );
    let duplicate_ids = batch_of(&[change_set_of(&[
        with_content_id("1", "POST /api/data/v9.2/tasks"),
        with_content_id("1", "POST /api/data/v9.2/notes"),
    ])]);
    assert_eq!(
        error_of(CT, &duplicate_ids),
        "The content ID '1' was found more than once in the same change set. Content IDs have to \
         be unique across all operations of a change set."
    );
    // The same id in two different change sets is the change sets' own business.
    let two_sets = batch_of(&[
        change_set_of(&[with_content_id("1", "POST /api/data/v9.2/tasks")]),
        change_set_of(&[with_content_id("1", "POST /api/data/v9.2/tasks")]),
    ]);
    assert!(parse_request(CT, two_sets.as_bytes()).is_ok());
}

#[test]
fn enforces_the_1000_operation_limit_counting_change_set_operations() {
    let get = operation("GET /api/data/v9.2/WhoAmI");
    let post = |i: usize| with_content_id(&i.to_string(), "POST /api/data/v9.2/tasks");
    let batch_message = "The current batch message contains too many parts. Only batch messages \
                         with a maximum number of '1000' query operations, including changeset \
                         operations, are allowed.";

    let exactly_1000 = batch_of(&vec![get.clone(); 1000]);
    assert_eq!(
        parse_request(CT, exactly_1000.as_bytes()).unwrap().len(),
        1000
    );

    assert_eq!(
        error_of(CT, &batch_of(&vec![get.clone(); 1001])),
        batch_message
    );

    let mut mixed = vec![get.clone(); 10];
    mixed.push(change_set_of(&(0..991).map(post).collect::<Vec<_>>()));
    assert_eq!(error_of(CT, &batch_of(&mixed)), batch_message);
    mixed.pop();
    mixed.push(change_set_of(&(0..990).map(post).collect::<Vec<_>>()));
    assert!(parse_request(CT, batch_of(&mixed).as_bytes()).is_ok());

    let big_change_set = batch_of(&[change_set_of(&(0..1001).map(post).collect::<Vec<_>>())]);
    assert_eq!(
        error_of(CT, &big_change_set),
        "The current change set contains too many operations. A maximum number of '1000' \
         operations are allowed in a change set."
    );
}

#[test]
fn error_messages_quote_at_most_a_short_excerpt() {
    let line = format!("{} /x", "Z".repeat(5000));
    let message = error_of(CT, &batch_of(&[operation(&line)]));
    assert!(message.len() < 400, "{message}");
    assert!(message.contains("ZZZ…'"));
}

/// Inputs built to trip naive parsers into quadratic rescans. Release builds are far faster;
/// the bound here is for an unoptimised test build on a loaded machine.
#[test]
fn adversarial_bodies_are_handled_in_linear_time() {
    const SIZE: usize = 16 * 1024 * 1024;
    let near_delimiters = "--b-\r\n--bb\r\n-\r\n".repeat(SIZE / 15);
    let one_long_line = "-".repeat(SIZE);
    let open_part = format!(
        "--b\r\nContent-Type: application/http\r\n{}",
        "x\r\n--b-\r\n".repeat(SIZE / 10)
    );
    let deep_change_set = format!(
        "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n{}--b--\r\n",
        "--c-\r\n".repeat(SIZE / 6)
    );
    for body in [near_delimiters, one_long_line, open_part, deep_change_set] {
        let started = Instant::now();
        assert!(parse_request(CT, body.as_bytes()).is_err());
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }
}

// -------------------------------------------------------------------------------------------
// Responses
// -------------------------------------------------------------------------------------------

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn created(content_id: &str, id: &str) -> InnerResponse {
    let url = format!("{ORG}/api/data/v9.2/tasks({id})");
    InnerResponse {
        content_id: Some(content_id.to_owned()),
        status: StatusCode::NO_CONTENT,
        headers: headers(&[
            ("OData-Version", "4.0"),
            ("Location", url.as_str()),
            ("OData-EntityId", url.as_str()),
        ]),
        body: Bytes::new(),
    }
}

const TASKS_JSON: &str = "{\"@odata.context\":\"https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#tasks(subject)\",\"value\":[{\"@odata.etag\":\"W/\\\"77181173\\\"\",\"subject\":\"Task 1 in batch\",\"activityid\":\"e73ffc82-e292-ed11-aad1-000d3a9933c9\"}]}";

fn doc_like_response() -> Vec<ResponsePart> {
    vec![
        ResponsePart::ChangeSet(vec![
            created("1", "e73ffc82-e292-ed11-aad1-000d3a9933c9"),
            created("2", "e83ffc82-e292-ed11-aad1-000d3a9933c9"),
        ]),
        ResponsePart::Response(InnerResponse {
            content_id: None,
            status: StatusCode::OK,
            headers: headers(&[
                (
                    "Content-Type",
                    "application/json; odata.metadata=minimal; odata.streaming=true",
                ),
                ("OData-Version", "4.0"),
            ]),
            body: Bytes::from_static(TASKS_JSON.as_bytes()),
        }),
    ]
}

/// The docs' change set response, byte for byte (with CRLF), but for ids and the body.
#[test]
fn response_framing_matches_the_docs() {
    let body = write_response_with(
        "batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f",
        &doc_like_response(),
        || "changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15".to_owned(),
    );
    let expected = [
        "--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f",
        "Content-Type: multipart/mixed; boundary=changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15",
        "",
        "--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 1",
        "",
        "HTTP/1.1 204 No Content",
        "OData-Version: 4.0",
        "Location: https://contoso.crm.dynamics.com/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)",
        "OData-EntityId: https://contoso.crm.dynamics.com/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)",
        "",
        "",
        "--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 2",
        "",
        "HTTP/1.1 204 No Content",
        "OData-Version: 4.0",
        "Location: https://contoso.crm.dynamics.com/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)",
        "OData-EntityId: https://contoso.crm.dynamics.com/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)",
        "",
        "",
        "--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15--",
        "--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "HTTP/1.1 200 OK",
        "Content-Type: application/json; odata.metadata=minimal; odata.streaming=true",
        "OData-Version: 4.0",
        "",
        TASKS_JSON,
        "--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f--",
        "",
    ]
    .join("\r\n");
    assert_eq!(String::from_utf8(body).unwrap(), expected);
}

#[test]
fn error_response_matches_the_docs_and_top_level_parts_carry_no_content_id() {
    let error =
        "{\"error\":{\"code\":\"0x80044331\",\"message\":\"A validation error occurred.\"}}";
    let parts = [ResponsePart::Response(InnerResponse {
        content_id: Some("7".to_owned()),
        status: StatusCode::BAD_REQUEST,
        headers: headers(&[
            ("REQ_ID", "5ecd1cb3-1730-4ffc-909c-d44c22270026"),
            ("Content-Type", "application/json; odata.metadata=minimal"),
            ("OData-Version", "4.0"),
        ]),
        body: Bytes::from_static(error.as_bytes()),
    })];
    let body = write_response("batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a", &parts);
    let expected = [
        "--batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "HTTP/1.1 400 Bad Request",
        "REQ_ID: 5ecd1cb3-1730-4ffc-909c-d44c22270026",
        "Content-Type: application/json; odata.metadata=minimal",
        "OData-Version: 4.0",
        "",
        error,
        "--batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a--",
        "",
    ]
    .join("\r\n");
    assert_eq!(String::from_utf8(body).unwrap(), expected);
}

#[test]
fn empty_responses_are_framed_like_odl() {
    assert_eq!(
        write_response("batchresponse_1", &[]),
        b"--batchresponse_1--\r\n"
    );
    let body = write_response_with(
        "batchresponse_1",
        &[ResponsePart::ChangeSet(Vec::new())],
        || "changesetresponse_2".to_owned(),
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n\
         --changesetresponse_2--\r\n--batchresponse_1--\r\n"
    );
}

#[test]
fn change_set_boundaries_are_fresh_guids() {
    let body = String::from_utf8(write_response("batchresponse_x", &doc_like_response())).unwrap();
    let boundary = body
        .split("boundary=changesetresponse_")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .unwrap();
    assert!(uuid::Uuid::parse_str(boundary).is_ok(), "{boundary}");
}

/// What the Python SDK 1.1.0 makes of one response item: status, Content-ID, `OData-EntityId`
/// and the JSON object body (`BatchItemResponse.data`, or the error).
type SdkItem = (
    u16,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
);

/// A port of the Python SDK 1.1.0 response parser (`_extract_boundary`, `_split_multipart`,
/// `_parse_mime_part`, `_parse_http_response_part`).
fn sdk_parse(content_type: &str, body: &str) -> Vec<SdkItem> {
    fn boundary_of(content_type: &str) -> Option<String> {
        let lower = content_type.to_ascii_lowercase();
        let start = lower.find("boundary=")? + "boundary=".len();
        let rest = content_type[start..].trim_start_matches('"');
        let end = rest
            .find(|c: char| c == '"' || c == ';' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }
    fn split(body: &str, boundary: &str) -> Vec<(Vec<(String, String)>, String)> {
        let delimiter = format!("--{boundary}");
        let normalized = body.replace("\r\n", "\n");
        let mut parts = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        let mut in_part = false;
        for line in normalized.split('\n') {
            let stripped = line.trim_end_matches('\r');
            if stripped == delimiter {
                if in_part && !current.is_empty() {
                    parts.push(mime_part(&current.join("\n")));
                    current.clear();
                }
                in_part = true;
            } else if stripped == format!("{delimiter}--") {
                if in_part && !current.is_empty() {
                    parts.push(mime_part(&current.join("\n")));
                }
                break;
            } else if in_part {
                current.push(line);
            }
        }
        parts
    }
    fn mime_part(raw: &str) -> (Vec<(String, String)>, String) {
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
        let headers = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (headers, body.trim().to_owned())
    }
    fn get(headers: &[(String, String)], name: &str) -> Option<String> {
        headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
    fn http_part(text: &str, content_id: Option<String>) -> Option<SdkItem> {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.starts_with("HTTP/"))?;
        let status = lines[at].split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        let mut body_start = at + 1;
        for (i, line) in lines.iter().enumerate().skip(at + 1) {
            if line.is_empty() {
                body_start = i + 1;
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let body = lines.get(body_start..).unwrap_or_default().join("\n");
        let json = serde_json::from_str::<serde_json::Value>(body.trim())
            .ok()
            .filter(serde_json::Value::is_object);
        Some((status, content_id, get(&headers, "odata-entityid"), json))
    }

    let boundary = boundary_of(content_type).unwrap();
    let mut items = Vec::new();
    for (headers, body) in split(body, &boundary) {
        let part_type = get(&headers, "content-type").unwrap_or_default();
        if part_type.contains("multipart/mixed") {
            let inner = boundary_of(&part_type).unwrap();
            for (inner_headers, inner_body) in split(&body, &inner) {
                items.extend(http_part(&inner_body, get(&inner_headers, "content-id")));
            }
        } else {
            items.extend(http_part(&body, get(&headers, "content-id")));
        }
    }
    items
}

#[test]
fn python_sdk_parser_reads_our_responses() {
    let boundary = "batchresponse_4b0e0c1a-8f4e-4a53-9d7e-2a1b3c4d5e6f";
    let body = String::from_utf8(write_response(boundary, &doc_like_response())).unwrap();
    let items = sdk_parse(&format!("multipart/mixed; boundary={boundary}"), &body);
    let task = |id: &str| Some(format!("{ORG}/api/data/v9.2/tasks({id})"));
    let tasks: serde_json::Value = serde_json::from_str(TASKS_JSON).unwrap();
    assert_eq!(
        items,
        [
            (
                204,
                Some("1".into()),
                task("e73ffc82-e292-ed11-aad1-000d3a9933c9"),
                None
            ),
            (
                204,
                Some("2".into()),
                task("e83ffc82-e292-ed11-aad1-000d3a9933c9"),
                None
            ),
            (200, None, None, Some(tasks)),
        ]
    );
}

// -------------------------------------------------------------------------------------------
// Property tests
// -------------------------------------------------------------------------------------------

/// How the test-side writer frames a batch; every variant is one real clients or RFC 2046 allow.
#[derive(Debug, Clone)]
struct Style {
    crlf: bool,
    quote_boundaries: bool,
    padding: bool,
    preamble: String,
    epilogue: String,
}

/// A generated request, headers kept with their original spelling for the writer.
#[derive(Debug, Clone)]
struct Operation {
    content_id: Option<String>,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Part {
    Operation(Operation),
    ChangeSet(String, Vec<Operation>),
}

#[derive(Debug, Clone)]
struct Batch {
    boundary: String,
    parts: Vec<Part>,
    style: Style,
}

impl Operation {
    fn expected(&self) -> InnerRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        InnerRequest {
            content_id: self.content_id.clone(),
            method: self.method.clone(),
            url: self.url.clone(),
            headers,
            body: Bytes::from(self.body.clone()),
        }
    }

    fn write(&self, out: &mut Vec<u8>, eol: &str) {
        let mut text =
            format!("Content-Type: application/http{eol}Content-Transfer-Encoding: binary{eol}");
        if let Some(id) = &self.content_id {
            text.push_str(&format!("Content-ID: {id}{eol}"));
        }
        text.push_str(&format!("{eol}{} {} HTTP/1.1{eol}", self.method, self.url));
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}{eol}"));
        }
        text.push_str(eol);
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&self.body);
    }
}

impl Batch {
    fn content_type(&self) -> String {
        if self.style.quote_boundaries {
            format!("multipart/mixed; boundary=\"{}\"", self.boundary)
        } else {
            format!("multipart/mixed;boundary={}", self.boundary)
        }
    }

    fn expected(&self) -> Vec<RequestPart> {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Operation(op) => RequestPart::Request(op.expected()),
                Part::ChangeSet(_, ops) => {
                    RequestPart::ChangeSet(ops.iter().map(Operation::expected).collect())
                }
            })
            .collect()
    }

    fn serialize(&self) -> Vec<u8> {
        let eol = if self.style.crlf { "\r\n" } else { "\n" };
        let pad = if self.style.padding { " \t" } else { "" };
        let mut out = Vec::new();
        if !self.style.preamble.is_empty() {
            out.extend_from_slice(self.style.preamble.as_bytes());
            out.extend_from_slice(eol.as_bytes());
        }
        for part in &self.parts {
            out.extend_from_slice(format!("--{}{pad}{eol}", self.boundary).as_bytes());
            match part {
                Part::Operation(op) => op.write(&mut out, eol),
                Part::ChangeSet(boundary, ops) => {
                    let quoted = if self.style.quote_boundaries {
                        format!("\"{boundary}\"")
                    } else {
                        boundary.clone()
                    };
                    out.extend_from_slice(
                        format!("Content-Type: multipart/mixed; boundary={quoted}{eol}{eol}")
                            .as_bytes(),
                    );
                    for op in ops {
                        out.extend_from_slice(format!("--{boundary}{pad}{eol}").as_bytes());
                        op.write(&mut out, eol);
                        out.extend_from_slice(eol.as_bytes());
                    }
                    out.extend_from_slice(format!("--{boundary}--").as_bytes());
                }
            }
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(format!("--{}--{pad}{eol}", self.boundary).as_bytes());
        out.extend_from_slice(self.style.epilogue.as_bytes());
        out
    }

    /// Breaks any line that would read as one of our delimiters (the writer's job in RFC 2046),
    /// and, with LF framing, a body-final CR that would merge into the delimiter's line break.
    fn sanitize(&mut self) {
        let mut boundaries = vec![self.boundary.clone()];
        for part in &self.parts {
            if let Part::ChangeSet(boundary, _) = part {
                boundaries.push(boundary.clone());
            }
        }
        let crlf = self.style.crlf;
        let fix = |bytes: &mut Vec<u8>| {
            let mut line_start = 0;
            for i in 0..=bytes.len() {
                if i == bytes.len() || bytes[i] == b'\n' {
                    let line = &bytes[line_start..i];
                    if boundaries
                        .iter()
                        .any(|b| line.starts_with(format!("--{b}").as_bytes()))
                    {
                        bytes[line_start] = b'~';
                    }
                    line_start = i + 1;
                }
            }
            if !crlf && bytes.last() == Some(&b'\r') {
                bytes.push(b'.');
            }
        };
        for part in &mut self.parts {
            match part {
                Part::Operation(op) => fix(&mut op.body),
                Part::ChangeSet(_, ops) => ops.iter_mut().for_each(|op| fix(&mut op.body)),
            }
        }
        let mut preamble = std::mem::take(&mut self.style.preamble).into_bytes();
        fix(&mut preamble);
        self.style.preamble = String::from_utf8(preamble).unwrap();
        let mut epilogue = std::mem::take(&mut self.style.epilogue).into_bytes();
        fix(&mut epilogue);
        self.style.epilogue = String::from_utf8(epilogue).unwrap();
    }
}

fn boundary_strategy(prefix: &'static str) -> impl Strategy<Value = String> {
    "[A-Za-z0-9'()+_,./:=?-]{0,40}".prop_map(move |tail| format!("{prefix}{tail}"))
}

fn url_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,12}(\\([0-9a-f-]{1,36}\\))?".prop_map(|p| format!("{ORG}/api/data/v9.2/{p}")),
        "[a-z]{1,12}(\\?\\$select=[a-z,]{1,20})?".prop_map(|p| format!("/api/data/v9.2/{p}")),
        "[a-z]{1,12}\\?\\$filter=name eq '[A-Za-z ]{0,10}'"
            .prop_map(|p| format!("/api/data/v9.2/{p}")),
        "\\$[1-9][0-9]{0,2}(/[a-z_]{1,10})?",
        "[a-z]{1,12}/Microsoft\\.Dynamics\\.CRM\\.CreateMultiple",
    ]
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"--batch_".to_vec()),
        Just(b"x--batch_".to_vec()),
        Just(b"--changeset_".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"--".to_vec()),
        "[ -~]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(fragment, 0..8).prop_map(|fragments| fragments.concat())
}

fn headers_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[a-z][a-z0-9-]{0,12}", "[!-~]([ -~]{0,20}[!-~])?", 0..4)
        .prop_flat_map(|map| {
            let pairs: Vec<_> = map
                .into_iter()
                .filter(|(name, _)| name != "content-length")
                .collect();
            let count = pairs.len();
            (Just(pairs), proptest::collection::vec(any::<bool>(), count))
        })
        .prop_map(|(pairs, upper)| {
            pairs
                .into_iter()
                .zip(upper)
                .map(|((name, value), upper)| {
                    let name = if upper {
                        name.to_ascii_uppercase()
                    } else {
                        name
                    };
                    (name, value)
                })
                .collect()
        })
}

fn operation_strategy(in_change_set: bool) -> impl Strategy<Value = Operation> {
    let method = if in_change_set {
        prop_oneof![
            Just(Method::POST),
            Just(Method::PATCH),
            Just(Method::PUT),
            Just(Method::DELETE)
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PATCH),
            Just(Method::PUT),
            Just(Method::DELETE)
        ]
        .boxed()
    };
    (
        proptest::option::of("[A-Za-z0-9]{1,8}"),
        method,
        url_strategy(),
        headers_strategy(),
        body_strategy(),
    )
        .prop_map(|(content_id, method, url, headers, body)| Operation {
            content_id,
            method,
            url,
            headers,
            body,
        })
}

fn part_strategy() -> impl Strategy<Value = Part> {
    prop_oneof![
        3 => operation_strategy(false).prop_map(Part::Operation),
        1 => (
            boundary_strategy("changeset_"),
            proptest::collection::vec(operation_strategy(true), 0..4)
        )
            .prop_map(|(boundary, mut ops)| {
                // Content-IDs must be unique within a change set.
                for (index, op) in ops.iter_mut().enumerate() {
                    if let Some(id) = &mut op.content_id {
                        id.push_str(&format!("-{index}"));
                    }
                }
                Part::ChangeSet(boundary, ops)
            }),
    ]
}

fn batch_strategy() -> impl Strategy<Value = Batch> {
    let style = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        "([ -~]{0,20}\n?){0,2}",
        "([ -~]{0,20}\n?){0,2}",
    )
        .prop_map(
            |(crlf, quote_boundaries, padding, preamble, epilogue)| Style {
                crlf,
                quote_boundaries,
                padding,
                preamble,
                epilogue,
            },
        );
    (
        boundary_strategy("batch_"),
        proptest::collection::vec(part_strategy(), 0..6),
        style,
    )
        .prop_map(|(boundary, parts, style)| {
            let mut batch = Batch {
                boundary,
                parts,
                style,
            };
            // Unquoted boundaries must be tokens.
            if batch.boundary.bytes().any(|b| b"'()+,/:=?".contains(&b))
                || batch.parts.iter().any(|p| {
                    matches!(p, Part::ChangeSet(b, _) if b.bytes().any(|c| b"'()+,/:=?".contains(&c)))
                })
            {
                batch.style.quote_boundaries = true;
            }
            batch.sanitize();
            batch
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        content_type in prop_oneof![
            Just("multipart/mixed; boundary=b".to_owned()),
            Just("multipart/mixed; boundary=\"batch_1\"".to_owned()),
            ".{0,40}",
        ],
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = parse_request(&content_type, &body);
    }

    #[test]
    fn damaged_batches_never_panic(
        batch in batch_strategy(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = batch.serialize();
        for (at, byte, kind) in edits {
            if body.is_empty() {
                break;
            }
            let at = at.index(body.len());
            match kind {
                0 => body[at] = byte,
                1 => { body.remove(at); }
                2 => body.insert(at, b'\n'),
                _ => body.splice(at..at, format!("\r\n--{}", batch.boundary).into_bytes()).for_each(drop),
            }
        }
        let _ = parse_request(&batch.content_type(), &body);
        let _ = parse_request(&batch.content_type(), &body[..cut.index(body.len() + 1)]);
    }

    #[test]
    fn serialized_batches_parse_back_to_what_was_written(batch in batch_strategy()) {
        let body = batch.serialize();
        let parsed = parse_request(&batch.content_type(), &body)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&body))))?;
        prop_assert_eq!(parsed, batch.expected());
    }
}
