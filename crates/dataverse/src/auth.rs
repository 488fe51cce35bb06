//! Access tokens from Microsoft Entra ID: client credentials for an application user, and the
//! authorization-code flow with PKCE and rotating refresh tokens for an admin who signs in.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Digest;
use url::Url;

use crate::error::{AuthFailure, Error};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Where tokens come from: an Entra authority (public cloud by default, a sovereign cloud or the
/// emulator otherwise) and the tenant (GUID or domain).
#[derive(Debug, Clone)]
pub struct Authority {
    pub url: Url,
    pub tenant: String,
}

impl Authority {
    /// The public cloud authority for `tenant`.
    pub fn new(tenant: impl Into<String>) -> Authority {
        Authority {
            url: Url::parse(DEFAULT_AUTHORITY).expect("the default authority is a valid URL"),
            tenant: tenant.into(),
        }
    }

    pub fn with_url(url: Url, tenant: impl Into<String>) -> Authority {
        Authority {
            url,
            tenant: tenant.into(),
        }
    }

    fn endpoint(&self, leaf: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{leaf}",
            self.url.as_str().trim_end_matches('/'),
            self.tenant
        )
    }
}

/// An application user's credentials (server-to-server).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub authority: Authority,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The app registration an admin signs in through (authorization code with PKCE).
#[derive(Debug, Clone)]
pub struct UserSignIn {
    pub authority: Authority,
    pub client_id: String,
    /// Confidential web apps send their secret on code redemption and refresh; public ones don't.
    pub client_secret: Option<SecretString>,
    pub redirect_uri: String,
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    ClientCredentials(ClientCredentials),
    /// A signed-in user: the refresh token kept from an earlier sign-in, or none until
    /// [`crate::Client::exchange_code`] completes one.
    User {
        sign_in: UserSignIn,
        refresh_token: Option<SecretString>,
    },
}

/// A sign-in to start: send the browser to `url`; keep `state` and `verifier` until the redirect
/// comes back (check `state`, then pass the code and `verifier` to `exchange_code`).
#[derive(Debug)]
pub struct AuthorizeRequest {
    pub url: String,
    pub state: String,
    pub verifier: SecretString,
}

/// Random URL-safe text (PKCE verifiers, `state`), from the operating system's generator.
fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The delegated scopes an admin sign-in asks for: Dataverse as the user, plus a refresh token.
fn user_scope(resource: &str) -> String {
    format!("{resource}/user_impersonation offline_access")
}

impl UserSignIn {
    /// Builds the authorize URL with a fresh PKCE verifier and `state`.
    pub fn authorize(&self, resource: &str) -> Result<AuthorizeRequest, Error> {
        let verifier = random_text(32);
        let state = random_text(16);
        let mut url = Url::parse(&self.authority.endpoint("authorize"))
            .map_err(|e| Error::Config(format!("the authority URL is not valid: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &user_scope(resource))
            .append_pair("state", &state)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(AuthorizeRequest {
            url: url.into(),
            state,
            verifier: SecretString::from(verifier),
        })
    }
}

/// An access token and when to stop using it.
pub(crate) struct AccessToken {
    pub value: SecretString,
    /// Renew from this instant on (a margin before the real expiry).
    pub renew_at: Instant,
}

/// The outcome of one token request.
pub(crate) struct Grant {
    pub access: AccessToken,
    pub refresh_token: Option<SecretString>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenErrorResponse {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// Renewal starts five minutes before expiry, or a quarter of the lifetime for short-lived tokens.
fn renew_at(now: Instant, expires_in: Duration) -> Instant {
    now + expires_in - (expires_in / 4).min(Duration::from_secs(300))
}

/// The AADSTS number of an Entra error, from `error_codes` or the description text.
fn aadsts(codes: &[u32], description: &str) -> Option<u32> {
    codes.first().copied().or_else(|| {
        let start = description.find("AADSTS")? + "AADSTS".len();
        let digits: String = description[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

pub(crate) fn auth_error(error: &str, description: impl Into<String>) -> Error {
    Error::Auth(AuthFailure {
        status: 0,
        error: error.into(),
        aadsts: None,
        description: description.into(),
    })
}

/// POSTs a form to the token endpoint and reads a grant or Entra's refusal.
async fn token_request(
    http: &reqwest::Client,
    authority: &Authority,
    form: &[(&str, &str)],
) -> Result<Grant, Error> {
    let endpoint = authority.endpoint("token");
    let started = Instant::now();
    let response = http
        .post(&endpoint)
        .form(form)
        .send()
        .await
        .map_err(|e| crate::client::transport_error(&endpoint, &e))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| crate::client::transport_error(&endpoint, &e))?;
    if !status.is_success() {
        let parsed: TokenErrorResponse = serde_json::from_slice(&body).unwrap_or_default();
        return Err(Error::Auth(AuthFailure {
            status: status.as_u16(),
            aadsts: aadsts(&parsed.error_codes, &parsed.error_description),
            error: if parsed.error.is_empty() {
                "token_request_failed".into()
            } else {
                parsed.error
            },
            description: parsed.error_description,
        }));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        auth_error(
            "invalid_token_response",
            format!("the token endpoint answered with an unreadable body: {e}"),
        )
    })?;
    // Entra v2 sends a number, v1 a string; an absent value means the usual hour.
    let seconds = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    Ok(Grant {
        access: AccessToken {
            value: SecretString::from(parsed.access_token),
            renew_at: renew_at(started, Duration::from_secs(seconds)),
        },
        refresh_token: parsed.refresh_token.map(SecretString::from),
    })
}

impl ClientCredentials {
    pub(crate) async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: &str,
    ) -> Result<Grant, Error> {
        let scope = format!("{resource}/.default");
        token_request(
            http,
            &self.authority,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", self.client_secret.expose_secret()),
                ("scope", &scope),
            ],
        )
        .await
    }
}

impl UserSignIn {
    pub(crate) async fn redeem_code(
        &self,
        http: &reqwest::Client,
        resource: &str,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Grant, Error> {
        let scope = user_scope(resource);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier.expose_secret()),
            ("scope", scope.as_str()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        token_request(http, &self.authority, &form).await
    }

    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        resource: &str,
        refresh_token: &SecretString,
    ) -> Result<Grant, Error> {
        let scope = user_scope(resource);
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("refresh_token", refresh_token.expose_secret()),
            ("scope", scope.as_str()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        token_request(http, &self.authority, &form).await
    }
}

/// The cached access token and, for a signed-in user, the current refresh token. One renewal at a
/// time: callers waiting on the lock get the token the first one fetched.
pub(crate) struct TokenCache {
    auth: Auth,
    state: tokio::sync::Mutex<CacheState>,
}

struct CacheState {
    access: Option<AccessToken>,
    refresh_token: Option<SecretString>,
}

impl TokenCache {
    pub fn new(auth: Auth) -> TokenCache {
        let refresh_token = match &auth {
            Auth::User { refresh_token, .. } => refresh_token.clone(),
            Auth::ClientCredentials(_) => None,
        };
        TokenCache {
            auth,
            state: tokio::sync::Mutex::new(CacheState {
                access: None,
                refresh_token,
            }),
        }
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// A valid access token, fetched or renewed when needed.
    pub async fn bearer(
        &self,
        http: &reqwest::Client,
        resource: &str,
    ) -> Result<SecretString, Error> {
        let mut state = self.state.lock().await;
        if let Some(access) = &state.access
            && Instant::now() < access.renew_at
        {
            return Ok(access.value.clone());
        }
        let grant = match &self.auth {
            Auth::ClientCredentials(c) => c.fetch(http, resource).await?,
            Auth::User { sign_in, .. } => {
                let Some(refresh) = state.refresh_token.clone() else {
                    return Err(auth_error(
                        "not_signed_in",
                        "no refresh token: an admin has to sign in first",
                    ));
                };
                sign_in.refresh(http, resource, &refresh).await?
            }
        };
        Ok(Self::store(&mut state, grant))
    }

    fn store(state: &mut CacheState, grant: Grant) -> SecretString {
        let value = grant.access.value.clone();
        state.access = Some(grant.access);
        // Entra rotates refresh tokens; a response without one keeps the old one valid.
        if grant.refresh_token.is_some() {
            state.refresh_token = grant.refresh_token;
        }
        value
    }

    /// Forgets the access token (Dataverse refused it), so the next call fetches a new one.
    pub async fn invalidate(&self, refused: &SecretString) {
        let mut state = self.state.lock().await;
        if state
            .access
            .as_ref()
            .is_some_and(|a| a.value.expose_secret() == refused.expose_secret())
        {
            state.access = None;
        }
    }

    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        resource: &str,
        code: &str,
        verifier: &SecretString,
    ) -> Result<(), Error> {
        let Auth::User { sign_in, .. } = &self.auth else {
            return Err(Error::Config(
                "this client uses client credentials; there is no code to exchange".into(),
            ));
        };
        let grant = sign_in.redeem_code(http, resource, code, verifier).await?;
        if grant.refresh_token.is_none() {
            return Err(auth_error(
                "no_refresh_token",
                "Entra issued no refresh token; the sign-in must ask for offline_access",
            ));
        }
        let mut state = self.state.lock().await;
        Self::store(&mut state, grant);
        Ok(())
    }

    pub async fn refresh_token(&self) -> Option<SecretString> {
        self.state.lock().await.refresh_token.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_authorize_url_carries_challenge_state_and_offline_access() {
        let sign_in = UserSignIn {
            authority: Authority::new("contoso.onmicrosoft.com"),
            client_id: "app".into(),
            client_secret: None,
            redirect_uri: "https://leadbridge.example/callback".into(),
        };
        let req = sign_in
            .authorize("https://contoso.crm.dynamics.com")
            .unwrap();
        let url = Url::parse(&req.url).unwrap();
        assert_eq!(
            url.as_str().split('?').next().unwrap(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["state"], req.state);
        assert_eq!(
            q["code_challenge"],
            pkce_challenge(req.verifier.expose_secret())
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["scope"],
            "https://contoso.crm.dynamics.com/user_impersonation offline_access"
        );
        assert!(req.verifier.expose_secret().len() >= 43);
        assert!(!format!("{req:?}").contains(req.verifier.expose_secret()));
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let creds = ClientCredentials {
            authority: Authority::new("t"),
            client_id: "c".into(),
            client_secret: SecretString::from("hunter2-very-secret"),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }

    #[test]
    fn aadsts_codes_come_from_the_list_or_the_description() {
        assert_eq!(aadsts(&[7000215], ""), Some(7000215));
        assert_eq!(
            aadsts(&[], "AADSTS700016: Application not found"),
            Some(700016)
        );
        assert_eq!(aadsts(&[], "no code"), None);
    }

    #[test]
    fn renewal_starts_before_expiry() {
        let now = Instant::now();
        assert_eq!(
            renew_at(now, Duration::from_secs(3600)),
            now + Duration::from_secs(3300)
        );
        assert_eq!(
            renew_at(now, Duration::from_secs(60)),
            now + Duration::from_secs(45)
        );
    }
}
