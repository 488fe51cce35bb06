//! Signing in and out of the browser UI (the same store calls as `POST /api/v1/auth/session`,
//! with its throttling per client address), the language switcher, and the front door that sends each user to their
//! first page.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::tenant::User;
use http::{HeaderMap, StatusCode, Uri, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use store::accounts::SignIn;

use crate::api::auth::ClientAddress;
use crate::auth::{SESSION_COOKIE, cookie};
use crate::state::AppState;
use crate::ui::error::{OrPage, UiError};
use crate::ui::i18n::{Lang, Tr};
use crate::ui::session::{
    FORM_TOKEN_COOKIE, Form, LANG_COOKIE, Viewer, form_token, long_cookie, new_form_token,
    safe_next, tr_of,
};
use crate::ui::{Chrome, with_notice};

/// Where a user starts: admins on CRM Settings, reps on their leads, anyone else at the front
/// door, which tells them to ask for a seat.
fn home_of(user: &User) -> &'static str {
    if user.admin {
        "/admin/crm"
    } else if user.seat.is_some() {
        "/leads"
    } else {
        "/"
    }
}

pub async fn home(viewer: Result<Viewer, UiError>) -> Result<Redirect, UiError> {
    let viewer = viewer?;
    match home_of(&viewer.caller.user) {
        "/" => Err(UiError::forbidden(viewer.t, "error.no_role")),
        home => Ok(Redirect::to(home)),
    }
}

fn here(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/signin".to_owned(), |p| p.as_str().to_owned())
}

#[derive(Template)]
#[template(path = "ui/signin.html")]
struct SignInPage {
    t: Tr,
    c: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Result<Viewer, UiError>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<SignInQuery>,
) -> Result<Response, UiError> {
    if let Ok(viewer) = viewer {
        let to = safe_next(query.next.as_deref())
            .unwrap_or_else(|| home_of(&viewer.caller.user).to_owned());
        return Ok(Redirect::to(&to).into_response());
    }
    let t = tr_of(&headers);
    let secure = cookie::secure(state.config.cookies, &headers);
    let mut set_cookies = Vec::new();
    // A session cookie that no longer signs anyone in is dropped, so the form token is the
    // anonymous one the sign-in will check.
    if cookie::find(&headers, SESSION_COOKIE).is_some() {
        set_cookies.push(cookie::clear(SESSION_COOKIE, secure));
    }
    let token = match cookie::find(&headers, FORM_TOKEN_COOKIE) {
        Some(token) => token,
        None => {
            let token = new_form_token();
            set_cookies.extend(long_cookie(FORM_TOKEN_COOKIE, &token, secure));
            token
        }
    };
    let page = SignInPage {
        t,
        c: Chrome::anonymous(token, here(&uri)).notice(t, query.notice.as_deref()),
        email: String::new(),
        next: safe_next(query.next.as_deref()).unwrap_or_default(),
        error: None,
    };
    let mut response = Html(page.render().or_page(t)?).into_response();
    for value in set_cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, UiError> {
    let t = tr_of(&headers);
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let password = form.get("password").unwrap_or_default();
    let next = safe_next(form.get("next"));
    let again = |status: StatusCode, error: String| -> Result<Response, UiError> {
        let page = SignInPage {
            t,
            c: Chrome::anonymous(
                form_token(&headers).unwrap_or_default(),
                "/signin".to_owned(),
            ),
            email: email.clone(),
            next: next.clone().unwrap_or_default(),
            error: Some(error),
        };
        Ok((status, Html(page.render().or_page(t)?)).into_response())
    };
    if email.is_empty() || password.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.t("signin.missing").into_owned(),
        );
    }
    let password = SecretString::from(password.to_owned());
    let user = match state
        .store
        .sign_in(&email, &password, address.as_deref())
        .await
        .or_page(t)?
    {
        SignIn::SignedIn(user) => user,
        SignIn::WrongCredentials => {
            return again(StatusCode::UNAUTHORIZED, t.t("signin.wrong").into_owned());
        }
        SignIn::LockedOut { until } => {
            let seconds = until
                .signed_duration_since(state.store.now())
                .num_seconds()
                .max(1);
            return again(
                StatusCode::TOO_MANY_REQUESTS,
                t.t1("signin.locked", "minutes", (seconds + 59) / 60),
            );
        }
    };
    let lifetime = state.config.session_lifetime;
    let issued = state
        .store
        .tenant(user.tenant)
        .create_session(user.id, lifetime)
        .await
        .or_page(t)?;
    let secure = cookie::secure(state.config.cookies, &headers);
    let set_cookie = cookie::set(
        SESSION_COOKIE,
        issued.token.expose_secret(),
        lifetime,
        secure,
    )
    .ok_or_else(|| UiError::message(t, StatusCode::INTERNAL_SERVER_ERROR, "error.internal"))?;
    let to = next.unwrap_or_else(|| home_of(&user).to_owned());
    let mut response = ([(header::SET_COOKIE, set_cookie)], Redirect::to(&to)).into_response();
    // The user's own language becomes this browser's too, so that the pages seen signed out
    // (the sign-in page after signing out) keep speaking it.
    if let Some(lang) = user.language.as_deref().and_then(Lang::from_code)
        && let Some(value) = long_cookie(LANG_COOKIE, lang.code(), secure)
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    _form: Form,
) -> Result<Response, UiError> {
    if let Some(token) = cookie::find(&headers, SESSION_COOKIE) {
        state
            .store
            .end_session(&SecretString::from(token))
            .await
            .or_page(viewer.t)?;
    }
    let secure = cookie::secure(state.config.cookies, &headers);
    Ok((
        [(header::SET_COOKIE, cookie::clear(SESSION_COOKIE, secure))],
        Redirect::to(&with_notice("/signin", "signed_out")),
    )
        .into_response())
}

/// The language switcher: remembers the choice in a cookie and, for a signed-in user, as their
/// own setting (which then follows them to other browsers), and goes back to the page.
pub async fn language(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, UiError> {
    let Some(lang) = form.get("lang").and_then(Lang::from_code) else {
        return Err(UiError::message(
            tr_of(&headers),
            StatusCode::UNPROCESSABLE_ENTITY,
            "error.bad_request",
        ));
    };
    if let Some(token) = cookie::find(&headers, SESSION_COOKIE) {
        let t = Tr::new(lang);
        let signed_in = state
            .store
            .session_user(&SecretString::from(token))
            .await
            .or_page(t)?;
        if let Some(found) = signed_in {
            state
                .store
                .tenant(found.user.tenant)
                .set_language(found.user.id, Some(lang.code()))
                .await
                .or_page(t)?;
        }
    }
    let secure = cookie::secure(state.config.cookies, &headers);
    let to = safe_next(form.get("next")).unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&to).into_response();
    if let Some(value) = long_cookie(LANG_COOKIE, lang.code(), secure) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
