//! Signing in and out: bearer API tokens for scripts and the mobile app, browser sessions with
//! their CSRF token, the caller's own profile and API tokens.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::tenant::User;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::accounts::{ApiTokenId, SignIn};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Caller, Credential, SESSION_COOKIE, cookie};
use crate::json::{SecretText, StrictJson, StrictPath};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// The name tokens from `POST /api/v1/auth/token` get in the caller's token list.
const SIGNED_IN_TOKEN_NAME: &str = "Signed in with email and password";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretText,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once; only its hash is stored.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub admin: bool,
    /// The seat the user holds; a user with a seat is a rep.
    pub seat_id: Option<Uuid>,
    /// The UI language the user chose (en, it, nl, pt, es, fr); `null`: each browser's own.
    pub language: Option<String>,
    /// With a browser session: the token to send in `X-CSRF-Token` on every write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// When the session or token the request was signed with expires.
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// Send in the `X-CSRF-Token` header on every write made with the session cookie.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The client's address, for throttling sign-in attempts per address.
pub(crate) struct ClientAddress(pub(crate) Option<String>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| last_forwarded_for(&parts.headers))
            .flatten();
        let peer = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        Ok(ClientAddress(
            forwarded.or_else(peer).map(|ip| ip.to_string()),
        ))
    }
}

/// The address the nearest proxy appended: the last one it could parse.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
}

async fn sign_in(
    state: &AppState,
    request: &SignInRequest,
    address: Option<&str>,
) -> Result<User, Problem> {
    match state
        .store
        .sign_in(&request.email, &request.password.0, address)
        .await?
    {
        SignIn::SignedIn(user) => Ok(user),
        SignIn::WrongCredentials => Err(Problem::new(ProblemCode::Unauthenticated)
            .detail("The email address or the password is wrong.")),
        SignIn::LockedOut { until } => {
            let seconds = until
                .signed_duration_since(state.store.now())
                .num_seconds()
                .max(1);
            let minutes = (seconds + 59) / 60;
            Err(Problem::new(ProblemCode::TooManyRequests)
                .detail(format!(
                    "Too many failed sign-ins. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ))
                .retry_after(u64::try_from(seconds).unwrap_or(1)))
        }
    }
}

/// Exchanges an email and password for a bearer API token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", security(()),
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn create_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    StrictJson(request): StrictJson<SignInRequest>,
) -> Result<Json<TokenResponse>, Problem> {
    let user = sign_in(&state, &request, address.as_deref()).await?;
    let issued = state
        .store
        .tenant(user.tenant)
        .create_api_token(
            user.id,
            SIGNED_IN_TOKEN_NAME,
            state.config.api_token_lifetime,
        )
        .await?;
    Ok(Json(TokenResponse {
        token: issued.token.expose_secret().to_owned(),
        expires_at: issued.expires_at,
    }))
}

/// Signs a browser in: sets the HttpOnly session cookie and returns the session's CSRF token.
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", security(()),
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionResponse),
        (status = 401, description = "Wrong email or password", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn create_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    StrictJson(request): StrictJson<SignInRequest>,
) -> Result<Response, Problem> {
    let user = sign_in(&state, &request, address.as_deref()).await?;
    let lifetime = state.config.session_lifetime;
    let issued = state
        .store
        .tenant(user.tenant)
        .create_session(user.id, lifetime)
        .await?;
    let secure = cookie::secure(state.config.cookies, &headers);
    let set_cookie = cookie::set(
        SESSION_COOKIE,
        issued.token.expose_secret(),
        lifetime,
        secure,
    )
    .ok_or_else(|| Problem::internal(&"a session token is not a valid cookie value"))?;
    let body = SessionResponse {
        csrf_token: crate::auth::csrf::token_for(&issued.token),
        expires_at: issued.expires_at,
    };
    Ok(([(header::SET_COOKIE, set_cookie)], Json(body)).into_response())
}

/// Signs a browser out: ends the session and clears its cookie.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "Signed out")))]
async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if caller.credential == Credential::ApiToken {
        return Err(Problem::new(ProblemCode::Conflict)
            .detail("This request is signed with an API token, not a browser session.")
            .next_step("Revoke API tokens with DELETE /api/v1/me/tokens/{id}."));
    }
    if let Some(token) = cookie::find(&headers, SESSION_COOKIE) {
        state.store.end_session(&SecretString::from(token)).await?;
    }
    let secure = cookie::secure(state.config.cookies, &headers);
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie::clear(SESSION_COOKIE, secure))],
    )
        .into_response())
}

/// Who the caller is: name, roles, seat, and (for a browser session) the CSRF token.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The signed-in user", body = Me)))]
async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        id: caller.user.id.as_uuid(),
        email: caller.user.email,
        display_name: caller.user.display_name,
        admin: caller.user.admin,
        seat_id: caller.user.seat.map(|s| s.as_uuid()),
        language: caller.user.language,
        csrf_token: match caller.credential {
            Credential::Session { csrf_token } => Some(csrf_token),
            Credential::ApiToken => None,
        },
        expires_at: caller.expires_at,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    /// The UI language to use in every browser: en, it, nl, pt, es or fr; `null` (or left out)
    /// lets each browser's own language decide again.
    pub language: Option<String>,
}

/// Changes the caller's own settings (their UI language).
#[utoipa::path(patch, path = "/api/v1/me", tag = "auth",
    request_body = MeUpdate,
    responses((status = 200, description = "The signed-in user, changed", body = Me)))]
async fn update_me(
    State(state): State<AppState>,
    mut caller: Caller,
    StrictJson(body): StrictJson<MeUpdate>,
) -> Result<Json<Me>, Problem> {
    let language = match body.language.as_deref() {
        None => None,
        Some(code) => Some(
            crate::ui::i18n::Lang::from_code(code)
                .ok_or_else(|| {
                    Problem::new(ProblemCode::ValidationFailed)
                        .field("language", "must be one of en, it, nl, pt, es, fr")
                })?
                .code(),
        ),
    };
    caller
        .tenant(&state)
        .set_language(caller.user.id, language)
        .await?;
    caller.user.language = language.map(str::to_owned);
    Ok(me(caller).await)
}

/// The caller's API tokens, newest first (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "auth",
    responses((status = 200, description = "The caller's API tokens", body = Vec<ApiTokenView>)))]
async fn my_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiTokenView>>, Problem> {
    let tokens = caller.tenant(&state).api_tokens(caller.user.id).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| ApiTokenView {
                id: t.id.0,
                name: t.name,
                created_at: t.created_at,
                expires_at: t.expires_at,
                revoked_at: t.revoked_at,
                last_used_at: t.last_used_at,
            })
            .collect(),
    ))
}

/// Revokes one of the caller's API tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The token's id from GET /api/v1/me/tokens")),
    responses((status = 204, description = "Revoked")))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    StrictPath(id): StrictPath<Uuid>,
) -> Result<StatusCode, Problem> {
    let mut tenant = caller.tenant(&state);
    let own = tenant
        .api_tokens(caller.user.id)
        .await?
        .iter()
        .any(|t| t.id.0 == id);
    if !own {
        return Err(Problem::not_found("API token"));
    }
    tenant.revoke_api_token(ApiTokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(create_token))
        .routes(routes!(create_session, end_session))
        .routes(routes!(me, update_me))
        .routes(routes!(my_tokens))
        .routes(routes!(revoke_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_appended_address_is_the_last() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_forwarded_for(&headers), None);
        headers.append("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
        headers.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        assert_eq!(
            last_forwarded_for(&headers),
            Some("198.51.100.7".parse().unwrap())
        );
        headers.insert("x-forwarded-for", "spoofed, not-an-ip".parse().unwrap());
        assert_eq!(last_forwarded_for(&headers), None);
    }
}
