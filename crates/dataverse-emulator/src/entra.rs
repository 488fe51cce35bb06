//! The Microsoft Entra ID side of the emulator: app registrations, the signing key, access tokens
//! shaped like the v1 tokens Dataverse receives, authorization codes with PKCE, refresh tokens,
//! and the validation the Web API applies to every bearer token.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const SIGNING_KEY_FILE: &str = "token-signing-key.pem";

/// The key tokens are signed with (RS256, as Entra signs them).
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Base64url modulus and exponent, for the JWKS document.
    pub n: String,
    pub e: String,
}

impl SigningKey {
    /// Loads the key from the state directory, generating it on first use.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Self> {
        use rsa::RsaPrivateKey;
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
        use rsa::traits::PublicKeyParts;
        let path = state_dir.join(SIGNING_KEY_FILE);
        let key = if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            RsaPrivateKey::from_pkcs1_pem(&pem).context("the token signing key is not valid")?
        } else {
            let mut rng = rsa::rand_core::OsRng;
            let key = RsaPrivateKey::new(&mut rng, 2048)?;
            let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
            crate::tls::write_private(&path, pem.as_bytes())?;
            key
        };
        let private_pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
        let public_pem = key
            .to_public_key()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        use sha2::Digest;
        let kid = URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(n.as_bytes())[..20]);
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_rsa_pem(private_pem.as_bytes())?,
            decoding: DecodingKey::from_rsa_pem(public_pem.as_bytes())?,
            n,
            e,
        })
    }
}

/// An app registration in the emulated tenant.
#[derive(Clone, Serialize)]
pub struct AppRegistration {
    pub client_id: Uuid,
    pub display_name: String,
    #[serde(skip)]
    pub secrets: Vec<String>,
    /// The enterprise application's object id (the `oid` of its app-only tokens).
    pub service_principal_id: Uuid,
    /// Redirect URIs accepted by the authorize endpoint; empty accepts any http(s) URI.
    pub redirect_uris: Vec<String>,
    pub admin_consented: bool,
}

impl std::fmt::Debug for AppRegistration {
    // The secrets stay out of logs: only how many there are is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("display_name", &self.display_name)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("service_principal_id", &self.service_principal_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("admin_consented", &self.admin_consented)
            .finish()
    }
}

/// Claims of an access token as Dataverse receives it from Entra (v1.0 token format).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub appid: String,
    pub appidacr: String,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub ver: String,
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub uti: String,
}

/// A signed-in user, as far as tokens are concerned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedInUser {
    pub object_id: Uuid,
    pub upn: String,
    pub name: String,
}

#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: Uuid,
    redirect_uri: String,
    code_challenge: Option<String>,
    scope: String,
    user: SignedInUser,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: Uuid,
    pub user: SignedInUser,
    pub scope: String,
    pub expires: DateTime<Utc>,
}

/// Everything the emulated tenant keeps.
pub struct EntraState {
    pub tenant_id: Uuid,
    pub apps: HashMap<Uuid, AppRegistration>,
    codes: HashMap<String, CodeGrant>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
}

impl EntraState {
    pub fn new(tenant_id: Uuid) -> Self {
        EntraState {
            tenant_id,
            apps: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_token_lifetime: Duration::seconds(3599),
            refresh_token_lifetime: Duration::days(90),
        }
    }
}

/// A token endpoint or authorize failure in Entra's error shape.
#[derive(Debug, Clone)]
pub struct EntraError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl EntraError {
    pub fn new(
        status: u16,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        EntraError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The JSON body Entra sends (`error`, `error_description` starting with `AADSTS<code>:` …).
    pub fn body(&self, now: DateTime<Utc>) -> serde_json::Value {
        let trace = Uuid::new_v4();
        let correlation = Uuid::new_v4();
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Why a bearer token was refused by the Web API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    Missing,
    Malformed,
    Expired,
    WrongAudience,
}

pub struct TokenIssuer<'a> {
    pub key: &'a SigningKey,
    pub tenant_id: Uuid,
    pub now: DateTime<Utc>,
    pub lifetime: Duration,
}

impl TokenIssuer<'_> {
    fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &self.key.encoding)?)
    }

    /// An access token for `resource` (the org URL), app-only when `user` is `None`.
    pub fn access_token(
        &self,
        resource: &str,
        app: &AppRegistration,
        user: Option<&SignedInUser>,
    ) -> anyhow::Result<String> {
        let now = self.now.timestamp();
        let (oid, idtyp, scp, upn, name) = match user {
            Some(u) => (
                u.object_id,
                "user",
                Some("user_impersonation".to_string()),
                Some(u.upn.clone()),
                Some(u.name.clone()),
            ),
            None => (app.service_principal_id, "app", None, None, None),
        };
        let claims = AccessClaims {
            aud: resource.trim_end_matches('/').to_string(),
            iss: format!("https://sts.windows.net/{}/", self.tenant_id),
            iat: now,
            nbf: now,
            exp: now + self.lifetime.num_seconds(),
            appid: app.client_id.to_string(),
            appidacr: if user.is_some() { "0" } else { "1" }.into(),
            oid: oid.to_string(),
            sub: oid.to_string(),
            tid: self.tenant_id.to_string(),
            ver: "1.0".into(),
            idtyp: idtyp.into(),
            scp,
            upn,
            name,
            uti: random_token(16),
        };
        self.sign(&claims)
    }

    /// An OpenID Connect id token for a signed-in user.
    pub fn id_token(
        &self,
        issuer_base: &str,
        app: &AppRegistration,
        user: &SignedInUser,
    ) -> anyhow::Result<String> {
        let now = self.now.timestamp();
        let claims = serde_json::json!({
            "aud": app.client_id.to_string(),
            "iss": format!("{issuer_base}/{}/v2.0", self.tenant_id),
            "iat": now, "nbf": now, "exp": now + 3600,
            "oid": user.object_id.to_string(),
            "sub": user.object_id.to_string(),
            "tid": self.tenant_id.to_string(),
            "preferred_username": user.upn,
            "name": user.name,
            "ver": "2.0",
        });
        self.sign(&claims)
    }
}

/// Checks a bearer token's signature, lifetime (against the emulator's clock) and audience.
pub fn validate(
    key: &SigningKey,
    token: &str,
    org_url: &str,
    now: DateTime<Utc>,
) -> Result<AccessClaims, TokenRejection> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map_err(|_| TokenRejection::Malformed)?;
    let claims = data.claims;
    if claims.exp <= now.timestamp() {
        return Err(TokenRejection::Expired);
    }
    if !claims
        .aud
        .trim_end_matches('/')
        .eq_ignore_ascii_case(org_url.trim_end_matches('/'))
    {
        return Err(TokenRejection::WrongAudience);
    }
    Ok(claims)
}

impl EntraState {
    pub fn check_tenant(&self, tenant: &str) -> Result<(), EntraError> {
        let known = ["organizations", "common"].contains(&tenant)
            || tenant.eq_ignore_ascii_case(&self.tenant_id.to_string());
        if known {
            Ok(())
        } else {
            Err(EntraError::new(
                400,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            ))
        }
    }

    pub fn app(&self, client_id: &str) -> Result<&AppRegistration, EntraError> {
        Uuid::parse_str(client_id)
            .ok()
            .and_then(|id| self.apps.get(&id))
            .ok_or_else(|| {
                EntraError::new(
                    400,
                    "unauthorized_client",
                    700016,
                    format!(
                        "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                        self.tenant_id
                    ),
                )
            })
    }

    pub fn check_secret(app: &AppRegistration, secret: Option<&str>) -> Result<(), EntraError> {
        match secret {
            Some(s) if app.secrets.iter().any(|known| known == s) => Ok(()),
            Some(_) => Err(EntraError::new(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            )),
            None => Err(EntraError::new(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )),
        }
    }

    pub fn redirect_allowed(app: &AppRegistration, redirect_uri: &str) -> bool {
        if app.redirect_uris.is_empty() {
            return redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://");
        }
        app.redirect_uris.iter().any(|u| u == redirect_uri)
    }

    pub fn issue_code(
        &mut self,
        client_id: Uuid,
        redirect_uri: &str,
        code_challenge: Option<String>,
        scope: &str,
        user: SignedInUser,
        now: DateTime<Utc>,
    ) -> String {
        let code = random_token(32);
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id,
                redirect_uri: redirect_uri.into(),
                code_challenge,
                scope: scope.into(),
                user,
                expires: now + Duration::minutes(10),
            },
        );
        code
    }

    /// Redeems an authorization code (once), checking client, redirect URI and PKCE verifier.
    pub fn redeem_code(
        &mut self,
        code: &str,
        client_id: Uuid,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(SignedInUser, String), EntraError> {
        let grant = self.codes.remove(code).ok_or_else(|| {
            EntraError::new(
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'code' parameter is not valid. The code has expired or was already redeemed.",
            )
        })?;
        if grant.expires < now {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        if grant.client_id != client_id {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
            ));
        }
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                50148,
                "The redirect URI does not match the one used to obtain the authorization code.",
            ));
        }
        if let Some(challenge) = &grant.code_challenge {
            use sha2::Digest;
            let ok = verifier
                .map(|v| URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes())) == *challenge)
                .unwrap_or(false);
            if !ok {
                return Err(EntraError::new(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                ));
            }
        }
        Ok((grant.user, grant.scope))
    }

    pub fn issue_refresh(
        &mut self,
        client_id: Uuid,
        user: SignedInUser,
        scope: &str,
        now: DateTime<Utc>,
    ) -> String {
        let token = random_token(48);
        self.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                client_id,
                user,
                scope: scope.into(),
                expires: now + self.refresh_token_lifetime,
            },
        );
        token
    }

    /// Redeems a refresh token; refresh tokens rotate, so the old one stops working.
    pub fn redeem_refresh(
        &mut self,
        token: &str,
        client_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<RefreshGrant, EntraError> {
        let expired = || {
            EntraError::new(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for too long.",
            )
        };
        let grant = self.refresh_tokens.remove(token).ok_or_else(expired)?;
        if grant.expires < now {
            return Err(expired());
        }
        if grant.client_id != client_id {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed: the refresh token was issued to a different client.",
            ));
        }
        Ok(grant)
    }
}
