//! How a client is set up: the org URL, the credentials, which certificate authorities to trust,
//! timeouts, write chunk sizes, throttling bounds, and the test switch that lets pre-flight accept a local emulator.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::auth::Auth;
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    pub auth: Auth,
    /// PEM certificates trusted on top of the system's roots (the emulator's CA, a proxy's CA).
    pub extra_ca_pems: Vec<String>,
    pub timeouts: Timeouts,
    pub write_chunks: WriteChunks,
    pub throttling: Throttling,
    /// Lets pre-flight accept a host outside Dynamics 365 online (the emulator on 127.0.0.1) and
    /// allows plain `http://`. For tests and the demo only; a customer org never needs it.
    pub allow_non_dynamics_host: bool,
}

impl ClientConfig {
    pub fn new(org_url: impl Into<String>, auth: Auth) -> ClientConfig {
        ClientConfig {
            org_url: org_url.into(),
            auth,
            extra_ca_pems: Vec::new(),
            timeouts: Timeouts::default(),
            write_chunks: WriteChunks::default(),
            throttling: Throttling::default(),
            allow_non_dynamics_host: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// A whole request, body included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
        }
    }
}

/// Sizes of the requests many-row writes are cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteChunks {
    /// Rows per CreateMultiple/UpsertMultiple call (one transaction each).
    pub bulk: usize,
    /// Operations per `$batch` when the table has no bulk messages.
    pub batch: usize,
}

impl Default for WriteChunks {
    fn default() -> Self {
        WriteChunks {
            bulk: 100,
            batch: 50,
        }
    }
}

/// Bounds of the adaptive concurrency and of retries.
#[derive(Debug, Clone, Copy)]
pub struct Throttling {
    /// Requests in flight at the start; the window grows while responses are clean.
    pub initial_concurrency: usize,
    /// Never more in flight than this, nor than `x-ms-dop-hint`, nor than 52.
    pub max_concurrency: usize,
    /// Attempts of one request after connection failures and server errors, the first included.
    pub max_attempts: u32,
    /// Attempts of one request refused with 429 (it never ran, so waiting is all it costs).
    pub max_throttled_attempts: u32,
    /// First backoff when the server gives no `Retry-After`; doubles on each attempt.
    pub base_backoff: Duration,
    /// The longest single wait; a `Retry-After` beyond it fails the request as throttled.
    pub max_backoff: Duration,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            initial_concurrency: 2,
            max_concurrency: 52,
            max_attempts: 4,
            max_throttled_attempts: 12,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// rustls with the `ring` provider, the system's roots plus the configured extra authorities.
pub(crate) fn tls_config(extra_ca_pems: &[String]) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    for pem in extra_ca_pems {
        let before = extra.len();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            extra.push(cert.map_err(|e| {
                Error::Config(format!("a trusted CA certificate is not valid PEM: {e}"))
            })?);
        }
        if extra.len() == before {
            return Err(Error::Config(
                "a trusted CA entry holds no PEM certificate".into(),
            ));
        }
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| Error::Config(format!("no usable certificate authorities: {e}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
