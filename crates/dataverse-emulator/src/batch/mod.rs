//! The `$batch` wire format: `multipart/mixed` requests with nested change sets, each part an
//! `application/http` message, and the matching response framing.
//!
//! # What real clients send and what the real service does
//!
//! Sources, in order of authority:
//! - **MS docs**: repo MicrosoftDocs/powerapps-docs,
//!   `powerapps-docs/developer/data-platform/webapi/execute-batch-operations-using-web-api.md`
//!   (request and response examples, the 1000-request limit, change sets, `Content-ID`).
//! - **Python SDK**: PowerPlatform-Dataverse-Client 1.1.0 (PyPI), `data/_batch_base.py`
//!   (`_serialize_raw_request`, `_serialize_changeset_item`, `_split_multipart`,
//!   `_parse_http_response_part`), `data/_batch.py` (`execute`), `data/_odata.py` (`_build_*`).
//! - **ODL**: repo OData/odata.net, `src/Microsoft.OData.Core` (`ODataBatchReaderStreamBuffer`,
//!   `ODataMultipartMixedBatchReaderStream`, `ODataMultipartMixedBatchReader`,
//!   `ODataMultipartMixedBatchWriter[Utils]`, `HttpUtils.ValidateHttpMethod`, string resources).
//!   Dataverse's Web API is an OData v4 service whose error texts match ODL's, so where the
//!   docs are silent we follow ODL's reader and writer [inf].
//!
//! ## Requests
//! - Outer `Content-Type: multipart/mixed; boundary="batch_<id>"`. The docs quote the boundary;
//!   other doc examples write `multipart/mixed;boundary=batch_AAA123` (no space, unquoted). The
//!   SDK sends `boundary="batch_<uuid4>"`. ODL limits a boundary to 1..=70 characters.
//! - Each operation part is `--<boundary>`, part headers `Content-Type: application/http` and
//!   `Content-Transfer-Encoding: binary` (either order; doc examples also write `Name:value`
//!   without the space), an optional `Content-ID: <n>`, an optional part-level `Content-Length`
//!   (doc error-handling example; ODL ignores it), a blank line, then the inner message.
//!   ODL rejects a part without `Content-Type`, an operation without
//!   `Content-Transfer-Encoding: binary`, and any other part content type.
//! - The inner request line is `METHOD URL HTTP/1.1`. ODL takes the method up to the first space
//!   and the version after the last space, so the URL may contain spaces; the version must be
//!   exactly `HTTP/1.1`; methods are GET, POST, PUT, PATCH, DELETE (case-sensitive). URLs seen:
//!   rooted (`/api/data/v9.2/tasks`, docs), absolute (`[Organization URI]/api/data/v9.2/leads`,
//!   docs; the SDK always sends absolute URLs), and Content-ID references (`$1`,
//!   `$1/lastname`, `$1/primarycontactid/$ref`; the SDK sends a bare `$1` for PATCH/DELETE).
//!   ODL skips empty lines before the request line.
//! - Inner headers follow (`Content-Type: application/json; type=entry`, `If-Match: *`,
//!   `Prefer: ...`), then a blank line and the body. A bodyless SDK operation ends right after
//!   its headers: the SDK writes `GET <url> HTTP/1.1\r\n\r\n--batch...`, and because the line
//!   break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), the inner message has
//!   no blank line at all. That must parse. An inner `Content-Length` bounds the body (ODL reads
//!   exactly that many bytes).
//! - A change set is a part with `Content-Type: multipart/mixed; boundary="changeset_<id>"`
//!   whose body is itself multipart. ODL rejects a change set inside a change set ("Nested
//!   change sets in a batch payload are not supported."), GET inside a change set, and a
//!   `Content-ID` repeated within one change set. The SDK numbers Content-IDs from one counter
//!   across the whole batch.
//! - Closing delimiter `--<boundary>--`. The SDK ends its body with `--batch_<uuid>--\r\n`; the
//!   docs end with `--batch_...--` and a newline. Text before the first delimiter (preamble) and
//!   after the closing one (epilogue) is ignored (RFC 2046). A delimiter line may carry trailing
//!   spaces or tabs (RFC 2046 transport padding; ODL accepts them too).
//! - Line endings: the SDK sends CRLF throughout. The docs' examples are LF only (markdown).
//!   ODL's scanner accepts `\r\n`, `\n` and a lone `\r` as line ends. We accept CRLF and LF but
//!   not a lone CR: no client we know sends it.
//! - Limits: at most 1000 operations per batch, counting each operation inside change sets
//!   (docs; the SDK refuses to send more). Texts seen from the real service: "The current batch
//!   message contains too many parts. Only batch messages with a maximum number of '250' query
//!   operations, including changeset operations, are allowed." (powerapps-docs issue #1890, when
//!   the service had lowered its limit) and, for 1001 operations in one change set, "The current
//!   change set contains too many operations. A maximum number of '1000' operations are allowed
//!   in a change set" (AleksandrRogov/DynamicsWebApi PR #71). We use both with '1000'.
//!
//! ## Where we deliberately differ from ODL
//! - ODL also recognises a delimiter that does not start a line ("for WCF DS compatibility we do
//!   not require the leading line terminator"). We require a line start, as RFC 2046 does, so a
//!   body holding `x--batch_...` survives intact. Clients always put delimiters on their own line.
//! - ODL treats a body with no delimiter at all as an empty batch; we reject it, and we reject a
//!   missing closing delimiter, because both mean a truncated upload.
//!
//! ## Responses
//! - Outer `Content-Type: multipart/mixed; boundary=batchresponse_<guid>` (set by the caller);
//!   the Python SDK finds the boundary with `boundary="?([^";,\s]+)"?` and raises on a
//!   non-multipart body.
//! - ODL's writer (and every doc example) frames parts as: `--batchresponse_<guid>` CRLF,
//!   `Content-Type: application/http`, `Content-Transfer-Encoding: binary`, `Content-ID: <n>`
//!   when the request had one (the docs show it echoed in change sets), a blank line, the status
//!   line `HTTP/1.1 204 No Content`, headers (`OData-Version: 4.0`, `Location`,
//!   `OData-EntityId`, `Content-Type: application/json; odata.metadata=minimal`, ...), a blank
//!   line and the body. The next delimiter is preceded by CRLF, so a 204 part shows two empty
//!   lines before it.
//! - A change set response is a part with `Content-Type: multipart/mixed;
//!   boundary=changesetresponse_<guid>` (unquoted), a blank line, the nested parts, and
//!   `--changesetresponse_<guid>--` with no line break of its own: the CRLF before the next
//!   `--batchresponse_` delimiter follows directly (doc examples show exactly that).
//! - The body ends with `--batchresponse_<guid>--` CRLF (ODL writes the trailing newline "for
//!   compatibility with WCF DS").
//! - The SDK's parser normalises CRLF to LF, splits on lines equal to `--<boundary>` or
//!   `--<boundary>--`, splits each part at the first blank line, reads `content-id` from the
//!   part headers, finds the first `HTTP/` line, takes the status from its second word, reads
//!   `odata-entityid` for the created id, and parses the body as JSON (`{"error":{...}}` becomes
//!   an item error).

mod parse;
mod write;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

pub use parse::parse_request;
pub use write::{write_response, write_response_with};

/// The most operations one batch may carry, counting each operation inside a change set (docs).
pub const MAX_OPERATIONS: usize = 1000;

/// One operation inside a batch or change set.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPart {
    Request(InnerRequest),
    ChangeSet(Vec<InnerRequest>),
}

/// The response to one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerResponse {
    pub content_id: Option<String>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A top-level part of a batch response.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl BatchError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
