//! Admin, directory: importing people and companies (JSON array, NDJSON or CSV), upserted by the
//! caller's external id, all or nothing per request.

use axum::Json;
use axum::extract::State;
use http::{HeaderMap, header};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::directory::{
    BATCH, CompanyRow, Format, ImportReport, Importer, PersonRow, Upsert, read_records,
};
use crate::json::RawBody;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

async fn import<R: Upsert>(
    state: &AppState,
    admin: &AdminUser,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> Result<Json<ImportReport>, Problem> {
    let format = Format::from_content_type(headers.get(header::CONTENT_TYPE)).ok_or_else(|| {
        Problem::new(ProblemCode::UnsupportedMediaType).detail(
            "Send a JSON array as application/json, one record per line as \
             application/x-ndjson, or text/csv with a header line.",
        )
    })?;
    // Reading a large body is CPU work; it stays off the threads that answer requests.
    let records = tokio::task::spawn_blocking(move || {
        let mut records = Vec::new();
        read_records::<R>(format, &body[..], |r| records.push(r)).map(|()| records)
    })
    .await
    .map_err(|e| Problem::internal(&e))??;
    let mut importer = Importer::<R>::new(admin.0.tenant(state).begin().await?);
    let mut records = records.into_iter();
    loop {
        let batch: Vec<_> = records.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        importer.add(batch).await?;
    }
    Ok(Json(importer.finish().await?))
}

/// Creates or updates people by your external id. All or nothing: a request with any bad record
/// stores nothing and lists the records' errors (item index, and line for NDJSON and CSV).
#[utoipa::path(post, path = "/api/v1/admin/directory/people", tag = "admin: directory",
    request_body(content(
        (Vec<PersonRow> = "application/json"),
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ), description = "A JSON array of people, NDJSON (one person per line) or CSV whose header line names the columns."),
    responses((status = 200, description = "Every record was stored", body = ImportReport)))]
async fn import_people(
    admin: AdminUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<ImportReport>, Problem> {
    import::<PersonRow>(&state, &admin, &headers, body).await
}

/// Creates or updates companies by your external id, all or nothing (as for people).
#[utoipa::path(post, path = "/api/v1/admin/directory/companies", tag = "admin: directory",
    request_body(content(
        (Vec<CompanyRow> = "application/json"),
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ), description = "A JSON array of companies, NDJSON (one company per line) or CSV whose header line names the columns."),
    responses((status = 200, description = "Every record was stored", body = ImportReport)))]
async fn import_companies(
    admin: AdminUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<ImportReport>, Problem> {
    import::<CompanyRow>(&state, &admin, &headers, body).await
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_people))
        .routes(routes!(import_companies))
}
