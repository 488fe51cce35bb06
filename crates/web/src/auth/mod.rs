//! Who is calling: a bearer API token or a browser session cookie, checked against the store on
//! every request, CSRF protection for cookie-authenticated writes, and the role extractors.
//!
//! Roles are enforced here, on the server: a handler that takes [`AdminUser`] cannot run for a
//! rep, and one that takes [`SeatHolder`] gets the caller's own seat to scope every query by.
//! Extractors run in argument order, so a role extractor placed first answers 401/403 before the
//! body is even read.

pub mod cookie;
pub mod csrf;

use axum::extract::FromRequestParts;
use chrono::{DateTime, Utc};
use domain::ids::SeatId;
use domain::tenant::User;
use http::request::Parts;
use http::{Method, header};
use secrecy::SecretString;
use store::TenantStore;

use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// The browser session cookie (HttpOnly, SameSite=Lax).
pub const SESSION_COOKIE: &str = "lb_session";
/// Where a cookie-authenticated write carries its CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    ApiToken,
    /// A browser session; its CSRF token is what forms and scripts of the page send back.
    Session {
        csrf_token: String,
    },
}

/// The signed-in user behind a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub credential: Credential,
    pub expires_at: DateTime<Utc>,
}

impl Caller {
    /// The store bound to the caller's tenant: nothing else is reachable from a handler.
    pub fn tenant(&self, state: &AppState) -> TenantStore {
        state.store.tenant(self.user.tenant)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Problem> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = authenticate(parts, state).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, Problem> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = bearer_token(value).ok_or_else(|| {
            Problem::new(ProblemCode::Unauthenticated)
                .detail("Send the API token as `Authorization: Bearer <token>`.")
        })?;
        let found = state.store.api_token_user(&token).await?.ok_or_else(|| {
            Problem::new(ProblemCode::Unauthenticated)
                .detail("This API token is unknown, expired or revoked.")
                .next_step("Get a new token from POST /api/v1/auth/token.")
        })?;
        return Ok(Caller {
            user: found.user,
            credential: Credential::ApiToken,
            expires_at: found.expires_at,
        });
    }
    let Some(session) = cookie::find(&parts.headers, SESSION_COOKIE) else {
        return Err(Problem::new(ProblemCode::Unauthenticated)
            .detail("Sign in, or send `Authorization: Bearer <token>`."));
    };
    let session = SecretString::from(session);
    let found = state.store.session_user(&session).await?.ok_or_else(|| {
        Problem::new(ProblemCode::Unauthenticated).detail("Your session has ended. Sign in again.")
    })?;
    let csrf_token = csrf::token_for(&session);
    if !is_safe(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !csrf::matches(sent, &csrf_token) {
            return Err(Problem::new(ProblemCode::CsrfFailed).detail(format!(
                "A signed-in browser must send its CSRF token in the {CSRF_HEADER} header."
            )));
        }
    }
    Ok(Caller {
        user: found.user,
        credential: Credential::Session { csrf_token },
        expires_at: found.expires_at,
    })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer_token(value: &http::HeaderValue) -> Option<SecretString> {
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| SecretString::from(token.to_owned()))
}

/// A caller who is an admin of the tenant.
#[derive(Clone, Debug)]
pub struct AdminUser(pub Caller);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.user.admin {
            Ok(AdminUser(caller))
        } else {
            Err(Problem::new(ProblemCode::Forbidden)
                .detail("Only an admin of this workspace can do this."))
        }
    }
}

/// A caller who holds a seat (a rep); `seat` scopes everything the rep reads and writes.
#[derive(Clone, Debug)]
pub struct SeatHolder {
    pub caller: Caller,
    pub seat: SeatId,
}

impl FromRequestParts<AppState> for SeatHolder {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.user.seat {
            Some(seat) => Ok(SeatHolder { caller, seat }),
            None => Err(Problem::new(ProblemCode::Forbidden)
                .detail("This needs a seat.")
                .next_step("Ask an admin of your workspace to assign you a seat.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let parse = |v: &'static str| {
            bearer_token(&http::HeaderValue::from_static(v)).map(|t| t.expose_secret().to_owned())
        };
        assert_eq!(parse("Bearer lbt_abc").as_deref(), Some("lbt_abc"));
        assert_eq!(parse("bearer  lbt_abc ").as_deref(), Some("lbt_abc"));
        assert_eq!(parse("Basic dXNlcjpwYXNz"), None);
        assert_eq!(parse("Bearer "), None);
        assert_eq!(parse("Bearer"), None);
    }

    #[test]
    fn only_reads_are_safe_from_csrf() {
        assert!(is_safe(&Method::GET));
        assert!(is_safe(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_safe(&method), "{method}");
        }
    }
}
