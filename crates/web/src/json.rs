//! Request bodies and query strings read strictly: a body that is not JSON, is the wrong shape,
//! is too large or has the wrong media type becomes a problem+json naming what is wrong and where;
//! so does a path parameter that cannot be an id.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::header;
use http::request::Parts;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::problem::{Problem, ProblemCode};

/// A JSON request body of type `T`. DTOs use `#[serde(deny_unknown_fields)]` so a misspelt field
/// is an error instead of being silently ignored.
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Problem::new(ProblemCode::UnsupportedMediaType)
                .detail("Send the body as application/json."));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(StrictJson)
    }
}

/// The request body as bytes, within the route's size limit, for bodies that are not JSON.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(ProblemCode::PayloadTooLarge)
                } else {
                    Problem::new(ProblemCode::UnreadableBody).detail(rejection.body_text())
                }
            })
    }
}

/// Parses a JSON document into `T`, reporting syntax errors with their position and shape errors
/// with the path of the offending value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::new(ProblemCode::MalformedJson).detail("The request body is empty."));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| {
        Problem::new(ProblemCode::MalformedJson)
            .detail(format!("Unexpected content after the JSON value: {e}"))
    })?;
    if json_has_nul(bytes) {
        return Err(nul_problem(ProblemCode::InvalidBody));
    }
    Ok(value)
}

/// Text with U+0000 is refused everywhere: PostgreSQL cannot store it, and SQLite would keep what
/// PostgreSQL refuses, so the two databases would disagree.
pub(crate) fn nul_problem(code: ProblemCode) -> Problem {
    Problem::new(code).detail("Text cannot contain the NUL character (U+0000).")
}

/// Whether a well-formed JSON text has a string holding U+0000. In well-formed JSON a backslash
/// only starts an escape inside a string, so skipping each escape whole makes the scan exact.
pub(crate) fn json_has_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => Problem::new(ProblemCode::InvalidBody)
            .field(path_text(&path), strip_position(&inner.to_string())),
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => {
            Problem::new(ProblemCode::MalformedJson).detail(inner.to_string())
        }
    }
}

/// serde_path_to_error says `.` for the whole value and `?` where it lost track; both are "here".
pub(crate) fn path_text(path: &str) -> &str {
    if path == "." || path == "?" { "" } else { path }
}

/// serde_json appends " at line 1 column 17" to data errors; the path already says where.
pub(crate) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn is_json_content_type(value: Option<&http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Query-string parameters of type `T`, with problem+json errors naming the parameter.
#[derive(Debug, Clone)]
pub struct StrictQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for StrictQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(nul_problem(ProblemCode::InvalidQuery));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(StrictQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                Problem::new(ProblemCode::InvalidQuery)
                    .field(path_text(&path), e.into_inner().to_string())
            })
    }
}

/// A secret in a request body (a password, a client secret): kept in a [`SecretString`] from the
/// moment it is parsed, so it never shows in `Debug` output or logs.
pub struct SecretText(pub SecretString);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| SecretText(SecretString::from(s)))
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(***)")
    }
}

/// Path parameters of type `T` (ids): a value that cannot be an id names nothing, so it is a
/// problem+json 404 rather than axum's plain-text 400.
#[derive(Debug, Clone)]
pub struct StrictPath<T>(pub T);

impl<S, T> FromRequestParts<S> for StrictPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(StrictPath(value)),
            Err(rejection) => Err(Problem::new(ProblemCode::NotFound).detail(format!(
                "There is nothing at {}: {}",
                parts.uri.path(),
                rejection.body_text()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Note {
        text: String,
        copy_to_crm: bool,
    }

    #[test]
    fn well_formed_body_parses() {
        let n: Note =
            parse_json(r#"{"text":"Grüße, 東京 👋","copy_to_crm":true}"#.as_bytes()).unwrap();
        assert_eq!(n.text, "Grüße, 東京 👋");
        assert!(n.copy_to_crm);
    }

    #[test]
    fn syntax_errors_are_malformed_json_with_position() {
        let p = parse_json::<Note>(br#"{"text": "a", "#).unwrap_err();
        assert_eq!(p.code, ProblemCode::MalformedJson);
        assert_eq!(p.status(), 400);
        assert!(p.detail.unwrap().contains("line 1"));
        assert_eq!(
            parse_json::<Note>(b"  ").unwrap_err().code,
            ProblemCode::MalformedJson
        );
        let trailing = parse_json::<Note>(br#"{"text":"a","copy_to_crm":true} x"#).unwrap_err();
        assert_eq!(trailing.code, ProblemCode::MalformedJson);
    }

    #[test]
    fn shape_errors_name_the_field() {
        let wrong_type = parse_json::<Note>(br#"{"text":"a","copy_to_crm":"yes"}"#).unwrap_err();
        assert_eq!(wrong_type.code, ProblemCode::InvalidBody);
        assert_eq!(wrong_type.status(), 422);
        assert_eq!(wrong_type.errors[0].path, "copy_to_crm");
        assert!(wrong_type.errors[0].message.contains("expected a boolean"));

        let unknown =
            parse_json::<Note>(br#"{"text":"a","copy_to_crm":true,"txt":1}"#).unwrap_err();
        assert!(unknown.errors[0].message.contains("unknown field `txt`"));

        let missing = parse_json::<Note>(br#"{"text":"a"}"#).unwrap_err();
        assert!(
            missing.errors[0]
                .message
                .contains("missing field `copy_to_crm`")
        );
    }

    #[test]
    fn nul_characters_are_refused_wherever_they_are() {
        let p = parse_json::<Note>(br#"{"text":"a\u0000b","copy_to_crm":true}"#).unwrap_err();
        assert_eq!(p.code, ProblemCode::InvalidBody);
        assert!(json_has_nul(br#"["\u0000"]"#));
        // An escaped backslash followed by the letters u0000 is not a NUL.
        assert!(!json_has_nul(br#"["\\u0000"]"#));
        assert!(json_has_nul(br#"["\\\u0000"]"#));
        assert!(!json_has_nul(br#"["\u00e9", "\n"]"#));
    }

    #[test]
    fn json_media_types() {
        let ok = |v: &'static str| is_json_content_type(Some(&http::HeaderValue::from_static(v)));
        assert!(ok("application/json"));
        assert!(ok("Application/JSON; charset=utf-8"));
        assert!(ok("application/merge-patch+json"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type(None));
    }
}
