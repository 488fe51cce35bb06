//! The human-readable API reference at `/api/v1/docs`, rendered on the server from the OpenAPI
//! document (no JavaScript, works offline on a self-hosted install).

use askama::Template;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, RefOr};

#[derive(Template)]
#[template(path = "api_reference.html")]
struct ReferencePage<'a> {
    title: &'a str,
    description: &'a str,
    operations: Vec<OperationView>,
}

struct OperationView {
    method: &'static str,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<(String, String, bool)>,
    request_body: Option<String>,
    responses: Vec<(String, String)>,
}

pub fn render(doc: &OpenApi) -> String {
    let mut operations = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods: [(&'static str, &Option<Operation>); 5] = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                operations.push(view(method, path, op));
            }
        }
    }
    let page = ReferencePage {
        title: &doc.info.title,
        description: doc.info.description.as_deref().unwrap_or_default(),
        operations,
    };
    page.render()
        .unwrap_or_else(|e| format!("the API reference could not be rendered: {e}"))
}

fn view(method: &'static str, path: &str, op: &Operation) -> OperationView {
    let parameters = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .map(|p| {
            let location = serde_json::to_value(&p.parameter_in)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            (
                p.name.clone(),
                location,
                matches!(p.required, utoipa::openapi::Required::True),
            )
        })
        .collect();
    let request_body = op.request_body.as_ref().map(|b| match b {
        RefOr::T(b) => b.content.keys().cloned().collect::<Vec<_>>().join(", "),
        RefOr::Ref(r) => r.ref_location.clone(),
    });
    let responses = op
        .responses
        .responses
        .iter()
        .map(|(status, r)| {
            let description = match r {
                RefOr::T(r) => r.description.clone(),
                RefOr::Ref(r) => r.ref_location.clone(),
            };
            (status.clone(), description)
        })
        .collect();
    OperationView {
        method,
        path: path.to_string(),
        summary: op.summary.clone().unwrap_or_default(),
        description: op.description.clone().unwrap_or_default(),
        parameters,
        request_body,
        responses,
    }
}
