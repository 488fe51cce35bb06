//! Running the web server: opening and migrating the store, binding the address, serving until
//! shut down. The `leadbridge serve` subcommand is this plus argument parsing.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;
use store::secrets::{Keyring, SecretError};
use store::{Store, StoreError, StoreOptions};
use tokio::net::TcpListener;

use crate::state::{AppState, WebConfig};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// Everything `serve` needs.
#[derive(Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Holds the SQLite file (by default) and the generated secrets key file.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` is the SQLite file in the data directory.
    pub database_url: Option<String>,
    /// The CRM secrets key (`[version:]64 hex`); `None` reads or creates the key file in the data
    /// directory.
    pub secret_key: Option<SecretString>,
    pub web: WebConfig,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(store::redact_url),
            )
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("web", &self.web)
            .finish()
    }
}

impl ServeConfig {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| store::sqlite_url(&self.data_dir))
    }
}

/// Opens the store the configuration names, with its keyring, and applies pending migrations.
pub async fn open_store(config: &ServeConfig) -> Result<Store, ServeError> {
    let keyring = match &config.secret_key {
        Some(spec) => Keyring::from_config(spec)?,
        None => {
            std::fs::create_dir_all(&config.data_dir).map_err(StoreError::DataDir)?;
            Keyring::load_or_generate(&config.data_dir)?
        }
    };
    let mut options = StoreOptions::new(config.database_url());
    options.keyring = Some(Arc::new(keyring));
    let store = Store::connect(options).await?;
    store.migrate().await?;
    Ok(store)
}

/// Opens and migrates the store, binds `listen` and serves until `shutdown` completes.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = open_store(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!(%address, backend = ?store.backend(), "serving");
    let result = serve_on(listener, AppState::new(store.clone(), config.web), shutdown).await;
    store.close().await;
    result
}

/// Serves the app over HTTPS on a bound listener until `shutdown` completes (the demo, and a
/// server reached without a TLS-terminating proxy).
pub async fn serve_tls_on(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use axum::serve::ListenerExt;
    let app = crate::api::router(state);
    // `tap_io` gives the TLS listener axum's `ConnectInfo<SocketAddr>` (sign-in throttling).
    axum::serve(
        TlsListener::new(listener, tls).tap_io(|_| {}),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(ServeError::Serve)
}

/// Accepts TCP connections and hands out those whose TLS handshake completed. Handshakes run in
/// their own tasks, so a client that stalls in one holds up nobody else.
struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

type TlsStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl TlsListener {
    fn new(listener: TcpListener, tls: Arc<rustls::ServerConfig>) -> TlsListener {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            local,
            ready,
            accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves the app on a bound listener until `shutdown` completes (what tests and `serve` share).
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = crate::api::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(ServeError::Serve)
}
