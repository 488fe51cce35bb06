//! Who is looking at a page: the browser session behind the cookie (pages never take API tokens),
//! the token every form posts back (CSRF), the language, and the role checks that send others away.
//!
//! The form token is the session's CSRF token once signed in; before that (the sign-in and
//! language forms) it is a random double-submit token in its own cookie.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use domain::ids::SeatId;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use secrecy::SecretString;

use crate::auth::{Caller, Credential, SESSION_COOKIE, cookie, csrf};
use crate::state::AppState;
use crate::ui::error::UiError;
use crate::ui::i18n::{Lang, Tr};

/// The language the user chose with the switcher.
pub const LANG_COOKIE: &str = "lb_lang";
/// The double-submit form token of a browser that is not signed in.
pub const FORM_TOKEN_COOKIE: &str = "lb_form";
/// The form field every form posts its token in.
pub const FORM_TOKEN_FIELD: &str = "csrf";

/// The language of a request, whoever makes it (a signed-in user's own choice is applied by
/// [`Viewer`]).
pub fn tr_of(headers: &HeaderMap) -> Tr {
    Tr::new(Lang::negotiate(
        cookie::find(headers, LANG_COOKIE).as_deref(),
        headers,
    ))
}

/// The token a form on this request's page must post back: the session's CSRF token, or the
/// anonymous double-submit cookie.
pub fn form_token(headers: &HeaderMap) -> Option<String> {
    match cookie::find(headers, SESSION_COOKIE) {
        Some(session) => Some(csrf::token_for(&SecretString::from(session))),
        None => cookie::find(headers, FORM_TOKEN_COOKIE),
    }
}

/// A fresh anonymous form token (two random UUIDs: 244 random bits).
pub fn new_form_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether the request came from htmx (it then wants a fragment, and redirects as a header).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// A local path to go back to after signing in or switching language; anything else (another
/// site, a protocol-relative `//host`) is refused so the redirect cannot be used to phish.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    local.then(|| next.to_owned())
}

/// A signed-in user looking at a page.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub caller: Caller,
    /// What the page's forms post back.
    pub csrf: String,
    pub t: Tr,
    /// The page's path and query, to come back to.
    pub here: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, UiError> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let t = tr_of(&parts.headers);
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let sign_in = || UiError::sign_in(t, &here, is_htmx(&parts.headers));
        let Some(token) = cookie::find(&parts.headers, SESSION_COOKIE) else {
            return Err(sign_in());
        };
        let token = SecretString::from(token);
        let Some(found) = state
            .store
            .session_user(&token)
            .await
            .map_err(|e| UiError::store(t, e))?
        else {
            return Err(sign_in());
        };
        let csrf = csrf::token_for(&token);
        // The user's own choice follows them to every browser; without one, this browser's.
        let t = found
            .user
            .language
            .as_deref()
            .and_then(Lang::from_code)
            .map_or(t, Tr::new);
        let viewer = Viewer {
            caller: Caller {
                user: found.user,
                credential: Credential::Session {
                    csrf_token: csrf.clone(),
                },
                expires_at: found.expires_at,
            },
            csrf,
            t,
            here,
        };
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// A signed-in admin.
#[derive(Clone, Debug)]
pub struct AdminViewer(pub Viewer);

impl AdminViewer {
    /// The API's admin extractor for the same caller.
    pub fn api(&self) -> crate::auth::AdminUser {
        crate::auth::AdminUser(self.0.caller.clone())
    }
}

impl FromRequestParts<AppState> for AdminViewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        if viewer.caller.user.admin {
            Ok(AdminViewer(viewer))
        } else {
            Err(UiError::forbidden(viewer.t, "error.admin_only"))
        }
    }
}

/// A signed-in seat holder (a rep).
#[derive(Clone, Debug)]
pub struct RepViewer {
    pub viewer: Viewer,
    pub seat: SeatId,
}

impl RepViewer {
    /// The API's seat-holder extractor for the same caller.
    pub fn api(&self) -> crate::auth::SeatHolder {
        crate::auth::SeatHolder {
            caller: self.viewer.caller.clone(),
            seat: self.seat,
        }
    }
}

impl FromRequestParts<AppState> for RepViewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        match viewer.caller.user.seat {
            Some(seat) => Ok(RepViewer { viewer, seat }),
            None => Err(UiError::forbidden(viewer.t, "error.seat_only")),
        }
    }
}

/// A posted form (`application/x-www-form-urlencoded`) whose token matched; the fields in order,
/// repeated names kept (checkbox lists).
#[derive(Clone, Debug, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub fn from_pairs(fields: Vec<(String, String)>) -> Form {
        Form { fields }
    }

    /// The first value of `name`, as typed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` trimmed; empty is `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A ticked checkbox (browsers send nothing for an unticked one).
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Form, UiError> {
        let t = tr_of(request.headers());
        let expected = form_token(request.headers());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    UiError::message(t, StatusCode::PAYLOAD_TOO_LARGE, "error.too_large")
                } else {
                    UiError::message(t, StatusCode::BAD_REQUEST, "error.unreadable_form")
                }
            })?;
        let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let sent = fields
            .iter()
            .find(|(n, _)| n == FORM_TOKEN_FIELD)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        match expected {
            Some(expected) if csrf::matches(sent, &expected) => Ok(Form { fields }),
            _ => Err(UiError::message(t, StatusCode::FORBIDDEN, "error.csrf")),
        }
    }
}

/// `Set-Cookie` for a cookie the UI keeps for a year (the language, the anonymous form token).
pub fn long_cookie(name: &str, value: &str, secure: bool) -> Option<HeaderValue> {
    cookie::set(name, value, chrono::TimeDelta::days(365), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/leads?x=1")).as_deref(), Some("/leads?x=1"));
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil",
            "leads",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_next(Some("/a\r\nSet-Cookie: x")), None);
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn form_token_is_the_session_token_once_signed_in() {
        let mut headers = HeaderMap::new();
        assert_eq!(form_token(&headers), None);
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_static("lb_form=abc"),
        );
        assert_eq!(form_token(&headers).as_deref(), Some("abc"));
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_static("lb_form=abc; lb_session=lbs_x"),
        );
        let session = csrf::token_for(&SecretString::from("lbs_x".to_owned()));
        assert_eq!(form_token(&headers), Some(session));
    }

    #[test]
    fn forms_keep_repeated_fields() {
        let form = Form::from_pairs(vec![
            ("id".into(), "a".into()),
            ("q".into(), "  x ".into()),
            ("id".into(), "b".into()),
            ("blank".into(), " ".into()),
        ]);
        assert_eq!(form.all("id"), ["a", "b"]);
        assert_eq!(form.text("q").as_deref(), Some("x"));
        assert_eq!(form.text("blank"), None);
        assert!(form.ticked("blank"));
        assert!(!form.ticked("missing"));
    }
}
