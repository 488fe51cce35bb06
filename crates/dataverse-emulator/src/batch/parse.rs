//! Reading a `$batch` request body: the two multipart levels (batch, change set) and the
//! `application/http` operation inside each part. Linear in the body size, never panics.

use std::collections::HashSet;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header::CONTENT_LENGTH};

use super::{BatchError, InnerRequest, MAX_OPERATIONS, RequestPart};

/// RFC 2046 and ODL (`ValidationUtils.ValidateBoundaryString`) both cap a boundary at 70 chars.
const MAX_BOUNDARY_LEN: usize = 70;
/// Docs: a URL inside a batch may be "up to 64 KB (65,536 characters)".
const MAX_URL_LEN: usize = 65_536;
/// No client sends more than a few short headers per part; these caps bound the memory one
/// part can claim [inf: Dataverse's own caps are not documented].
const MAX_HEADER_BLOCK_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// How much of a client's bad input an error message quotes back.
const QUOTE_LIMIT: usize = 120;

/// Parses a `$batch` body given the request's `Content-Type` header value.
pub fn parse_request(content_type: &str, body: &[u8]) -> Result<Vec<RequestPart>, BatchError> {
    let boundary = batch_boundary(content_type)?;
    let mut parts = Vec::new();
    let mut operations = 0usize;
    for_each_part(body, &boundary, Level::Batch, |part| {
        let (headers, rest) = read_header_block(part)?;
        match PartKind::of(&headers)? {
            PartKind::Operation => {
                let request = parse_operation(&headers, rest, Level::Batch)?;
                operations += 1;
                check_batch_size(operations)?;
                parts.push(RequestPart::Request(request));
            }
            PartKind::ChangeSet(change_set_boundary) => {
                let requests = parse_change_set(rest, &change_set_boundary)?;
                operations += requests.len();
                check_batch_size(operations)?;
                parts.push(RequestPart::ChangeSet(requests));
            }
        }
        Ok(())
    })?;
    Ok(parts)
}

fn parse_change_set(body: &[u8], boundary: &str) -> Result<Vec<InnerRequest>, BatchError> {
    let mut requests: Vec<InnerRequest> = Vec::new();
    let mut content_ids = HashSet::new();
    for_each_part(body, boundary, Level::ChangeSet, |part| {
        let (headers, rest) = read_header_block(part)?;
        if let PartKind::ChangeSet(_) = PartKind::of(&headers)? {
            return Err(BatchError::new(
                "Nested change sets in a batch payload are not supported.",
            ));
        }
        let request = parse_operation(&headers, rest, Level::ChangeSet)?;
        if let Some(id) = &request.content_id
            && !content_ids.insert(id.clone())
        {
            return Err(BatchError::new(format!(
                "The content ID '{}' was found more than once in the same change set. Content IDs \
                 have to be unique across all operations of a change set.",
                quote(id.as_bytes())
            )));
        }
        requests.push(request);
        // Checked while reading, before the batch-wide count: for 1001 operations in one change
        // set the service answers with this message (DynamicsWebApi PR #71).
        if requests.len() > MAX_OPERATIONS {
            return Err(BatchError::new(format!(
                "The current change set contains too many operations. A maximum number of \
                 '{MAX_OPERATIONS}' operations are allowed in a change set."
            )));
        }
        Ok(())
    })?;
    Ok(requests)
}

fn check_batch_size(operations: usize) -> Result<(), BatchError> {
    if operations > MAX_OPERATIONS {
        // Text as reported in powerapps-docs issue #1890 (there with '250').
        return Err(BatchError::new(format!(
            "The current batch message contains too many parts. Only batch messages with a \
             maximum number of '{MAX_OPERATIONS}' query operations, including changeset \
             operations, are allowed."
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Batch,
    ChangeSet,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Batch => "batch",
            Level::ChangeSet => "change set",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Multipart framing (RFC 2046 §5.1.1)
// ---------------------------------------------------------------------------------------------

/// One line of input: where it starts and its text without the CRLF or LF that ends it.
struct Line<'a> {
    start: usize,
    text: &'a [u8],
}

/// Splits on LF, dropping a CR right before it. Each byte is looked at once.
struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Where the next line starts (the end of the data once every line has been read).
    fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let start = self.pos;
        let rest = self.data.get(start..).filter(|rest| !rest.is_empty())?;
        let (mut text, consumed) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&rest[..lf], lf + 1),
            None => (rest, rest.len()),
        };
        if let Some(without_cr) = text.strip_suffix(b"\r") {
            text = without_cr;
        }
        self.pos = start + consumed;
        Some(Line { start, text })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimiter {
    Open,
    Close,
}

/// `--boundary` or `--boundary--` alone on a line, optionally followed by spaces or tabs
/// (RFC 2046 transport padding).
fn delimiter_kind(line: &[u8], boundary: &str) -> Option<Delimiter> {
    let rest = line
        .strip_prefix(b"--")?
        .strip_prefix(boundary.as_bytes())?;
    let (kind, padding) = match rest.strip_prefix(b"--") {
        Some(padding) => (Delimiter::Close, padding),
        None => (Delimiter::Open, rest),
    };
    padding
        .iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(kind)
}

/// Calls `on_part` with the content of each body part, in order, stopping at the first error.
/// The line break before a delimiter belongs to the delimiter, not to the part.
fn for_each_part(
    body: &[u8],
    boundary: &str,
    level: Level,
    mut on_part: impl FnMut(&[u8]) -> Result<(), BatchError>,
) -> Result<(), BatchError> {
    let mut lines = Lines::new(body);
    let mut kind = loop {
        let Some(line) = lines.next() else {
            return Err(BatchError::new(format!(
                "The {} body contains no '--{boundary}' delimiter line.",
                level.name()
            )));
        };
        if let Some(kind) = delimiter_kind(line.text, boundary) {
            break kind;
        }
    };
    while kind == Delimiter::Open {
        let start = lines.position();
        let (end, next) = loop {
            let Some(line) = lines.next() else {
                return Err(BatchError::new(format!(
                    "The {} body ends without its closing delimiter '--{boundary}--'; the body \
                     is truncated.",
                    level.name()
                )));
            };
            if let Some(next) = delimiter_kind(line.text, boundary) {
                break (content_end(body, start, line.start), next);
            }
        };
        on_part(&body[start..end])?;
        kind = next;
    }
    Ok(())
}

/// The end of a part's content given where the following delimiter line starts.
fn content_end(body: &[u8], content_start: usize, delimiter_start: usize) -> usize {
    if delimiter_start <= content_start {
        return content_start;
    }
    // `delimiter_start` follows an LF; a CR before that LF belongs to the same line break.
    let before_lf = delimiter_start - 1;
    if before_lf > content_start && body.get(before_lf - 1) == Some(&b'\r') {
        before_lf - 1
    } else {
        before_lf
    }
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

struct HeaderLine<'a> {
    name: &'a [u8],
    value: &'a [u8],
    line: &'a [u8],
}

/// Reads `Name: value` lines up to an empty line or the end of `data`; returns them and what
/// follows the empty line. Running into the end is allowed: a bodyless operation from the
/// Python SDK has no empty line after its headers (see the module docs).
fn read_header_block(data: &[u8]) -> Result<(Vec<HeaderLine<'_>>, &[u8]), BatchError> {
    let mut headers: Vec<HeaderLine<'_>> = Vec::new();
    let mut seen = HashSet::new();
    let mut lines = Lines::new(data);
    for line in lines.by_ref() {
        if line.text.is_empty() {
            return Ok((headers, &data[lines.position()..]));
        }
        if line.start + line.text.len() > MAX_HEADER_BLOCK_BYTES || headers.len() >= MAX_HEADERS {
            return Err(BatchError::new(format!(
                "The headers of a batch part are too large: at most {MAX_HEADERS} headers and \
                 {MAX_HEADER_BLOCK_BYTES} bytes are allowed."
            )));
        }
        let header = split_header(line.text)?;
        // ODL compares names ordinally here (`ODataBatchOperationHeaders.ContainsKeyOrdinal`).
        if !seen.insert(header.name) {
            return Err(BatchError::new(format!(
                "The header '{}' was specified multiple times. Each header must appear only once \
                 in a batch part.",
                quote(header.name)
            )));
        }
        headers.push(header);
    }
    Ok((headers, &[]))
}

fn split_header(line: &[u8]) -> Result<HeaderLine<'_>, BatchError> {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => Ok(HeaderLine {
            name: line[..colon].trim_ascii(),
            value: line[colon + 1..].trim_ascii(),
            line,
        }),
        _ => Err(invalid_header(line)),
    }
}

fn invalid_header(line: &[u8]) -> BatchError {
    BatchError::new(format!(
        "The message header '{}' is invalid. The header value must be of the format '<header \
         name>: <header value>'.",
        quote(line)
    ))
}

fn find_header<'h, 'a>(headers: &'h [HeaderLine<'a>], name: &str) -> Option<&'h HeaderLine<'a>> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Part kinds and operations
// ---------------------------------------------------------------------------------------------

enum PartKind {
    Operation,
    ChangeSet(String),
}

impl PartKind {
    /// ODL's `ValidatePartHeaders`: an operation is `application/http` with binary transfer
    /// encoding, a change set is `multipart/mixed`, anything else is refused.
    fn of(headers: &[HeaderLine<'_>]) -> Result<Self, BatchError> {
        let Some(content_type) = find_header(headers, "Content-Type") else {
            return Err(BatchError::new(
                "The 'Content-Type' header is missing. The 'Content-Type' header must be \
                 specified for each MIME part of a batch message.",
            ));
        };
        let value = String::from_utf8_lossy(content_type.value);
        let Some(media_type) = MediaType::parse(&value) else {
            return Err(invalid_content_type(&value));
        };
        match media_type.essence.as_str() {
            "application/http" => {
                let binary = find_header(headers, "Content-Transfer-Encoding")
                    .is_some_and(|h| h.value.eq_ignore_ascii_case(b"binary"));
                if binary {
                    Ok(PartKind::Operation)
                } else {
                    Err(BatchError::new(
                        "A missing or invalid 'Content-Transfer-Encoding' header was found. The \
                         'Content-Transfer-Encoding' header must be specified for each batch \
                         operation, and its value must be 'binary'.",
                    ))
                }
            }
            "multipart/mixed" => Ok(PartKind::ChangeSet(media_type.boundary(&value)?)),
            _ => Err(invalid_content_type(&value)),
        }
    }
}

fn invalid_content_type(value: &str) -> BatchError {
    BatchError::new(format!(
        "The 'Content-Type' header value '{}' is invalid. When this is the start of the change \
         set, the value must be 'multipart/mixed'; otherwise it must be 'application/http'.",
        quote(value.as_bytes())
    ))
}

/// Parses the `application/http` message of one operation (ODL's `ParseRequestLine` rules).
fn parse_operation(
    part_headers: &[HeaderLine<'_>],
    message: &[u8],
    level: Level,
) -> Result<InnerRequest, BatchError> {
    let content_id = find_header(part_headers, "Content-ID")
        .map(|h| String::from_utf8_lossy(h.value).into_owned());

    let mut lines = Lines::new(message);
    let request_line = loop {
        match lines.next() {
            Some(line) if line.text.is_empty() => continue,
            Some(line) => break line.text,
            None => {
                return Err(BatchError::new(
                    "A batch operation ends before its request line ('METHOD URL HTTP/1.1').",
                ));
            }
        }
    };
    let (method, url) = parse_request_line(request_line, level)?;

    let (header_lines, body) = read_header_block(&message[lines.position()..])?;
    let mut headers = HeaderMap::with_capacity(header_lines.len());
    for header in &header_lines {
        let name = HeaderName::from_bytes(header.name).map_err(|_| invalid_header(header.line))?;
        let value =
            HeaderValue::from_bytes(header.value).map_err(|_| invalid_header(header.line))?;
        headers.append(name, value);
    }
    let body = match headers.get(CONTENT_LENGTH) {
        Some(value) => body_with_length(body, value)?,
        None => body,
    };

    Ok(InnerRequest {
        content_id,
        method,
        url,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

fn parse_request_line(line: &[u8], level: Level) -> Result<(Method, String), BatchError> {
    if line.len() > MAX_URL_LEN + 64 {
        return Err(url_too_long());
    }
    let invalid = || {
        BatchError::new(format!(
            "The request line '{}' is invalid. The request line at the start of each operation \
             must be of the format 'HttpMethod RequestUrl HttpVersion'.",
            quote(line)
        ))
    };
    let first_space = line.iter().position(|&b| b == b' ').ok_or_else(invalid)?;
    let last_space = line.iter().rposition(|&b| b == b' ').ok_or_else(invalid)?;
    if first_space == 0 || last_space <= first_space + 1 || last_space + 1 >= line.len() {
        return Err(invalid());
    }
    let version = &line[last_space + 1..];
    if version != b"HTTP/1.1" {
        return Err(BatchError::new(format!(
            "The HTTP version '{}' used in a batch operation request or response is not valid. \
             The value must be 'HTTP/1.1'.",
            quote(version)
        )));
    }
    let method = match &line[..first_space] {
        b"GET" => Method::GET,
        b"POST" => Method::POST,
        b"PUT" => Method::PUT,
        b"PATCH" => Method::PATCH,
        b"DELETE" => Method::DELETE,
        other => {
            return Err(BatchError::new(format!(
                "The string '{}' cannot be converted into a supported HTTP method. The only \
                 supported HTTP methods are GET, DELETE, PUT, POST and PATCH.",
                quote(other)
            )));
        }
    };
    if level == Level::ChangeSet && method == Method::GET {
        return Err(BatchError::new(
            "An invalid HTTP method 'GET' was detected for a request in a change set. Requests \
             in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.",
        ));
    }
    let url = String::from_utf8_lossy(&line[first_space + 1..last_space])
        .trim()
        .to_owned();
    if url.len() > MAX_URL_LEN {
        return Err(url_too_long());
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    if path.trim_end_matches('/').ends_with("$batch") {
        // Docs: batch requests "can't contain other batch requests" (exact text unverified).
        return Err(BatchError::new(
            "Batch requests cannot contain other batch requests.",
        ));
    }
    Ok((method, url))
}

fn url_too_long() -> BatchError {
    BatchError::new(format!(
        "The URL of a batch operation is longer than the {MAX_URL_LEN} characters allowed."
    ))
}

/// ODL reads exactly `Content-Length` bytes of an operation body when the header is present.
fn body_with_length<'a>(body: &'a [u8], value: &HeaderValue) -> Result<&'a [u8], BatchError> {
    let length = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i32>().ok())
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| {
            BatchError::new(format!(
                "The content length header '{}' is not valid. The content length header must be \
                 a valid Int32 literal and must be greater than or equal to 0.",
                quote(value.as_bytes())
            ))
        })?;
    body.get(..length).ok_or_else(|| {
        BatchError::new(format!(
            "A batch operation declares 'Content-Length: {length}' but its body has only {} \
             bytes; the body is truncated.",
            body.len()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Content-Type parameters
// ---------------------------------------------------------------------------------------------

/// A media type with its parameters; enough of RFC 9110 §8.3.1 to read `boundary`.
struct MediaType {
    /// `type/subtype`, lower-cased.
    essence: String,
    /// Parameter names lower-cased; values unquoted.
    params: Vec<(String, String)>,
}

impl MediaType {
    fn parse(value: &str) -> Option<MediaType> {
        let (essence, mut rest) = match value.split_once(';') {
            Some((essence, rest)) => (essence, rest),
            None => (value, ""),
        };
        let essence = essence.trim().to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        if !is_token(kind) || !is_token(subtype) {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(';') {
                rest = after;
                continue;
            }
            if rest.is_empty() {
                break;
            }
            let (name, after_name) = rest.split_once('=')?;
            let name = name.trim();
            if !is_token(name) {
                return None;
            }
            let after_name = after_name.trim_start();
            let (value, after_value) = match after_name.strip_prefix('"') {
                Some(quoted) => unquote(quoted)?,
                None => {
                    let end = after_name.find(';').unwrap_or(after_name.len());
                    (after_name[..end].trim_end().to_owned(), &after_name[end..])
                }
            };
            params.push((name.to_ascii_lowercase(), value));
            rest = after_value.trim_start();
            if !rest.is_empty() && !rest.starts_with(';') {
                return None;
            }
        }
        Some(MediaType { essence, params })
    }

    /// The single `boundary` parameter, validated as ODL does.
    fn boundary(&self, content_type: &str) -> Result<String, BatchError> {
        let mut boundaries = self.params.iter().filter(|(name, _)| name == "boundary");
        let (Some((_, boundary)), None) = (boundaries.next(), boundaries.next()) else {
            return Err(BatchError::new(format!(
                "The content type '{}' specifies a batch payload; however, the payload either \
                 does not include a batch boundary or includes more than one boundary. In OData, \
                 batch payload content types must specify exactly one batch boundary in the \
                 'boundary' parameter of the content type.",
                quote(content_type.as_bytes())
            )));
        };
        let valid_chars = boundary.bytes().all(|b| (0x20..0x7f).contains(&b));
        if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN || !valid_chars {
            return Err(BatchError::new(format!(
                "The boundary delimiter '{}' is invalid. A boundary must have between 1 and \
                 {MAX_BOUNDARY_LEN} printable ASCII characters.",
                quote(boundary.as_bytes())
            )));
        }
        Ok(boundary.clone())
    }
}

/// Reads a quoted-string body (after the opening quote); returns the value and what follows.
fn unquote(quoted: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The outer `Content-Type` of the `$batch` request must be `multipart/mixed` with a boundary.
fn batch_boundary(content_type: &str) -> Result<String, BatchError> {
    match MediaType::parse(content_type) {
        Some(media_type) if media_type.essence == "multipart/mixed" => {
            media_type.boundary(content_type)
        }
        _ => Err(BatchError::new(format!(
            "The content type '{}' is not supported for $batch. A batch request must be sent as \
             'multipart/mixed' with a 'boundary' parameter.",
            quote(content_type.as_bytes())
        ))),
    }
}

/// Client input quoted in an error message, cut short so a huge line makes a short message.
fn quote(bytes: &[u8]) -> String {
    let head = bytes.get(..QUOTE_LIMIT * 4).unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if head.len() < bytes.len() => format!("{text}…"),
        None => text.into_owned(),
    }
}
