//! RFC 9457 problem details: the one error shape of the REST API. Each problem carries a stable
//! `code` that clients may branch on; titles and details are for people and may change.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

/// The stable codes of the API. Adding one is fine; renaming or removing one breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemCode {
    /// The body is not JSON at all (syntax error, empty, trailing garbage).
    MalformedJson,
    /// The body is JSON but not the expected shape (wrong types, unknown or missing fields).
    InvalidBody,
    /// A query-string parameter is missing, unknown or of the wrong type.
    InvalidQuery,
    /// The values are well-formed but break a rule (e.g. an empty name, too many seats).
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    /// The body could not be read to its end (the connection broke, or a bad transfer encoding).
    UnreadableBody,
    /// No credentials, or credentials that are wrong or expired.
    Unauthenticated,
    /// Authenticated, but this route needs a role the caller does not have.
    Forbidden,
    /// A write signed in by a browser session without the session's CSRF token.
    CsrfFailed,
    NotFound,
    MethodNotAllowed,
    /// The request conflicts with the current state (e.g. a duplicate email).
    Conflict,
    /// The action needs a CRM connection and there is none.
    NotConnected,
    /// The CRM answered with an error; `detail` and `next_step` use the documented wording.
    CrmError,
    /// Too many attempts; `Retry-After` says when to try again.
    TooManyRequests,
    /// Our fault; the cause is logged, never sent.
    Internal,
}

impl ProblemCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::MalformedJson => "malformed_json",
            ProblemCode::InvalidBody => "invalid_body",
            ProblemCode::InvalidQuery => "invalid_query",
            ProblemCode::ValidationFailed => "validation_failed",
            ProblemCode::UnsupportedMediaType => "unsupported_media_type",
            ProblemCode::PayloadTooLarge => "payload_too_large",
            ProblemCode::UnreadableBody => "unreadable_body",
            ProblemCode::Unauthenticated => "unauthenticated",
            ProblemCode::Forbidden => "forbidden",
            ProblemCode::CsrfFailed => "csrf_failed",
            ProblemCode::NotFound => "not_found",
            ProblemCode::MethodNotAllowed => "method_not_allowed",
            ProblemCode::Conflict => "conflict",
            ProblemCode::NotConnected => "not_connected",
            ProblemCode::CrmError => "crm_error",
            ProblemCode::TooManyRequests => "too_many_requests",
            ProblemCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ProblemCode::MalformedJson
            | ProblemCode::InvalidQuery
            | ProblemCode::UnreadableBody => StatusCode::BAD_REQUEST,
            ProblemCode::InvalidBody | ProblemCode::ValidationFailed => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ProblemCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ProblemCode::Forbidden | ProblemCode::CsrfFailed => StatusCode::FORBIDDEN,
            ProblemCode::NotFound => StatusCode::NOT_FOUND,
            ProblemCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemCode::Conflict | ProblemCode::NotConnected => StatusCode::CONFLICT,
            ProblemCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ProblemCode::CrmError => StatusCode::BAD_GATEWAY,
            ProblemCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            ProblemCode::MalformedJson => "The request body is not valid JSON.",
            ProblemCode::InvalidBody => "The request body does not have the expected shape.",
            ProblemCode::InvalidQuery => "The query string is not valid for this endpoint.",
            ProblemCode::ValidationFailed => "Some values are not acceptable.",
            ProblemCode::UnsupportedMediaType => "The request body has an unsupported media type.",
            ProblemCode::PayloadTooLarge => "The request body is too large.",
            ProblemCode::UnreadableBody => "The request body could not be read.",
            ProblemCode::Unauthenticated => "Sign in or send a valid API token.",
            ProblemCode::Forbidden => "You do not have access to this.",
            ProblemCode::CsrfFailed => "The request is missing its CSRF token.",
            ProblemCode::NotFound => "Not found.",
            ProblemCode::MethodNotAllowed => "This method is not allowed here.",
            ProblemCode::Conflict => "This conflicts with the current state.",
            ProblemCode::NotConnected => "No CRM is connected.",
            ProblemCode::CrmError => "The CRM reported an error.",
            ProblemCode::TooManyRequests => "Too many attempts. Try again later.",
            ProblemCode::Internal => "Something went wrong on our side.",
        }
    }
}

/// One field-level complaint inside a problem: where (a JSON pointer-like path) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where the value is, e.g. `writeback.items[1]` or the query parameter name; in an import,
    /// `[4].email` is the fifth record's email.
    pub path: String,
    pub message: String,
    /// In an NDJSON or CSV import, the line of the file the record is on (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// The problem+json body as it goes on the wire (and into the OpenAPI document).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody {
    /// `urn:leadbridge:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the user can do about it, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An API error, answered as problem+json.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: ProblemCode,
    pub detail: Option<String>,
    pub next_step: Option<String>,
    pub errors: Vec<FieldError>,
    retry_after_seconds: Option<u64>,
}

impl Problem {
    pub fn new(code: ProblemCode) -> Problem {
        Problem {
            code,
            detail: None,
            next_step: None,
            errors: Vec::new(),
            retry_after_seconds: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn next_step(mut self, next_step: impl Into<String>) -> Problem {
        self.next_step = Some(next_step.into());
        self
    }

    pub fn field(mut self, path: impl Into<String>, message: impl Into<String>) -> Problem {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
            line: None,
        });
        self
    }

    pub fn fields(mut self, errors: impl IntoIterator<Item = FieldError>) -> Problem {
        self.errors.extend(errors);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Problem {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(ProblemCode::NotFound).detail(format!("No {what} with that id."))
    }

    /// An internal error: the cause goes to the log (with Display), never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "internal error answering a request");
        Problem::new(ProblemCode::Internal)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn body(&self) -> ProblemBody {
        ProblemBody {
            type_uri: format!("urn:leadbridge:problem:{}", self.code.as_str()),
            title: self.code.title().to_string(),
            status: self.code.status().as_u16(),
            code: self.code.as_str().to_string(),
            detail: self.detail.clone(),
            next_step: self.next_step.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after_seconds;
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.code == ProblemCode::Unauthenticated {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"leadbridge\""),
            );
        }
        response
    }
}

/// Store errors as the client sees them: what it can act on is named, the rest is logged.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        match error {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Conflict(message) => Problem::new(ProblemCode::Conflict).detail(message),
            StoreError::NoSeatLeft { .. } => Problem::new(ProblemCode::Conflict)
                .detail(error.to_string())
                .next_step("Release a seat or raise the contract's seat count."),
            StoreError::Invalid(message) => {
                Problem::new(ProblemCode::ValidationFailed).detail(message)
            }
            other => Problem::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_type_code_status_and_fields() {
        let p = Problem::new(ProblemCode::InvalidBody).field("email", "must not be empty");
        let v = serde_json::to_value(p.body()).unwrap();
        assert_eq!(v["type"], "urn:leadbridge:problem:invalid_body");
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "invalid_body");
        assert_eq!(v["errors"][0]["path"], "email");
        assert!(v.get("detail").is_none());
    }

    #[test]
    fn response_is_problem_json_with_retry_after() {
        let r = Problem::new(ProblemCode::TooManyRequests)
            .retry_after(30)
            .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(r.headers()[header::RETRY_AFTER], "30");
    }
}
