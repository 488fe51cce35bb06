//! Pre-flight against the emulator: a clean org passes; a sandbox, an old version, a host that is
//! not Dynamics online, missing or shallow privileges and a stranger each fail with their message.

use dataverse::ConnectionMessage;
use dataverse::preflight::Status;
use reqwest::Method;
use serde_json::json;

use crate::harness::Emulator;

/// A role with Global read on everything pre-flight reads, and what writeback needs.
fn integration_role(extra: &[(&str, &str)]) -> serde_json::Value {
    let mut privileges = serde_json::Map::new();
    for p in [
        "prvReadAccount",
        "prvReadContact",
        "prvReadLead",
        "prvReadOpportunity",
        "prvReadUser",
        "prvCreateActivity",
        "prvWriteActivity",
        "prvAppendActivity",
        "prvAppendToContact",
        "prvAppendToLead",
        "prvAppendToAccount",
        "prvCreateNote",
        "prvAppendNote",
        "prvAppendToActivity",
    ] {
        privileges.insert(p.into(), json!("Global"));
    }
    for (p, d) in extra {
        privileges.insert((*p).into(), json!(d));
    }
    json!({"name": "leadbridge integration", "privileges": privileges})
}

#[tokio::test]
async fn a_production_org_passes_and_the_report_serializes() {
    let e = Emulator::seeded().await;
    let report = e.client().preflight().await;
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.message(), None);
    let identity = report.identity.as_ref().unwrap();
    assert_eq!(identity.user_id, e.emu.info.application_user_id);
    assert!(identity.application_user);
    assert!(report.version.as_deref().unwrap().starts_with("9."));
    assert_eq!(report.organization_type.as_deref(), Some("Customer"));
    for table in ["account", "contact", "lead", "opportunity", "systemuser"] {
        assert_eq!(
            report.read_depth[table].as_deref(),
            Some("Global"),
            "{table}"
        );
        assert_eq!(
            report.check(&format!("read_{table}")).unwrap().status,
            Status::Passed
        );
    }
    assert_eq!(
        report.check("delegate_privilege").unwrap().status,
        Status::Passed
    );
    assert_eq!(
        report.check("writeback_privileges").unwrap().status,
        Status::Passed
    );
    // The companion app is not installed yet: a warning, not a failure.
    let companion = report.check("companion_app").unwrap();
    assert_eq!(companion.status, Status::Warning);
    assert!(!report.companion.as_ref().unwrap().installed());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["checks"][0]["id"], "host");
    assert_eq!(json["checks"][0]["status"], "passed");
}

#[tokio::test]
async fn a_sandbox_and_an_old_version_are_refused() {
    let e = Emulator::start().await;
    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "CustomerTest", "version": "8.1.0.512"}),
    )
    .await;
    let report = e.client().preflight().await;
    assert!(!report.passed());
    let sandbox = report.check("organization_type").unwrap();
    assert_eq!(sandbox.status, Status::Failed);
    assert!(sandbox.detail.contains("sandbox"));
    assert_eq!(sandbox.message, Some(ConnectionMessage::ApiError));
    assert_eq!(
        sandbox.message_text,
        Some("The CRM API reported an error. Please try again later.")
    );
    let version = report.check("version").unwrap();
    assert_eq!(version.status, Status::Failed);
    assert!(version.detail.contains("8.1.0.512"));

    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "Customer", "version": "8.2.0.1"}),
    )
    .await;
    let report = e.client().preflight().await;
    assert_eq!(report.check("version").unwrap().status, Status::Passed);
    assert_eq!(
        report.check("organization_type").unwrap().status,
        Status::Passed
    );
}

#[tokio::test]
async fn a_host_outside_dynamics_online_is_on_premises_without_the_test_switch() {
    let e = Emulator::start().await;
    let mut config =
        e.config(e.app_auth(&e.emu.info.client_id.to_string(), &e.emu.info.client_secret));
    config.allow_non_dynamics_host = false;
    let report = dataverse::Client::new(config).unwrap().preflight().await;
    let host = report.check("host").unwrap();
    assert_eq!(host.status, Status::Failed);
    assert!(host.detail.contains("on-premises is not supported"));
    assert_eq!(report.check("connect").unwrap().status, Status::Skipped);
}

#[tokio::test]
async fn a_privilege_removed_between_two_calls_fails_the_second() {
    let e = Emulator::start().await;
    e.admin(
        Method::POST,
        "roles",
        integration_role(&[("prvActOnBehalfOfAnotherUser", "Global")]),
    )
    .await;
    let c = e
        .app_client("integration", &["leadbridge integration"])
        .await;
    let first = c.preflight().await;
    assert!(first.passed(), "{first:#?}");
    assert!(
        !first
            .identity
            .as_ref()
            .unwrap()
            .name
            .as_deref()
            .unwrap_or("")
            .is_empty()
    );

    e.admin(
        Method::DELETE,
        "roles/leadbridge integration/privileges/prvReadLead",
        json!(null),
    )
    .await;
    let second = c.preflight().await;
    assert!(!second.passed());
    let lead = second.check("read_lead").unwrap();
    assert_eq!(lead.status, Status::Failed);
    assert_eq!(
        lead.message,
        Some(ConnectionMessage::InsufficientPrivileges)
    );
    assert!(lead.detail.contains("prvReadLead"));
    assert_eq!(second.read_depth["lead"], None);
    assert_eq!(second.check("read_account").unwrap().status, Status::Passed);
}

#[tokio::test]
async fn business_unit_read_is_not_enough_and_missing_delegate_is_a_warning() {
    let e = Emulator::start().await;
    e.admin(
        Method::POST,
        "roles",
        integration_role(&[("prvReadContact", "Local")]),
    )
    .await;
    let c = e
        .app_client("integration", &["leadbridge integration"])
        .await;
    let report = c.preflight().await;
    let contact = report.check("read_contact").unwrap();
    assert_eq!(contact.status, Status::Failed);
    assert!(contact.detail.contains("Global"));
    assert_eq!(report.read_depth["contact"].as_deref(), Some("Local"));
    let delegate = report.check("delegate_privilege").unwrap();
    assert_eq!(delegate.status, Status::Warning);
    assert_eq!(
        delegate.message,
        Some(ConnectionMessage::InsufficientPrivileges)
    );
}

#[tokio::test]
async fn a_stranger_and_an_unreachable_org_get_their_messages() {
    let e = Emulator::start().await;
    let app = e
        .admin(
            Method::POST,
            "apps",
            json!({"display_name": "stranger", "application_user": false}),
        )
        .await;
    let stranger = dataverse::Client::new(e.config(e.app_auth(
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    )))
    .unwrap();
    let report = stranger.preflight().await;
    assert_eq!(
        report.message(),
        Some(ConnectionMessage::InsufficientPrivileges)
    );
    assert_eq!(report.check("version").unwrap().status, Status::Skipped);

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = e.config(dataverse::Auth::ClientCredentials(
        dataverse::ClientCredentials {
            authority: dataverse::Authority::with_url(
                format!("https://127.0.0.1:{port}").parse().unwrap(),
                "tenant",
            ),
            client_id: "c".into(),
            client_secret: secrecy::SecretString::from("s"),
        },
    ));
    config.org_url = format!("https://127.0.0.1:{port}");
    let report = dataverse::Client::new(config).unwrap().preflight().await;
    assert_eq!(report.message(), Some(ConnectionMessage::CannotConnect));
    assert_eq!(
        report.check("connect").unwrap().next_step,
        Some("There is a connection error with your CRM. Try again later.")
    );
}
