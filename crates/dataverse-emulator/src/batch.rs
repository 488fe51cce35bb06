//! The `$batch` wire format: `multipart/mixed` requests with nested change sets, each part an
//! `application/http` message, and the matching response framing.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// One operation inside a batch or change set.
#[derive(Debug, Clone)]
pub struct InnerRequest {
    pub content_id: Option<String>,
    pub method: Method,
    /// As written in the part: absolute (`https://org/api/data/v9.2/accounts`), rooted
    /// (`/api/data/v9.2/accounts`) or a `$1` Content-ID reference (`$1/contact_customer_accounts`).
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A top-level part of a batch request.
#[derive(Debug, Clone)]
pub enum RequestPart {
    Request(InnerRequest),
    ChangeSet(Vec<InnerRequest>),
}

/// The response to one operation.
#[derive(Debug, Clone)]
pub struct InnerResponse {
    pub content_id: Option<String>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A top-level part of a batch response.
#[derive(Debug, Clone)]
pub enum ResponsePart {
    Response(InnerResponse),
    ChangeSet(Vec<InnerResponse>),
}

/// A malformed batch body, with the message Dataverse gives for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BatchError {
    pub message: String,
}

/// Parses a `$batch` body given the request's `Content-Type` header value.
pub fn parse_request(_content_type: &str, _body: &[u8]) -> Result<Vec<RequestPart>, BatchError> {
    Err(BatchError {
        message: "$batch is not supported yet".into(),
    })
}

/// Writes a batch response body framed with `boundary` (`batchresponse_<guid>`); the caller sends
/// it with `Content-Type: multipart/mixed; boundary=<boundary>`.
pub fn write_response(_boundary: &str, _parts: &[ResponsePart]) -> Vec<u8> {
    Vec::new()
}
