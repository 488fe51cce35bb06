//! Writing a `$batch` response body in the framing Dataverse uses (ODL's multipart writer, the
//! docs' examples) and the Python SDK parses. CRLF line endings throughout.

use http::HeaderName;

use super::{InnerResponse, ResponsePart};

const CRLF: &[u8] = b"\r\n";

/// Writes a batch response body framed with `boundary` (`batchresponse_<guid>`); the caller sends
/// it with `Content-Type: multipart/mixed; boundary=<boundary>`. Each change set gets its own
/// `changesetresponse_<guid>` boundary.
pub fn write_response(boundary: &str, parts: &[ResponsePart]) -> Vec<u8> {
    write_response_with(boundary, parts, || {
        format!("changesetresponse_{}", uuid::Uuid::new_v4())
    })
}

/// [`write_response`] with the change set boundaries taken from `next_change_set_boundary`, so
/// a caller (or a test) can make the output reproducible.
///
/// As in ODL's `WriteResponsePreamble`, a response's `Content-ID` is written only inside a
/// change set; a top-level response never carries one.
pub fn write_response_with(
    boundary: &str,
    parts: &[ResponsePart],
    mut next_change_set_boundary: impl FnMut() -> String,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        start_boundary(&mut out, boundary, index == 0);
        match part {
            ResponsePart::Response(response) => write_operation(&mut out, response, false),
            ResponsePart::ChangeSet(responses) => {
                let change_set_boundary = next_change_set_boundary();
                out.extend_from_slice(b"Content-Type: multipart/mixed; boundary=");
                out.extend_from_slice(change_set_boundary.as_bytes());
                out.extend_from_slice(CRLF);
                out.extend_from_slice(CRLF);
                for (index, response) in responses.iter().enumerate() {
                    start_boundary(&mut out, &change_set_boundary, index == 0);
                    write_operation(&mut out, response, true);
                }
                end_boundary(&mut out, &change_set_boundary, responses.is_empty());
            }
        }
    }
    end_boundary(&mut out, boundary, parts.is_empty());
    // ODL adds this newline "for compatibility with WCF DS".
    out.extend_from_slice(CRLF);
    out
}

/// ODL's `WriteStartBoundary`: the CRLF before a delimiter ends the previous part's body.
fn start_boundary(out: &mut Vec<u8>, boundary: &str, first: bool) {
    if !first {
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(CRLF);
}

/// ODL's `WriteEndBoundary`: no line break of its own after the closing `--`.
fn end_boundary(out: &mut Vec<u8>, boundary: &str, nothing_written: bool) {
    if !nothing_written {
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--");
}

fn write_operation(out: &mut Vec<u8>, response: &InnerResponse, in_change_set: bool) {
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(content_id) = response.content_id.as_deref().filter(|_| in_change_set) {
        out.extend_from_slice(b"Content-ID: ");
        out.extend_from_slice(content_id.as_bytes());
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(CRLF);

    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(response.status.as_str().as_bytes());
    if let Some(reason) = response.status.canonical_reason() {
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
    }
    out.extend_from_slice(CRLF);
    for (name, value) in &response.headers {
        out.extend_from_slice(display_name(name).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(CRLF);
    out.extend_from_slice(&response.body);
}

/// `HeaderMap` lower-cases names; Dataverse writes them as in the docs (`OData-EntityId`).
fn display_name(name: &HeaderName) -> String {
    match name.as_str() {
        "odata-version" => "OData-Version".to_owned(),
        "odata-maxversion" => "OData-MaxVersion".to_owned(),
        "odata-entityid" => "OData-EntityId".to_owned(),
        "etag" => "ETag".to_owned(),
        "req_id" => "REQ_ID".to_owned(),
        "www-authenticate" => "WWW-Authenticate".to_owned(),
        lower if lower.starts_with("x-") => lower.to_owned(),
        lower => {
            let mut display = String::with_capacity(lower.len());
            let mut word_start = true;
            for c in lower.chars() {
                display.push(if word_start {
                    c.to_ascii_uppercase()
                } else {
                    c
                });
                word_start = c == '-';
            }
            display
        }
    }
}
