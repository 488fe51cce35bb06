//! The web crate over real HTTP: a server on a loopback port and a plain HTTP client.

#![allow(clippy::unwrap_used)]

mod api_basics;

use std::net::SocketAddr;

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start(app: axum::Router) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
