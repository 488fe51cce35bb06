//! Service protection limits tripped on purpose: the client backs off, honours `Retry-After`,
//! stays under `x-ms-dop-hint`, retries only what is safe, and no operation is lost.

use dataverse::{ErrorKind, Key, Query};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Emulator;

async fn notes_key(c: &dataverse::Client) {
    c.post_json(
        "EntityDefinitions(LogicalName='account')/Keys",
        &json!({"SchemaName": "new_accountnumber_key", "KeyAttributes": ["accountnumber"]}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_concurrency_limit_is_tripped_and_every_write_still_lands() {
    let e = Emulator::start().await;
    let c = e.client();
    notes_key(&c).await;
    // Three concurrent requests allowed, but the server advertises a high degree of parallelism
    // and answers slowly, so the client's window overshoots and gets 429s.
    e.admin(
        Method::PUT,
        "limits",
        json!({"concurrent_requests": 3, "dop_hint": 40}),
    )
    .await;
    e.admin(Method::PUT, "faults", json!([{"latency_ms": 30}]))
        .await;
    let accounts = c.table("account").await.unwrap();
    let results: Vec<Result<dataverse::Upserted, dataverse::Error>> =
        futures_util::stream::iter(0..150)
            .map(|i| {
                let (c, accounts) = (c.clone(), accounts.clone());
                async move {
                    c.upsert(
                        &accounts,
                        &Key::alternate("accountnumber", format!("T-{i}")),
                        &json!({"name": format!("Throttled {i}")}),
                    )
                    .await
                }
            })
            .buffer_unordered(40)
            .collect()
            .await;
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let stats = c.throttle_stats();
    assert!(
        stats.throttled > 0,
        "the limit was never reached: {stats:?}"
    );
    assert!(stats.retries >= stats.throttled);
    e.admin(Method::PUT, "faults", json!([])).await;
    assert_eq!(c.count("accounts").await.unwrap().count, 150);
}

#[tokio::test]
async fn the_request_window_is_waited_out_with_retry_after() {
    let e = Emulator::start().await;
    let c = e.client();
    e.admin(
        Method::PUT,
        "limits",
        json!({"requests_per_window": 20, "window_seconds": 2}),
    )
    .await;
    let mut read = 0;
    for _ in 0..45 {
        let who: Value = c.get_json("WhoAmI").await.unwrap();
        assert!(who["UserId"].is_string());
        read += 1;
    }
    assert_eq!(read, 45);
    assert!(c.throttle_stats().throttled > 0);
}

#[tokio::test]
async fn the_dop_hint_caps_requests_in_flight() {
    let e = Emulator::start().await;
    let c = e.client();
    notes_key(&c).await;
    e.admin(
        Method::PUT,
        "limits",
        json!({"concurrent_requests": 2, "dop_hint": 2}),
    )
    .await;
    e.admin(Method::PUT, "faults", json!([{"latency_ms": 20}]))
        .await;
    let accounts = c.table("account").await.unwrap();
    let results: Vec<_> = futures_util::stream::iter(0..60)
        .map(|i| {
            let (c, accounts) = (c.clone(), accounts.clone());
            async move {
                c.upsert(
                    &accounts,
                    &Key::alternate("accountnumber", format!("D-{i}")),
                    &json!({"name": "Hinted"}),
                )
                .await
            }
        })
        .buffer_unordered(30)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    let stats = c.throttle_stats();
    assert_eq!(stats.dop_hint, Some(2));
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert!(stats.window <= 2);
}

#[tokio::test]
async fn injected_429s_and_server_errors_on_reads_are_retried() {
    let e = Emulator::start().await;
    let mut config =
        e.config(e.app_auth(&e.emu.info.client_id.to_string(), &e.emu.info.client_secret));
    // Enough attempts that random faults cannot exhaust them, short backoffs to keep it quick.
    config.throttling.max_attempts = 8;
    config.throttling.base_backoff = std::time::Duration::from_millis(20);
    let c = dataverse::Client::new(config).unwrap();
    for i in 0..30 {
        c.post_json("contacts", &json!({"lastname": format!("R{i}")}))
            .await
            .unwrap();
    }
    e.admin(
        Method::PUT,
        "faults",
        json!([{"method": "GET", "rate_429": 0.3, "rate_503": 0.1, "rate_drop": 0.1, "retry_after_seconds": 1}]),
    )
    .await;
    let pages: Vec<dataverse::Page> = c
        .pages(
            &Query::new("contacts").select(["lastname"]),
            &dataverse::PageOptions {
                page_size: 2,
                annotations: vec![],
            },
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 15);
    assert_eq!(pages.iter().map(|p| p.rows.len()).sum::<usize>(), 30);
    assert!(c.throttle_stats().retries > 0);
}

#[tokio::test]
async fn a_create_whose_response_was_lost_is_not_sent_twice() {
    let e = Emulator::start().await;
    let c = e.client();
    e.admin(
        Method::PUT,
        "faults",
        json!([{"method": "POST", "path_prefix": "contacts", "rate_drop": 1.0}]),
    )
    .await;
    let contacts = c.table("contact").await.unwrap();
    let err = c
        .create(&contacts, &json!({"lastname": "Once"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotConnect);
    e.admin(Method::PUT, "faults", json!([])).await;
    // The server ran it once; the client did not run it again.
    assert_eq!(c.count("contacts").await.unwrap().count, 1);

    // A server error on a create is reported, not retried.
    e.admin(
        Method::PUT,
        "faults",
        json!([{"method": "POST", "path_prefix": "contacts", "rate_500": 1.0}]),
    )
    .await;
    let err = c
        .create(&contacts, &json!({"lastname": "Twice"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrmApi);
    assert_eq!(c.throttle_stats().retries, 0);
}
