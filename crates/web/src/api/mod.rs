//! The REST API under `/api/v1`: routes collected together with their OpenAPI description, so the
//! document served at `/api/v1/openapi.json` is always the API that runs.

pub(crate) mod activities;
pub(crate) mod auth;
pub(crate) mod crm;
pub(crate) mod crm_settings;
mod directory;
pub(crate) mod people;
mod reference;
pub(crate) mod saved;
pub(crate) mod seats;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{Method, Uri};
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::SESSION_COOKIE;
use crate::problem::{Problem, ProblemBody, ProblemCode};
use crate::state::{AppState, WebConfig};

/// The `/api/v1` router with its state, ready to serve.
pub fn router(state: AppState) -> axum::Router {
    let (router, doc) = api(&state.config).split_for_parts();
    let doc = document(doc);
    let reference_page = reference::render(&doc);
    let doc = Arc::new(doc);
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
        .route("/metrics", get(metrics))
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// The Prometheus exposition (no tenant data in it: counts by table and outcome), or 404 when the
/// process was started without metrics.
async fn metrics(State(state): State<AppState>, uri: Uri, headers: http::HeaderMap) -> Response {
    match &state.metrics {
        Some(render) => metrics_exposition(render()),
        None => not_found(uri, headers).await,
    }
}

/// A Prometheus text exposition as a response (also what `worker --metrics-listen` serves).
pub fn metrics_exposition(body: String) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn api(config: &WebConfig) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .merge(auth::routes())
        .merge(seats::routes())
        .merge(crm::routes())
        .merge(crm_settings::routes())
        .merge(people::routes())
        .merge(saved::routes())
        .merge(activities::routes())
        .merge(directory::routes().layer(DefaultBodyLimit::max(config.import_body_limit)))
}

fn document(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "leadbridge API".into();
    doc.info.version = "1".into();
    doc.info.description = Some(
        "The REST API of leadbridge: everything the web UI does, for scripts and mobile apps. \
         Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/token`, or \
         with the browser session cookie from `POST /api/v1/auth/session` (writes then need the \
         session's `X-CSRF-Token`). Errors are RFC 9457 problem+json with a stable `code`."
            .into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("opaque")
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
    );
    let mut problem_schemas = Vec::new();
    <ProblemBody as ToSchema>::schemas(&mut problem_schemas);
    components.schemas.extend(problem_schemas);
    components
        .schemas
        .insert(ProblemBody::name().into_owned(), ProblemBody::schema());
    components.responses.insert(
        "Problem".into(),
        RefOr::T(
            ResponseBuilder::new()
                .description("An error, as RFC 9457 problem+json with a stable `code`.")
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ProblemBody::name())))
                        .build(),
                )
                .build(),
        ),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("session", Vec::<String>::new()),
    ]);
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_default_problem(op);
        }
    }
    doc
}

/// Every operation may answer a problem+json with any status it does not list.
fn add_default_problem(op: &mut Operation) {
    op.responses
        .responses
        .entry("default".into())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Problem")));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process serves requests.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: answers as long as the process serves requests (for load balancers).
#[utoipa::path(get, path = "/api/v1/health", tag = "operations", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Nothing there: problem+json under `/api/`, where clients read JSON; the HTML error page in the
/// reader's language for anything a browser asks for.
async fn not_found(uri: Uri, headers: http::HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") || !wants_html(&headers) {
        Problem::new(ProblemCode::NotFound)
            .detail(format!("There is nothing at {path}."))
            .into_response()
    } else {
        crate::ui::error::UiError::not_found(crate::ui::session::tr_of(&headers)).into_response()
    }
}

/// Whether the client takes HTML (a browser's `Accept` lists `text/html`).
fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

async fn method_not_allowed(method: Method, uri: Uri) -> impl IntoResponse {
    Problem::new(ProblemCode::MethodNotAllowed)
        .detail(format!("{method} is not allowed on {}.", uri.path()))
}

/// One log line per request: method, route (the pattern, so ids and queries stay out of the
/// log), status and duration, which the response also carries as `Server-Timing`. Headers and
/// bodies are never logged: they carry tokens.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    // The server's own time, for browsers' developer tools and the page benchmark.
    if let Ok(value) = http::HeaderValue::from_str(&format!("app;dur={elapsed_ms:.1}")) {
        response.headers_mut().insert("server-timing", value);
    }
    if status >= 500 {
        tracing::warn!(%method, route, status, elapsed_ms, "request");
    } else {
        tracing::debug!(%method, route, status, elapsed_ms, "request");
    }
    response
}
