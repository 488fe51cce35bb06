//! The client and its one request path: URL resolution under the org's API root, the bearer token,
//! the OData headers, `CallerObjectId` impersonation, and turning every outcome into a response or
//! a classified [`Error`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

use crate::auth::{Auth, AuthorizeRequest, TokenCache};
use crate::config::ClientConfig;
use crate::error::Error;
use crate::throttle::{Governor, Signal, ThrottleStats};
use crate::writes::MetadataCache;

pub const API_PATH: &str = "/api/data/v9.2";

/// A Dataverse Web API client. Cheap to clone; clones share the connection pool and the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The Entra object id of the user the requests act for (`CallerObjectId`).
    caller: Option<Uuid>,
}

struct Inner {
    http: reqwest::Client,
    /// `https://contoso.crm.dynamics.com`, without a trailing slash: the token resource.
    org_url: String,
    /// `<org_url>/api/data/v9.2`
    api_url: String,
    tokens: TokenCache,
    config: ClientConfig,
    metadata: MetadataCache,
    governor: Governor,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("org_url", &self.inner.org_url)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// One Web API request. Paths are relative to the API root (`accounts(…)`); an absolute URL (a
/// `@odata.nextLink`) is used unchanged but must lie under the same API root.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    /// Safe to send again after a failure in flight (reads, upserts by key).
    pub(crate) idempotent: bool,
    /// A header that could not be added, reported by `send`.
    invalid_header: Option<&'static str>,
    /// A `multipart/mixed` reply is returned whatever its status (a `$batch` that stopped at a
    /// failure answers 400 with the parts that ran).
    pub(crate) multipart_reply: bool,
}

impl Request {
    pub fn new(method: Method, target: impl Into<String>) -> Request {
        let idempotent = matches!(method, Method::GET | Method::HEAD);
        Request {
            method,
            target: target.into(),
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            invalid_header: None,
            multipart_reply: false,
        }
    }

    pub fn get(target: impl Into<String>) -> Request {
        Request::new(Method::GET, target)
    }

    /// Adds a header. A name or value HTTP does not allow is reported by `send` rather than
    /// dropped.
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Request {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => self.invalid_header = Some(name),
        }
        self
    }

    pub fn json(mut self, body: &serde_json::Value) -> Request {
        self.body = Some(Bytes::from(body.to_string()));
        self
    }

    pub fn body(self, content_type: impl AsRef<str>, body: impl Into<Bytes>) -> Request {
        let mut request = self.header("content-type", content_type);
        request.body = Some(body.into());
        request
    }

    /// Marks the request as safe to repeat (an upsert by key, a PUT of a value).
    pub fn idempotent(mut self) -> Request {
        self.idempotent = true;
        self
    }
}

/// A successful response, body read in full.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as `T`; a body of another shape is a CRM API error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unexpected(
                self.status,
                format!("the response body is not what was expected: {e}"),
            )
        })
    }

    /// The id in `OData-EntityId: <api>/accounts(<id>)` (create, update, upsert).
    pub fn entity_id(&self) -> Result<Uuid, Error> {
        let header = self
            .header("odata-entityid")
            .ok_or_else(|| Error::unexpected(self.status, "the response has no OData-EntityId"))?;
        id_in_entity_url(header).ok_or_else(|| {
            Error::unexpected(self.status, format!("no id in OData-EntityId {header}"))
        })
    }
}

/// A failed attempt, and whether the request surely never reached the server.
struct Failure {
    error: Error,
    not_sent: bool,
}

/// The GUID in the last parentheses of `…/accounts(<guid>)`.
pub(crate) fn id_in_entity_url(url: &str) -> Option<Uuid> {
    let open = url.rfind('(')?;
    let close = url[open..].find(')')? + open;
    Uuid::parse_str(&url[open + 1..close]).ok()
}

/// A transport failure as [`Error::CannotConnect`], with the whole cause chain (reqwest's own
/// message alone does not say whether DNS, TLS or a timeout failed).
pub(crate) fn transport_error(url: &str, e: &reqwest::Error) -> Error {
    let host = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string());
    let mut detail = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Error::CannotConnect { host, detail }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let url = Url::parse(config.org_url.trim())
            .map_err(|e| Error::Config(format!("the org URL is not valid: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if config.allow_non_dynamics_host => {}
            other => {
                return Err(Error::Config(format!(
                    "the org URL must use https, not {other}"
                )));
            }
        }
        if url.host_str().is_none() {
            return Err(Error::Config("the org URL has no host".into()));
        }
        // The environment URL is an origin; a path (a pasted `/main.aspx…`) is dropped.
        let org_url = url.origin().ascii_serialization();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::config::tls_config(&config.extra_ca_pems)?)
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .user_agent(concat!("leadbridge-dataverse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("the HTTP client could not be built: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_url: format!("{org_url}{API_PATH}"),
                org_url,
                tokens: TokenCache::new(config.auth.clone()),
                governor: Governor::new(config.throttling),
                config,
                metadata: MetadataCache::default(),
            }),
            caller: None,
        })
    }

    pub fn org_url(&self) -> &str {
        &self.inner.org_url
    }

    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(crate) fn metadata(&self) -> &MetadataCache {
        &self.inner.metadata
    }

    /// How many write requests to have ready at once; the throttling window decides how many
    /// of them are in flight.
    pub(crate) fn write_parallelism(&self) -> usize {
        crate::throttle::MAX_IN_FLIGHT.min(self.inner.config.throttling.max_concurrency.max(1))
    }

    /// 429s seen, retries made and the current concurrency window.
    pub fn throttle_stats(&self) -> ThrottleStats {
        self.inner.governor.stats()
    }

    /// The same client, acting for the user with this Entra object id (`CallerObjectId`). The
    /// connecting identity needs the delegate privilege (prvActOnBehalfOfAnotherUser).
    pub fn on_behalf_of(&self, object_id: Uuid) -> Client {
        Client {
            inner: self.inner.clone(),
            caller: Some(object_id),
        }
    }

    /// The user this client acts for, if it impersonates.
    pub fn caller(&self) -> Option<Uuid> {
        self.caller
    }

    /// Starts an admin sign-in (authorization code with PKCE).
    pub fn authorize_url(&self) -> Result<AuthorizeRequest, Error> {
        match self.inner.tokens.auth() {
            Auth::User { sign_in, .. } => sign_in.authorize(&self.inner.org_url),
            Auth::ClientCredentials(_) => Err(Error::Config(
                "this client uses client credentials; nobody signs in".into(),
            )),
        }
    }

    /// Completes a sign-in with the code from the redirect and the verifier kept since
    /// [`Client::authorize_url`].
    pub async fn exchange_code(&self, code: &str, verifier: &SecretString) -> Result<(), Error> {
        self.inner
            .tokens
            .exchange_code(&self.inner.http, &self.inner.org_url, code, verifier)
            .await
    }

    /// The current refresh token of a signed-in user. Entra rotates it on every renewal, so the
    /// caller persists this after using the client.
    pub async fn refresh_token(&self) -> Option<SecretString> {
        self.inner.tokens.refresh_token().await
    }

    fn resolve(&self, target: &str) -> Result<String, Error> {
        if target.starts_with("https://") || target.starts_with("http://") {
            // A link from a response: never send the token anywhere but this org's API.
            if target.starts_with(&format!("{}/", self.inner.api_url)) {
                return Ok(target.to_string());
            }
            return Err(Error::unexpected(
                StatusCode::OK,
                format!("a link points outside the org's API: {target}"),
            ));
        }
        Ok(format!(
            "{}/{}",
            self.inner.api_url,
            target.trim_start_matches('/')
        ))
    }

    /// Sends a request and returns its successful response, or the classified failure. Waits
    /// for a slot in the throttling window; retries what is safe to retry, within bounds.
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        if let Some(name) = request.invalid_header {
            return Err(Error::Config(format!(
                "the {name} header of {} {} holds characters HTTP does not allow",
                request.method, request.target
            )));
        }
        let url = self.resolve(&request.target)?;
        let governor = &self.inner.governor;
        let (mut throttled, mut failed) = (0, 0);
        loop {
            let permit = governor.acquire().await;
            let result = self.send_authenticated(&request, &url).await;
            governor.observe(match &result {
                Ok(_) => Signal::Clean,
                Err(f) => match &f.error {
                    Error::Throttled { retry_after, .. } => Signal::Throttled(*retry_after),
                    Error::CannotConnect { .. } | Error::CrmApi(_) => Signal::Neutral,
                    _ => Signal::Clean,
                },
            });
            drop(permit);
            let failure = match result {
                Ok(response) => return Ok(response),
                Err(f) => f,
            };
            let attempts = if matches!(failure.error, Error::Throttled { .. }) {
                throttled += 1;
                throttled
            } else {
                failed += 1;
                failed
            };
            match governor.retry_after(
                &failure.error,
                failure.not_sent,
                request.idempotent,
                attempts,
            ) {
                Some(wait) => {
                    tracing::debug!(
                        method = %request.method,
                        attempts,
                        wait_ms = wait.as_millis() as u64,
                        error = %failure.error,
                        "Retrying a Dataverse request."
                    );
                    governor.note_retry();
                    tokio::time::sleep(wait).await;
                }
                None => return Err(failure.error),
            }
        }
    }

    /// One attempt with a valid token; a token Dataverse refuses (revoked, expired early) is
    /// renewed once, since the request was not run.
    async fn send_authenticated(&self, request: &Request, url: &str) -> Result<Response, Failure> {
        let mut refused_once = false;
        loop {
            let token = self
                .inner
                .tokens
                .bearer(&self.inner.http, &self.inner.org_url)
                .await
                .map_err(|error| Failure {
                    not_sent: true,
                    error,
                })?;
            match self.send_once(request, url, &token).await {
                Err(f)
                    if matches!(&f.error, Error::Auth(a) if a.status == 401) && !refused_once =>
                {
                    refused_once = true;
                    self.inner.tokens.invalidate(&token).await;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        request: &Request,
        url: &str,
        token: &SecretString,
    ) -> Result<Response, Failure> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .bearer_auth(token.expose_secret())
            .header("Accept", "application/json")
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0");
        if request.method == Method::GET {
            builder = builder.header("If-None-Match", "null");
        }
        if let Some(caller) = self.caller {
            builder = builder.header("CallerObjectId", caller.to_string());
        }
        let mut headers = request.headers.clone();
        if let Some(body) = &request.body {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            builder = builder.body(body.clone());
        }
        builder = builder.headers(headers);
        let response = builder.send().await.map_err(|e| Failure {
            not_sent: e.is_connect(),
            error: transport_error(url, &e),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        self.inner.governor.note_headers(&headers);
        let body = response.bytes().await.map_err(|e| Failure {
            not_sent: false,
            error: transport_error(url, &e),
        })?;
        let multipart = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/mixed"));
        if status.is_success() || (request.multipart_reply && multipart) {
            Ok(Response {
                status,
                headers,
                body,
            })
        } else {
            Err(Failure {
                not_sent: false,
                error: Error::from_response(status, &headers, &body),
            })
        }
    }

    /// `GET <path>` read as `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(Request::get(path)).await?.json()
    }

    /// `POST <path>` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, Error> {
        self.send(Request::new(Method::POST, path).json(body)).await
    }

    /// `PATCH <path>` with a JSON body, as given (see [`crate::writes`] for update and upsert).
    pub async fn patch_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Response, Error> {
        self.send(Request::new(Method::PATCH, path).json(body))
            .await
    }

    /// `DELETE <path>`.
    pub async fn delete(&self, path: &str) -> Result<Response, Error> {
        self.send(Request::new(Method::DELETE, path)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Authority, ClientCredentials};

    fn client(url: &str, allow: bool) -> Result<Client, Error> {
        let mut config = ClientConfig::new(
            url,
            Auth::ClientCredentials(ClientCredentials {
                authority: Authority::new("t"),
                client_id: "c".into(),
                client_secret: SecretString::from("s"),
            }),
        );
        config.allow_non_dynamics_host = allow;
        Client::new(config)
    }

    #[test]
    fn the_org_url_is_reduced_to_its_origin() {
        let c = client("https://contoso.crm4.dynamics.com/main.aspx?appid=1", false).unwrap();
        assert_eq!(c.org_url(), "https://contoso.crm4.dynamics.com");
        assert_eq!(
            c.api_url(),
            "https://contoso.crm4.dynamics.com/api/data/v9.2"
        );
    }

    #[test]
    fn plain_http_needs_the_test_switch() {
        assert!(matches!(
            client("http://127.0.0.1:8080", false),
            Err(Error::Config(_))
        ));
        assert!(client("http://127.0.0.1:8080", true).is_ok());
        assert!(matches!(client("not a url", false), Err(Error::Config(_))));
    }

    #[test]
    fn links_outside_the_api_root_are_refused() {
        let c = client("https://contoso.crm.dynamics.com", false).unwrap();
        assert_eq!(
            c.resolve("accounts?$top=1").unwrap(),
            "https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$top=1"
        );
        assert!(
            c.resolve("https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=x")
                .is_ok()
        );
        assert!(
            c.resolve("https://evil.example/api/data/v9.2/accounts")
                .is_err()
        );
        assert!(
            c.resolve("https://contoso.crm.dynamics.com.evil.example/api/data/v9.2/x")
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_bad_header_is_an_error_not_a_panic() {
        let c = client("https://contoso.crm.dynamics.com", false).unwrap();
        let request = Request::get("WhoAmI")
            .header("Prefer", "odata.maxpagesize=1")
            .header("x-line", "a\r\nInjected: 1");
        assert!(request.headers.contains_key("prefer"));
        assert!(matches!(c.send(request).await, Err(Error::Config(_))));
    }

    #[test]
    fn ids_are_read_from_entity_urls() {
        let id = Uuid::new_v4();
        assert_eq!(
            id_in_entity_url(&format!("https://x/api/data/v9.2/accounts({id})")),
            Some(id)
        );
        assert_eq!(id_in_entity_url("https://x/accounts(name='a')"), None);
    }
}
