//! The API's shared behaviour: the OpenAPI document, the reference page, problem+json for
//! unknown routes and wrong methods.

use crate::harness::{TestApp, problem};
use serde_json::Value;

#[tokio::test]
async fn openapi_document_describes_the_running_routes() {
    let s = TestApp::sqlite().await;
    let r = s
        .http
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "leadbridge API");
    assert!(doc["paths"]["/api/v1/health"]["get"].is_object());

    let health: Value = s
        .http
        .get(s.url("/api/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn reference_page_lists_every_operation() {
    let s = TestApp::sqlite().await;
    let r = s.http.get(s.url("/api/v1/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("<code>/api/v1/health</code>"));
    assert!(page.contains("/api/v1/openapi.json"));
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let s = TestApp::sqlite().await;
    let r = s.http.get(s.url("/api/v1/nope")).send().await.unwrap();
    problem(r, 404, "not_found").await;

    let r = s.http.delete(s.url("/api/v1/health")).send().await.unwrap();
    problem(r, 405, "method_not_allowed").await;

    // A browser asking for a page that is not there gets a page, in its language.
    let browser = |path: &str| {
        s.http
            .get(s.url(path))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("accept-language", "fr-FR,fr;q=0.9")
    };
    let r = browser("/no/such/page").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    // The API stays JSON whatever the client accepts.
    let r = browser("/api/v1/nope").send().await.unwrap();
    problem(r, 404, "not_found").await;
}
