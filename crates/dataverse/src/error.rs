//! The client's error type: every failure classified into what the product shows (the four
//! documented connection messages and the sync states), keeping the original status, code and text.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::Serialize;

/// A failed Web API call as Dataverse reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP status (inside a `$batch`, the status of the failing operation).
    pub status: u16,
    /// Dataverse's hex code (`0x80040220`), empty when the response carried none.
    pub code: String,
    pub message: String,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            write!(f, "HTTP {}: {}", self.status, self.message)
        } else {
            write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
        }
    }
}

/// A refusal from Microsoft Entra ID's token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// HTTP status of the token response (0 when the failure happened before any request).
    pub status: u16,
    /// The OAuth error (`invalid_client`, `invalid_grant`, …).
    pub error: String,
    /// The AADSTS number (`7000215` for a wrong secret), when Entra gave one.
    pub aadsts: Option<u32>,
    pub description: String,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aadsts {
            Some(code) if !self.description.contains(&format!("AADSTS{code}")) => {
                write!(f, "{} (AADSTS{code}): {}", self.error, self.description)
            }
            _ => write!(f, "{}: {}", self.error, self.description),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// DNS, TLS, connection refused or reset, timeouts: the CRM could not be reached.
    #[error("could not connect to {host}: {detail}")]
    CannotConnect { host: String, detail: String },
    /// A server error or a response the client cannot understand.
    #[error("the CRM API reported an error: {0}")]
    CrmApi(ApiFailure),
    /// 403: a missing privilege, a user who is not a member of the org, no delegate privilege.
    #[error("insufficient privileges: {0}")]
    InsufficientPrivileges(ApiFailure),
    /// A table the product needs does not exist or cannot be read at all.
    #[error("the required CRM objects cannot be read: {0}")]
    ObjectsUnreadable(ApiFailure),
    /// 429 from the service protection limits, still refused after the bounded retries.
    #[error("throttled by the CRM's service protection limits: {failure}")]
    Throttled {
        failure: ApiFailure,
        retry_after: Option<Duration>,
    },
    /// The change-tracking token is older than the org keeps versions (0x80044352): read in full.
    #[error("the change-tracking token has expired: {0}")]
    DeltaExpired(ApiFailure),
    #[error("not found: {0}")]
    NotFound(ApiFailure),
    /// 412 and duplicate keys: the row changed or already exists.
    #[error("conflict: {0}")]
    Conflict(ApiFailure),
    /// 400 and other refusals of the request itself.
    #[error("refused by the CRM: {0}")]
    Validation(ApiFailure),
    /// Microsoft Entra ID refused to issue a token.
    #[error("sign-in with Microsoft Entra ID failed: {0}")]
    Auth(AuthFailure),
    /// The client was configured with something unusable (a bad URL, an unreadable certificate).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A query or key the client refuses to send (a name that is not a column name, a NaN).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// What kind of failure an [`Error`] is, for the UI and for the sync engine's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    CannotConnect,
    CrmApi,
    InsufficientPrivileges,
    ObjectsUnreadable,
    Throttled,
    DeltaExpired,
    NotFound,
    Conflict,
    Validation,
    Auth,
    Config,
    InvalidInput,
}

/// The four messages the setup guide documents for a failed connection, each with its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMessage {
    CannotConnect,
    ApiError,
    InsufficientPrivileges,
    ObjectsUnreadable,
}

impl ConnectionMessage {
    /// The English text the guide quotes.
    pub fn text(self) -> &'static str {
        match self {
            ConnectionMessage::CannotConnect => "Could not connect to CRM. Please try again later.",
            ConnectionMessage::ApiError => "The CRM API reported an error. Please try again later.",
            ConnectionMessage::InsufficientPrivileges => {
                "Your CRM account does not have sufficient access privileges. Please check with your CRM administrator."
            }
            ConnectionMessage::ObjectsUnreadable => {
                "Could not read the required CRM objects from your org."
            }
        }
    }

    pub fn next_step(self) -> &'static str {
        match self {
            ConnectionMessage::CannotConnect => {
                "There is a connection error with your CRM. Try again later."
            }
            ConnectionMessage::ApiError => {
                "Error with your API access. Check your CRM system's uptime or contact your CRM representative."
            }
            ConnectionMessage::InsufficientPrivileges => {
                "Contact your internal CRM administrator to obtain the needed access privileges."
            }
            ConnectionMessage::ObjectsUnreadable => {
                "Refer to the security white paper for the permissions leadbridge needs."
            }
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::CannotConnect { .. } => ErrorKind::CannotConnect,
            Error::CrmApi(_) => ErrorKind::CrmApi,
            Error::InsufficientPrivileges(_) => ErrorKind::InsufficientPrivileges,
            Error::ObjectsUnreadable(_) => ErrorKind::ObjectsUnreadable,
            Error::Throttled { .. } => ErrorKind::Throttled,
            Error::DeltaExpired(_) => ErrorKind::DeltaExpired,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Validation(_) => ErrorKind::Validation,
            Error::Auth(_) => ErrorKind::Auth,
            Error::Config(_) => ErrorKind::Config,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    /// Which documented message a connection failing with this error shows.
    pub fn connection_message(&self) -> ConnectionMessage {
        match self {
            Error::CannotConnect { .. } => ConnectionMessage::CannotConnect,
            Error::InsufficientPrivileges(_) => ConnectionMessage::InsufficientPrivileges,
            Error::ObjectsUnreadable(_) => ConnectionMessage::ObjectsUnreadable,
            _ => ConnectionMessage::ApiError,
        }
    }

    /// The Web API failure behind this error, if Dataverse answered.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            Error::CrmApi(f)
            | Error::InsufficientPrivileges(f)
            | Error::ObjectsUnreadable(f)
            | Error::DeltaExpired(f)
            | Error::NotFound(f)
            | Error::Conflict(f)
            | Error::Validation(f)
            | Error::Throttled { failure: f, .. } => Some(f),
            _ => None,
        }
    }

    /// Dataverse's hex code, if any (`0x80040220`).
    pub fn code(&self) -> Option<&str> {
        self.api_failure()
            .map(|f| f.code.as_str())
            .filter(|c| !c.is_empty())
    }

    /// The HTTP status Dataverse or Entra answered with, if the request got that far.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth(a) if a.status != 0 => Some(a.status),
            _ => self.api_failure().map(|f| f.status),
        }
    }

    pub(crate) fn unexpected(status: StatusCode, what: impl Into<String>) -> Error {
        Error::CrmApi(ApiFailure {
            status: status.as_u16(),
            code: String::new(),
            message: what.into(),
        })
    }

    /// Classifies a non-success Web API response (a whole response or one `$batch` part).
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        let failure = parse_failure(status, body);
        classify(failure, retry_after(headers))
    }
}

/// `{"error":{"code":"0x…","message":"…"}}`, or whatever the body says when it is not that.
fn parse_failure(status: StatusCode, body: &[u8]) -> ApiFailure {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = |v: Option<&serde_json::Value>| v.and_then(|s| s.as_str()).map(str::to_string);
    match error {
        Some(e) => ApiFailure {
            status: status.as_u16(),
            code: text(e.get("code")).unwrap_or_default(),
            message: text(e.get("message")).unwrap_or_default(),
        },
        None => {
            let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
            ApiFailure {
                status: status.as_u16(),
                code: String::new(),
                message: if excerpt.trim().is_empty() {
                    status.canonical_reason().unwrap_or("").to_string()
                } else {
                    excerpt
                },
            }
        }
    }
}

/// `Retry-After` in seconds (Dataverse sends an integer; an HTTP date is not used by it).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

const EXPIRED_VERSION_STAMP: &str = "0x80044352";
const DUPLICATE_RECORD: &str = "0x80040237";
const DUPLICATE_KEY: &str = "0x80060892";
const DUPLICATES_FOUND: &str = "0x80040333";
const ODATA_REQUEST_ERROR: &str = "0x80060888";

fn classify(failure: ApiFailure, retry_after: Option<Duration>) -> Error {
    let code = failure.code.to_ascii_lowercase();
    match failure.status {
        401 => Error::Auth(AuthFailure {
            status: 401,
            error: "invalid_token".into(),
            aadsts: None,
            description: if failure.message.is_empty() {
                "Dataverse refused the access token.".into()
            } else {
                failure.message
            },
        }),
        403 => Error::InsufficientPrivileges(failure),
        404 if code == ODATA_REQUEST_ERROR && failure.message.contains("Resource not found") => {
            Error::ObjectsUnreadable(failure)
        }
        404 => Error::NotFound(failure),
        409 | 412 => Error::Conflict(failure),
        429 => Error::Throttled {
            failure,
            retry_after,
        },
        _ if code == EXPIRED_VERSION_STAMP => Error::DeltaExpired(failure),
        _ if [DUPLICATE_RECORD, DUPLICATE_KEY, DUPLICATES_FOUND].contains(&code.as_str()) => {
            Error::Conflict(failure)
        }
        400..=499 => Error::Validation(failure),
        _ => Error::CrmApi(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &str) -> Error {
        Error::from_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn dataverse_codes_map_to_what_the_product_shows() {
        let cases = [
            (
                403,
                r#"{"error":{"code":"0x80040220","message":"Principal user (Id=1) is missing prvReadAccount privilege"}}"#,
                ErrorKind::InsufficientPrivileges,
            ),
            (
                403,
                r#"{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}"#,
                ErrorKind::InsufficientPrivileges,
            ),
            (
                400,
                r#"{"error":{"code":"0x80044352","message":"Version stamp associated with the client has expired. Please perform a full sync."}}"#,
                ErrorKind::DeltaExpired,
            ),
            (
                404,
                r#"{"error":{"code":"0x80040217","message":"account With Id = 1 Does Not Exist"}}"#,
                ErrorKind::NotFound,
            ),
            (
                404,
                r#"{"error":{"code":"0x80060888","message":"Resource not found for the segment 'lb_notes'."}}"#,
                ErrorKind::ObjectsUnreadable,
            ),
            (
                412,
                r#"{"error":{"code":"0x80060882","message":"The version of the existing record doesn't match the RowVersion property provided."}}"#,
                ErrorKind::Conflict,
            ),
            (
                400,
                r#"{"error":{"code":"0x80060892","message":"Entity Key lb_externalkey violated."}}"#,
                ErrorKind::Conflict,
            ),
            (
                429,
                r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#,
                ErrorKind::Throttled,
            ),
            (
                400,
                r#"{"error":{"code":"0x80044331","message":"A validation error occurred."}}"#,
                ErrorKind::Validation,
            ),
            (
                500,
                r#"{"error":{"code":"0x80040216","message":"An unexpected error occurred."}}"#,
                ErrorKind::CrmApi,
            ),
            (502, "<html>Bad gateway</html>", ErrorKind::CrmApi),
        ];
        for (status, body, kind) in cases {
            let e = error(status, body);
            assert_eq!(e.kind(), kind, "{status} {body}");
            assert_eq!(e.status(), Some(status));
        }
    }

    #[test]
    fn the_original_code_and_message_are_kept() {
        let e = error(
            403,
            r#"{"error":{"code":"0x80040220","message":"Principal user is missing prvReadLead privilege"}}"#,
        );
        assert_eq!(e.code(), Some("0x80040220"));
        assert!(e.to_string().contains("missing prvReadLead privilege"));
        assert_eq!(
            e.connection_message(),
            ConnectionMessage::InsufficientPrivileges
        );
    }

    #[test]
    fn a_body_that_is_not_json_keeps_an_excerpt() {
        let e = error(503, &"x".repeat(1000));
        let f = e.api_failure().unwrap();
        assert_eq!(f.message.len(), 200);
        assert_eq!(e.connection_message(), ConnectionMessage::ApiError);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        let e = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}");
        match e {
            Error::Throttled { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
    }
}
