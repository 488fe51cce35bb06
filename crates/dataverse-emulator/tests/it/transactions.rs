//! §7 and §9: `$batch` change sets, bulk messages, and service protection limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

fn batch_body(api: &str, fail_second: bool) -> String {
    let second = if fail_second {
        "x".repeat(300)
    } else {
        "ok".into()
    };
    format!(
        "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n\
--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n\
POST {api}/accounts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{{\"name\":\"Batch parent\"}}\r\n\
--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n\
POST {api}/tasks HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{{\"subject\":\"{second}\",\"regardingobjectid_account_task@odata.bind\":\"$1\"}}\r\n\
--changeset_1--\r\n--batch_1--\r\n"
    )
}

async fn post_batch(h: &Harness, body: String) -> (StatusCode, String, String) {
    let r = h
        .http
        .post(h.url("$batch"))
        .bearer_auth(&h.token)
        .header("Content-Type", "multipart/mixed; boundary=batch_1")
        .body(body)
        .send()
        .await
        .unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (r.status(), ct, r.text().await.unwrap())
}

#[tokio::test]
async fn change_set_commits_with_content_id_reference() {
    let h = Harness::start().await;
    let (status, ct, text) = post_batch(&h, batch_body(&h.emu.info.api_url, false)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(ct.starts_with("multipart/mixed; boundary=batchresponse_"));
    assert!(text.contains("HTTP/1.1 204 No Content"));
    assert_eq!(h.get("accounts/$count").await.text, "1");
    let tasks = h.get("tasks?$select=_regardingobjectid_value").await.json();
    let account = h.get("accounts?$select=name").await.json()["value"][0]["accountid"].clone();
    assert_eq!(tasks["value"][0]["_regardingobjectid_value"], account);
}

#[tokio::test]
async fn failing_change_set_rolls_back_every_operation() {
    let h = Harness::start().await;
    let (status, _, text) = post_batch(&h, batch_body(&h.emu.info.api_url, true)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("0x80044331"), "{text}");
    assert_eq!(h.get("accounts/$count").await.text, "0");
    assert_eq!(h.get("tasks/$count").await.text, "0");
}

#[tokio::test]
async fn create_multiple_is_one_transaction() {
    let h = Harness::start().await;
    let ok = json!({"Targets": [
        {"name": "A", "@odata.type": "Microsoft.Dynamics.CRM.account"},
        {"name": "B", "@odata.type": "Microsoft.Dynamics.CRM.account"}
    ]});
    let r = h
        .call(
            Method::POST,
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            Some(ok),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["Ids"].as_array().unwrap().len(), 2);
    let bad = json!({"Targets": [
        {"name": "C", "@odata.type": "Microsoft.Dynamics.CRM.account"},
        {"name": "x".repeat(161), "@odata.type": "Microsoft.Dynamics.CRM.account"}
    ]});
    let r = h
        .call(
            Method::POST,
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            Some(bad),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.get("accounts/$count").await.text, "2");
    // sdkmessagefilters say which tables support it.
    let f = h
        .get("sdkmessagefilters?$select=primaryobjecttypecode")
        .await
        .json();
    assert!(
        f["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["primaryobjecttypecode"] == "account")
    );
    assert!(
        !f["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["primaryobjecttypecode"] == "organization")
    );
}

#[tokio::test]
async fn request_limit_throttles_with_retry_after_and_code() {
    let h = Harness::with(|c| {
        c.limits.requests_per_window = 5;
        c.limits.window_seconds = 60;
    })
    .await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..7 {
        let r = h.get("WhoAmI").await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 5);
    let r = last.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["error"]["code"], "0x80072322");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
}

#[tokio::test]
async fn injected_faults_are_served_per_route() {
    let h = Harness::start().await;
    h.admin(
        Method::PUT,
        "faults",
        json!([{"path_prefix": "accounts", "rate_503": 1.0}]),
    )
    .await;
    assert_eq!(
        h.get("accounts?$select=name").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        h.get("contacts?$select=fullname").await.status,
        StatusCode::OK
    );
    h.admin(
        Method::PUT,
        "faults",
        json!([{"path_prefix": "accounts", "rate_drop": 1.0}]),
    )
    .await;
    let dropped = h
        .http
        .get(h.url("accounts?$select=name"))
        .bearer_auth(&h.token)
        .send()
        .await;
    let failed = match dropped {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "the connection should have been cut mid-response");
    h.admin(Method::PUT, "faults", json!([])).await;
    assert_eq!(h.get("accounts?$select=name").await.status, StatusCode::OK);
}
