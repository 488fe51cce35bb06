//! Signing in: argon2id password hashes, browser sessions and bearer API tokens (both stored only
//! as SHA-256 hashes, with expiry; tokens revocable), and login throttling per email and address.
//!
//! Sign-in and token lookups are the only reads not bound to a tenant: they are how a caller
//! learns its tenant. Password hashing is CPU-bound; the async methods run it off the runtime.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, TimeDelta, Utc};
use domain::ids::UserId;
use domain::tenant::{User, normalize_email};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::db::{RowExt, millis};
use crate::error::{Result, StoreError};
use crate::tenants::{USER_FROM, USER_SELECT, found, user_from_row};
use crate::{Store, TenantStore};

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes: hashing cost grows with it.
pub const MAX_PASSWORD_BYTES: usize = 1024;
const SESSION_PREFIX: &str = "lbs_";
const API_TOKEN_PREFIX: &str = "lbt_";
/// An API token's last use is recorded to the minute (see [`Store::api_token_user`]).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// When sign-in attempts are refused for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures for one email within `window` before it is locked.
    pub max_failures_per_email: u32,
    /// Failures from one client address within `window` before it is locked.
    pub max_failures_per_address: u32,
    pub window: TimeDelta,
    pub lockout: TimeDelta,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            max_failures_per_email: 5,
            max_failures_per_address: 50,
            window: TimeDelta::minutes(15),
            lockout: TimeDelta::minutes(15),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    SignedIn(User),
    /// Unknown email, wrong password, or a user without a password: one answer for all, so the
    /// response does not tell which emails exist.
    WrongCredentials,
    LockedOut {
        until: DateTime<Utc>,
    },
}

/// The user behind a session or API token, and until when it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// A token shown to its owner once; only its hash is stored.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct IssuedApiToken {
    pub id: ApiTokenId,
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiTokenId(pub uuid::Uuid);

impl std::fmt::Display for ApiTokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An API token as its owner sees it in a list: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenInfo {
    pub id: ApiTokenId,
    pub user: UserId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Refuses passwords too short to resist guessing and too long to hash cheaply.
pub fn check_password(password: &SecretString) -> Result<()> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(StoreError::Invalid(format!(
            "A password needs at least {MIN_PASSWORD_CHARS} characters."
        )))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(StoreError::Invalid(format!(
            "A password can have at most {MAX_PASSWORD_BYTES} bytes."
        )))
    } else {
        Ok(())
    }
}

/// An argon2id hash (PHC string) with a random salt. Blocking: ~tens of milliseconds of CPU.
pub fn hash_password(password: &SecretString) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    Argon2::default()
        .hash_password_with_salt(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

/// Whether the password matches the hash; a malformed hash matches nothing. Blocking.
pub fn verify_password(hash: &str, password: &SecretString) -> bool {
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), hash)
        .is_ok()
}

/// A random password for `leadbridge admin create-user` to print once.
pub fn generate_password() -> SecretString {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let text: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    SecretString::from(text)
}

pub(crate) async fn hash_password_blocking(password: SecretString) -> Result<String> {
    check_password(&password)?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}

async fn verify_password_blocking(hash: Option<String>, password: SecretString) -> Result<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&hash, &password),
        None => {
            // Spend the same time as a real check so timing does not tell which emails exist.
            let _ = verify_password(dummy_hash(), &password);
            false
        }
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&SecretString::from("not a password of anyone".to_owned()))
            .unwrap_or_default()
    })
}

fn new_token(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", hex::encode(bytes)))
}

fn token_hash(token: &SecretString) -> String {
    hex::encode(Sha256::digest(token.expose_secret().as_bytes()))
}

fn email_key(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

#[derive(Clone, Copy)]
enum ThrottleScope {
    Email,
    Address,
}

impl ThrottleScope {
    fn word(self) -> &'static str {
        match self {
            ThrottleScope::Email => "email",
            ThrottleScope::Address => "address",
        }
    }
}

impl Store {
    /// Checks an email and password, with throttling: too many failures for the email or from the
    /// client address lock further attempts for a while, whatever the password.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &SecretString,
        client_address: Option<&str>,
    ) -> Result<SignIn> {
        let now = self.now();
        let email = normalize_email(email).unwrap_or_default();
        let mut keys = vec![(ThrottleScope::Email, email_key(&email))];
        if let Some(address) = client_address {
            keys.push((ThrottleScope::Address, address.to_owned()));
        }
        if let Some(until) = self.locked_until(&keys, now).await? {
            return Ok(SignIn::LockedOut { until });
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_SELECT}, u.password_hash FROM {USER_FROM} WHERE u.email = $1"
        )))
        .bind(&email)
        .fetch_optional(&self.pool)
        .await?;
        let user = row.as_ref().map(user_from_row).transpose()?;
        let hash = row
            .map(|r| r.opt_text("password_hash"))
            .transpose()?
            .flatten();
        let matches = verify_password_blocking(hash, password.clone()).await?;
        match user {
            Some(user) if matches => {
                sqlx::query("DELETE FROM login_throttle WHERE scope = $1 AND key = $2")
                    .bind(ThrottleScope::Email.word())
                    .bind(email_key(&email))
                    .execute(&self.pool)
                    .await?;
                Ok(SignIn::SignedIn(user))
            }
            _ => {
                for (scope, key) in &keys {
                    self.record_failure(*scope, key, now).await?;
                }
                Ok(SignIn::WrongCredentials)
            }
        }
    }

    async fn locked_until(
        &self,
        keys: &[(ThrottleScope, String)],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let mut until: Option<DateTime<Utc>> = None;
        for (scope, key) in keys {
            let row = sqlx::query(
                "SELECT locked_until FROM login_throttle WHERE scope = $1 AND key = $2 \
                 AND locked_until > $3",
            )
            .bind(scope.word())
            .bind(key)
            .bind(millis(now))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(locked) = row
                .map(|r| r.opt_time("locked_until"))
                .transpose()?
                .flatten()
            {
                until = Some(until.map_or(locked, |u| u.max(locked)));
            }
        }
        Ok(until)
    }

    async fn record_failure(
        &self,
        scope: ThrottleScope,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let policy = self.throttle;
        let max = match scope {
            ThrottleScope::Email => policy.max_failures_per_email,
            ThrottleScope::Address => policy.max_failures_per_address,
        };
        let mut tx = self.begin().await?;
        let failures = sqlx::query(
            "INSERT INTO login_throttle (scope, key, failures, window_started_at, locked_until) \
             VALUES ($1, $2, 1, $3, NULL) \
             ON CONFLICT (scope, key) DO UPDATE SET \
             failures = CASE WHEN login_throttle.window_started_at <= $4 THEN 1 \
                        ELSE login_throttle.failures + 1 END, \
             window_started_at = CASE WHEN login_throttle.window_started_at <= $4 THEN $3 \
                        ELSE login_throttle.window_started_at END \
             RETURNING failures",
        )
        .bind(scope.word())
        .bind(key)
        .bind(millis(now))
        .bind(millis(now - policy.window))
        .fetch_one(&mut *tx)
        .await?
        .int("failures")?;
        if failures >= i64::from(max) {
            sqlx::query(
                "UPDATE login_throttle SET locked_until = $3, failures = 0, window_started_at = $4 \
                 WHERE scope = $1 AND key = $2",
            )
            .bind(scope.word())
            .bind(key)
            .bind(millis(now + policy.lockout))
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The signed-in user of a browser session, unless it expired or was ended.
    pub async fn session_user(&self, token: &SecretString) -> Result<Option<Authenticated>> {
        if !token.expose_secret().starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_SELECT}, x.expires_at FROM {USER_FROM} JOIN sessions x ON x.tenant_id = u.tenant_id AND x.user_id = u.id \
             WHERE x.token_hash = $1 AND x.expires_at > $2"
        )))
        .bind(token_hash(token))
        .bind(millis(self.now()))
        .fetch_optional(&self.pool)
        .await?;
        authenticated(row)
    }

    /// Ends a browser session (signing out); an unknown token is not an error.
    pub async fn end_session(&self, token: &SecretString) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The user of a bearer API token, unless it expired or was revoked.
    pub async fn api_token_user(&self, token: &SecretString) -> Result<Option<Authenticated>> {
        if !token.expose_secret().starts_with(API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = millis(self.now());
        let hash = token_hash(token);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_SELECT}, x.expires_at, x.last_used_at FROM {USER_FROM} JOIN api_tokens x ON x.tenant_id = u.tenant_id AND x.user_id = u.id \
             WHERE x.token_hash = $1 AND x.expires_at > $2 AND x.revoked_at IS NULL"
        )))
        .bind(&hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        // Last use is kept to the minute: a write on every request would queue each of them
        // behind SQLite's single writer, for a date nobody reads more precisely.
        let last_used = row
            .as_ref()
            .map(|r| r.opt_int("last_used_at"))
            .transpose()?;
        if let Some(last_used) = last_used
            && last_used.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_MS)
        {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1")
                .bind(&hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        authenticated(row)
    }

    /// Deletes expired sessions and throttle entries; returns how many sessions went.
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        let now = millis(self.now());
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "DELETE FROM login_throttle WHERE (locked_until IS NULL OR locked_until <= $1) \
             AND window_started_at <= $2",
        )
        .bind(now)
        .bind(now - self.throttle.window.num_milliseconds())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

fn authenticated(row: Option<sqlx::any::AnyRow>) -> Result<Option<Authenticated>> {
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Authenticated {
        user: user_from_row(&row)?,
        expires_at: row.time("expires_at")?,
    }))
}

impl TenantStore {
    pub async fn set_password(&mut self, user: UserId, password: SecretString) -> Result<()> {
        let hash = hash_password_blocking(password).await?;
        let t = self.tid();
        let done =
            sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(user.to_string())
                .bind(hash)
                .execute(&mut *self.conn().await?)
                .await?;
        found(done.rows_affected(), "user")
    }

    /// Opens a browser session for the user; the token goes in the cookie and is not kept.
    pub async fn create_session(
        &mut self,
        user: UserId,
        lifetime: TimeDelta,
    ) -> Result<IssuedToken> {
        let token = new_token(SESSION_PREFIX);
        let now = self.now();
        let expires_at = now + lifetime;
        let t = self.tid();
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, tenant_id, user_id, created_at, expires_at) \
             SELECT $1, tenant_id, id, $4, $5 FROM users WHERE tenant_id = $2 AND id = $3",
        )
        .bind(token_hash(&token))
        .bind(t)
        .bind(user.to_string())
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "user")?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Ends every session of the user (after a password change, or when an admin removes access).
    pub async fn end_user_sessions(&mut self, user: UserId) -> Result<u64> {
        let t = self.tid();
        let done = sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2")
            .bind(t)
            .bind(user.to_string())
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(done.rows_affected())
    }

    /// Issues a bearer token for scripts and the mobile app; it is shown once and stored hashed.
    pub async fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        lifetime: TimeDelta,
    ) -> Result<IssuedApiToken> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("An API token needs a name.".to_owned()));
        }
        let id = ApiTokenId(uuid::Uuid::new_v4());
        let token = new_token(API_TOKEN_PREFIX);
        let now = self.now();
        let expires_at = now + lifetime;
        let t = self.tid();
        let done = sqlx::query(
            "INSERT INTO api_tokens (tenant_id, id, user_id, name, token_hash, created_at, expires_at) \
             SELECT tenant_id, $2, id, $4, $5, $6, $7 FROM users WHERE tenant_id = $1 AND id = $3",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(name)
        .bind(token_hash(&token))
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "user")?;
        Ok(IssuedApiToken {
            id,
            token,
            expires_at,
        })
    }

    /// The user's API tokens, newest first, revoked and expired ones included.
    pub async fn api_tokens(&mut self, user: UserId) -> Result<Vec<ApiTokenInfo>> {
        let t = self.tid();
        let rows = sqlx::query(
            "SELECT id, user_id, name, created_at, expires_at, revoked_at, last_used_at \
             FROM api_tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id",
        )
        .bind(t)
        .bind(user.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiTokenInfo {
                    id: ApiTokenId(row.uuid("id")?),
                    user: row.id("user_id")?,
                    name: row.text("name")?,
                    created_at: row.time("created_at")?,
                    expires_at: row.time("expires_at")?,
                    revoked_at: row.opt_time("revoked_at")?,
                    last_used_at: row.opt_time("last_used_at")?,
                })
            })
            .collect()
    }

    pub async fn revoke_api_token(&mut self, id: ApiTokenId) -> Result<()> {
        let (t, now) = (self.tid(), millis(self.now()));
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "API token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let password = SecretString::from("correct horse battery".to_owned());
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, &password));
        assert!(!verify_password(
            &hash,
            &SecretString::from("correct horse battery!".to_owned())
        ));
        assert!(!verify_password("not a hash", &password));
        assert_ne!(hash, hash_password(&password).unwrap(), "salted");
    }

    #[test]
    fn passwords_have_bounds() {
        let cases = [
            ("short", false),
            ("exactly10c", true),
            ("mot de passe très long ✓", true),
        ];
        for (password, ok) in cases {
            assert_eq!(
                check_password(&SecretString::from(password.to_owned())).is_ok(),
                ok,
                "{password}"
            );
        }
        assert!(check_password(&SecretString::from("x".repeat(MAX_PASSWORD_BYTES + 1))).is_err());
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.expose_secret().len(), 20);
        assert!(check_password(&a).is_ok());
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn tokens_are_stored_as_hashes() {
        let token = new_token(SESSION_PREFIX);
        let hash = token_hash(&token);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(token.expose_secret()));
        assert_eq!(hash, token_hash(&token));
    }
}
