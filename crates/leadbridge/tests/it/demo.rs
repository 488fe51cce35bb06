//! `leadbridge demo` set up, reused and reset: what a newcomer's first and second runs get.

use leadbridge::demo::{self, Demo, DemoConfig};

async fn start(dir: &std::path::Path, reset: bool) -> Demo {
    let mut config = DemoConfig::new(dir);
    config.listen = Some("127.0.0.1:0".parse().unwrap());
    config.reset = reset;
    demo::start(config).await.unwrap()
}

async fn people(demo: &Demo) -> u64 {
    demo.store
        .tenant(demo.info.tenant)
        .count_people()
        .await
        .unwrap()
}

/// The sign-in page over HTTPS, trusting the demo's CA and nothing else.
async fn sign_in_page(demo: &Demo) -> String {
    let ca = std::fs::read(&demo.info.ca_cert).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let response = http
        .get(format!("{}/signin", demo.info.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_set_up_once_kept_between_runs_and_reset_on_demand() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();

    let first = start(dir.path(), false).await;
    assert!(first.info.fresh);
    assert!(first.info.url.starts_with("https://127.0.0.1:"));
    assert!(sign_in_page(&first).await.contains("name=\"password\""));
    let admin = first.info.admin.clone();
    let rep = first.info.rep.clone();
    // Both are CRM users of the seed, so their seats map.
    assert!(admin.email.ends_with(".example"), "{}", admin.email);
    assert!(rep.email.ends_with(".example"), "{}", rep.email);
    let directory = people(&first).await;
    assert!(directory > 100, "{directory} people");
    let tenant = first.info.tenant;
    first.shutdown().await.unwrap();

    // The second run reuses everything: same tenant, same logins, nothing added twice.
    let second = start(dir.path(), false).await;
    assert!(!second.info.fresh);
    assert_eq!(second.info.tenant, tenant);
    assert_eq!(second.info.admin.password, admin.password);
    assert_eq!(second.info.rep.email, rep.email);
    assert_eq!(people(&second).await, directory);
    assert_eq!(second.store.tenants().await.unwrap().len(), 1);
    second.shutdown().await.unwrap();

    // --reset starts over.
    let third = start(dir.path(), true).await;
    assert!(third.info.fresh);
    assert_ne!(third.info.tenant, tenant);
    assert_ne!(third.info.admin.password, admin.password);
    assert_eq!(third.store.tenants().await.unwrap().len(), 1);
    assert_eq!(people(&third).await, directory);
    third.shutdown().await.unwrap();
}
