//! The REST API under `/api/v1`: routes collected together with their OpenAPI description, so the
//! document served at `/api/v1/openapi.json` is always the API that runs.

mod reference;

use axum::Json;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use http::{Method, Uri};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::{Problem, ProblemCode};

/// The `/api/v1` router (paths are absolute) and its OpenAPI document.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let (router, mut doc) = OpenApiRouter::<S>::new()
        .routes(routes!(health))
        .split_for_parts();
    describe(&mut doc);
    let reference_page = reference::render(&doc);
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route(
            "/api/v1/docs",
            get(move || {
                let page = reference_page.clone();
                async move { Html(page) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

fn describe(doc: &mut OpenApi) {
    doc.info.title = "leadbridge API".into();
    doc.info.version = "1".into();
    doc.info.description = Some(
        "The REST API of leadbridge: everything the web UI does, for scripts and mobile apps. \
         Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/token`. \
         Errors are RFC 9457 problem+json with a stable `code`."
            .into(),
    );
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process serves requests.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: answers as long as the process serves requests (for load balancers).
#[utoipa::path(get, path = "/api/v1/health", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn not_found(uri: Uri) -> Problem {
    Problem::new(ProblemCode::NotFound).detail(format!("There is nothing at {}.", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> impl IntoResponse {
    Problem::new(ProblemCode::MethodNotAllowed)
        .detail(format!("{method} is not allowed on {}.", uri.path()))
}
