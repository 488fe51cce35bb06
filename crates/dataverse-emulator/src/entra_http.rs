//! HTTP handlers of the emulated Entra ID: the token endpoint (client credentials, authorization
//! code with PKCE, refresh token), the sign-in page listing the org's users, admin consent, and
//! the key and OpenID discovery documents.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::entra::{EntraError, EntraState, SignedInUser, TokenIssuer};
use crate::server::Emulator;
use crate::value::Value;

fn entra_error(em: &Emulator, e: EntraError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        e.body(em.now()).to_string(),
    )
        .into_response()
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The resource of a scope list (`https://org/.default offline_access` → `https://org`).
fn resource_of(scope: &str) -> Option<String> {
    scope
        .split_whitespace()
        .find(|s| s.starts_with("http"))
        .map(|s| {
            s.trim_end_matches("/.default")
                .trim_end_matches("/user_impersonation")
                .trim_end_matches('/')
                .to_string()
        })
}

fn check_resource(em: &Emulator, scope: &str, tenant: &str) -> Result<String, EntraError> {
    let resource = resource_of(scope).ok_or_else(|| {
        EntraError::new(400, "invalid_scope", 70011, format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'."))
    })?;
    if !resource.eq_ignore_ascii_case(&em.info.org_url) {
        return Err(EntraError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        ));
    }
    Ok(resource)
}

pub async fn token(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).map(String::as_str);
    let now = em.now();
    let mut entra = em.entra.lock();
    let result = (|| -> Result<serde_json::Value, EntraError> {
        entra.check_tenant(&tenant)?;
        let client_id = get("client_id").ok_or_else(|| {
            EntraError::new(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        })?;
        let app = entra.app(client_id)?.clone();
        let lifetime = entra.access_token_lifetime;
        let issuer = TokenIssuer {
            key: em.key(),
            tenant_id: entra.tenant_id,
            now,
            lifetime,
        };
        let internal =
            |e: anyhow::Error| EntraError::new(500, "server_error", 50000, e.to_string());
        match get("grant_type") {
            Some("client_credentials") => {
                EntraState::check_secret(&app, get("client_secret"))?;
                let scope = get("scope").unwrap_or_default();
                if !scope.trim_end().ends_with("/.default") {
                    return Err(EntraError::new(
                        400,
                        "invalid_scope",
                        1002012,
                        format!(
                            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                        ),
                    ));
                }
                let resource = check_resource(&em, scope, &tenant)?;
                let token = issuer
                    .access_token(&resource, &app, None)
                    .map_err(internal)?;
                Ok(
                    serde_json::json!({"token_type": "Bearer", "expires_in": lifetime.num_seconds(), "ext_expires_in": lifetime.num_seconds(), "access_token": token}),
                )
            }
            Some("authorization_code") => {
                if get("client_secret").is_some() {
                    EntraState::check_secret(&app, get("client_secret"))?;
                }
                let code = get("code").unwrap_or_default();
                let (user, scope) = entra.redeem_code(
                    code,
                    app.client_id,
                    get("redirect_uri"),
                    get("code_verifier"),
                    now,
                )?;
                grant_user_tokens(&em, &mut entra, &issuer, &app, user, &scope, &tenant)
            }
            Some("refresh_token") => {
                if get("client_secret").is_some() {
                    EntraState::check_secret(&app, get("client_secret"))?;
                }
                let grant = entra.redeem_refresh(
                    get("refresh_token").unwrap_or_default(),
                    app.client_id,
                    now,
                )?;
                let scope = get("scope").map(str::to_string).unwrap_or(grant.scope);
                grant_user_tokens(&em, &mut entra, &issuer, &app, grant.user, &scope, &tenant)
            }
            other => Err(EntraError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!(
                    "The app requested an unsupported grant type '{}'.",
                    other.unwrap_or("")
                ),
            )),
        }
    })();
    drop(entra);
    if matches!(
        get("grant_type"),
        Some("authorization_code" | "refresh_token")
    ) {
        // Refresh tokens are kept across restarts, like a real tenant's.
        em.changed();
    }
    match result {
        Ok(v) => (
            StatusCode::OK,
            [
                ("content-type", "application/json; charset=utf-8"),
                ("cache-control", "no-store"),
            ],
            v.to_string(),
        )
            .into_response(),
        Err(e) => entra_error(&em, e),
    }
}

fn grant_user_tokens(
    em: &Emulator,
    entra: &mut EntraState,
    issuer: &TokenIssuer<'_>,
    app: &crate::entra::AppRegistration,
    user: SignedInUser,
    scope: &str,
    tenant: &str,
) -> Result<serde_json::Value, EntraError> {
    let resource = check_resource(em, scope, tenant)?;
    let internal = |e: anyhow::Error| EntraError::new(500, "server_error", 50000, e.to_string());
    let access = issuer
        .access_token(&resource, app, Some(&user))
        .map_err(internal)?;
    let mut out = serde_json::json!({
        "token_type": "Bearer",
        "scope": format!("{resource}/user_impersonation"),
        "expires_in": issuer.lifetime.num_seconds(),
        "ext_expires_in": issuer.lifetime.num_seconds(),
        "access_token": access,
    });
    if scope.split_whitespace().any(|s| s == "offline_access") {
        out["refresh_token"] =
            serde_json::json!(entra.issue_refresh(app.client_id, user.clone(), scope, issuer.now));
    }
    if scope.split_whitespace().any(|s| s == "openid") {
        out["id_token"] = serde_json::json!(
            issuer
                .id_token(&em.info.authority_url, app, &user)
                .map_err(internal)?
        );
    }
    Ok(out)
}

/// The org's interactive users: enabled systemusers with an Entra identity and an e-mail.
fn sign_in_users(em: &Emulator) -> Vec<(SignedInUser, String)> {
    let org = em.org.read();
    let Some(t) = org.table_index("systemuser") else {
        return Vec::new();
    };
    let def = org.def(t);
    let col = |name: &str| def.ordinal(name);
    let (Some(oid), Some(email), Some(full), Some(disabled), Some(app)) = (
        col("azureactivedirectoryobjectid"),
        col("internalemailaddress"),
        col("fullname"),
        col("isdisabled"),
        col("applicationid"),
    ) else {
        return Vec::new();
    };
    let mut users: Vec<(SignedInUser, String)> = org
        .table(t)
        .rows
        .values()
        .filter_map(|r| {
            let v = |o| crate::value::cell(&r.values, o);
            match (v(oid), v(email), v(disabled), v(app)) {
                (Value::Guid(oid), Value::String(email), d, Value::Null)
                    if d != &Value::Bool(true) =>
                {
                    let name = match v(full) {
                        Value::String(s) => s.to_string(),
                        _ => email.to_string(),
                    };
                    Some((
                        SignedInUser {
                            object_id: *oid,
                            upn: email.to_string(),
                            name: name.clone(),
                        },
                        name,
                    ))
                }
                _ => None,
            }
        })
        .collect();
    users.sort_by(|a, b| a.0.upn.cmp(&b.0.upn));
    users
}

const PAGE_STYLE: &str = "body{font-family:'Segoe UI',system-ui,sans-serif;background:#f2f2f2;margin:0}main{max-width:440px;margin:48px auto;background:#fff;padding:32px;box-shadow:0 2px 6px rgba(0,0,0,.2)}h1{font-size:24px;font-weight:600}button{display:block;width:100%;text-align:left;padding:10px 12px;margin:6px 0;border:1px solid #ccc;background:#fff;cursor:pointer;font-size:15px}button:hover,button:focus{background:#eef4fb;outline:2px solid #0067b8}.small{color:#555;font-size:13px}.cancel{text-align:center;background:#eee}";

pub async fn authorize_page(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let checked = {
        let entra = em.entra.lock();
        entra.check_tenant(&tenant).and_then(|_| {
            entra
                .app(q.get("client_id").map(String::as_str).unwrap_or(""))
                .cloned()
        })
    };
    let app = match checked {
        Ok(app) => app,
        Err(e) => return (StatusCode::BAD_REQUEST, Html(format!("<!doctype html><title>Sign in</title><style>{PAGE_STYLE}</style><main><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{}: {}</p></main>", e.code, html_escape(&e.description)))).into_response(),
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !EntraState::redirect_allowed(&app, &redirect) {
        return (StatusCode::BAD_REQUEST, Html(format!("<!doctype html><title>Sign in</title><style>{PAGE_STYLE}</style><main><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS50011: The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{}'.</p></main>", html_escape(&redirect), app.client_id))).into_response();
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Redirect::to(&format!(
            "{redirect}?error=unsupported_response_type&error_description=AADSTS700054&state={}",
            url_encode(q.get("state").map(String::as_str).unwrap_or(""))
        ))
        .into_response();
    }
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "response_type",
        "nonce",
    ]
    .iter()
    .filter_map(|k| {
        q.get(*k).map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                html_escape(v)
            )
        })
    })
    .collect();
    let users: String = sign_in_users(&em)
        .iter()
        .map(|(u, name)| format!("<button type=\"submit\" name=\"user\" value=\"{}\">{}<br><span class=\"small\">{}</span></button>", u.object_id, html_escape(name), html_escape(&u.upn)))
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Sign in to your account</title><style>{PAGE_STYLE}</style></head><body><main><p class=\"small\">Microsoft Entra ID (leadbridge emulator)</p><h1>Pick an account</h1><p class=\"small\">to continue to {}</p><form method=\"post\">{hidden}{users}<button class=\"cancel\" type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></form></main></body></html>",
        html_escape(&app.display_name)
    ))
    .into_response()
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn authorize_submit(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let redirect = get("redirect_uri");
    let state = get("state");
    let app = {
        let entra = em.entra.lock();
        match entra
            .check_tenant(&tenant)
            .and_then(|_| entra.app(&get("client_id")).cloned())
        {
            Ok(app) => app,
            Err(e) => return entra_error(&em, e),
        }
    };
    if !EntraState::redirect_allowed(&app, &redirect) {
        return (
            StatusCode::BAD_REQUEST,
            "AADSTS50011: redirect URI mismatch",
        )
            .into_response();
    }
    if f.contains_key("cancel") {
        return Redirect::to(&format!(
            "{redirect}?error=access_denied&error_description={}&state={}",
            url_encode("AADSTS65004: User declined to consent to access the app."),
            url_encode(&state)
        ))
        .into_response();
    }
    let user = sign_in_users(&em)
        .into_iter()
        .map(|(u, _)| u)
        .find(|u| u.object_id.to_string() == get("user"));
    let Some(user) = user else {
        return Redirect::to(&format!(
            "{redirect}?error=access_denied&error_description={}&state={}",
            url_encode("AADSTS50034: The user account does not exist in this directory."),
            url_encode(&state)
        ))
        .into_response();
    };
    let challenge = f.get("code_challenge").cloned().filter(|c| !c.is_empty());
    if challenge.is_some()
        && f.get("code_challenge_method")
            .map(String::as_str)
            .unwrap_or("plain")
            != "S256"
    {
        return Redirect::to(&format!("{redirect}?error=invalid_request&error_description={}&state={}", url_encode("AADSTS501491: Invalid size of Code_Challenge parameter or unsupported code_challenge_method; only S256 is supported."), url_encode(&state))).into_response();
    }
    let code = em.entra.lock().issue_code(
        app.client_id,
        &redirect,
        challenge,
        &get("scope"),
        user,
        em.now(),
    );
    let sep = if redirect.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{redirect}{sep}code={}&state={}&session_state={}",
        url_encode(&code),
        url_encode(&state),
        Uuid::new_v4()
    ))
    .into_response()
}

pub async fn consent_page(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let app = {
        let entra = em.entra.lock();
        match entra.check_tenant(&tenant).and_then(|_| {
            entra
                .app(q.get("client_id").map(String::as_str).unwrap_or(""))
                .cloned()
        }) {
            Ok(app) => app,
            Err(e) => return entra_error(&em, e),
        }
    };
    let hidden: String = ["client_id", "redirect_uri", "state"]
        .iter()
        .filter_map(|k| {
            q.get(*k).map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                    html_escape(v)
                )
            })
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Permissions requested</title><style>{PAGE_STYLE}</style></head><body><main><h1>Permissions requested</h1><p><b>{}</b> needs permission to access Dynamics 365 as organization users (Dynamics CRM · user_impersonation) for your organization.</p><form method=\"post\">{hidden}<button type=\"submit\" name=\"accept\" value=\"1\">Accept</button><button class=\"cancel\" type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></form></main></body></html>",
        html_escape(&app.display_name)
    ))
    .into_response()
}

pub async fn consent_submit(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let redirect = get("redirect_uri");
    let state = get("state");
    let mut entra = em.entra.lock();
    if let Err(e) = entra.check_tenant(&tenant) {
        drop(entra);
        return entra_error(&em, e);
    }
    let tenant_id = entra.tenant_id;
    let Some(app) = Uuid::parse_str(&get("client_id"))
        .ok()
        .and_then(|id| entra.apps.get_mut(&id))
    else {
        return (StatusCode::BAD_REQUEST, "AADSTS700016: unknown application").into_response();
    };
    if f.contains_key("cancel") {
        return Redirect::to(&format!(
            "{redirect}?error=access_denied&error_description={}&state={}",
            url_encode("AADSTS65004: User declined to consent to access the app."),
            url_encode(&state)
        ))
        .into_response();
    }
    app.admin_consented = true;
    Redirect::to(&format!(
        "{redirect}?tenant={tenant_id}&state={}&admin_consent=True",
        url_encode(&state)
    ))
    .into_response()
}

pub async fn jwks(State(em): State<Arc<Emulator>>) -> Response {
    let k = em.key();
    axum::Json(serde_json::json!({"keys": [{"kty": "RSA", "use": "sig", "kid": k.kid, "n": k.n, "e": k.e, "alg": "RS256"}]})).into_response()
}

pub async fn openid_configuration(
    State(em): State<Arc<Emulator>>,
    Path(tenant): Path<String>,
) -> Response {
    let base = format!("{}/{tenant}", em.info.authority_url);
    axum::Json(serde_json::json!({
        "issuer": format!("{}/{}/v2.0", em.info.authority_url, em.info.tenant_id),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}
