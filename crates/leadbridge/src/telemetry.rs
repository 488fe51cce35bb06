//! Logs and metrics for the long-running subcommands: the log format (text or JSON lines, each
//! line carrying its spans' fields, so the tenant and sync id of a sync), and the Prometheus
//! recorder whose exposition `serve` shows at `/metrics` and `worker` on `--metrics-listen`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How log lines are written to standard error.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the spans it happened in.
    Json,
}

/// Installs the global log subscriber (`RUST_LOG` filters, `info` by default).
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

/// Installs the process-wide Prometheus recorder and keeps its histograms trimmed; the handle
/// renders the exposition. Must run inside a Tokio runtime.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The renderer the web layer serves at `/metrics`.
pub fn metrics_render(handle: PrometheusHandle) -> web::MetricsRender {
    Arc::new(move || handle.render())
}

/// Binds the metrics address (so that a taken port stops start-up, not a running worker).
pub async fn bind_metrics(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for metrics"))
}

/// Serves `GET /metrics` alone on `listener` until `shutdown` fires (for `worker` processes,
/// which have no web server of their own).
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let body = handle.render();
            async move { web::api::metrics_exposition(body) }
        }),
    );
    tracing::info!(address = %listener.local_addr()?, "serving metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .context("the metrics server stopped")
}
