//! Connecting: an application user and an admin's sign-in, each refusal with its documented
//! message, the status page before and after the first sync, and a connection that stops working
//! and comes back by itself.

use domain::crm::{CrmAuth, CrmContact, CrmTable};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use sync::crm::ConnectionProblem;
use sync::jobs::Trigger;
use sync::status::{CONNECTED, FIRST_SYNC_RUNNING};
use sync::{ApplicationUser, CrmStatus, SyncEngine, SyncError, SyncRunResult};

use crate::harness::{Db, Emulator, both, engine};

fn app_user(e: &Emulator, client_id: &str, secret: &str) -> ApplicationUser {
    ApplicationUser {
        org_url: e.emu.info.org_url.clone(),
        entra_tenant: e.emu.info.tenant_id.to_string(),
        client_id: client_id.to_owned(),
        client_secret: SecretString::from(secret.to_owned()),
        authority_url: Some(e.emu.info.authority_url.clone()),
    }
}

fn default_app(e: &Emulator) -> ApplicationUser {
    app_user(
        e,
        &e.emu.info.client_id.to_string(),
        &e.emu.info.client_secret,
    )
}

async fn connected(engine: &SyncEngine, tenant: domain::ids::TenantId) -> sync::ConnectedStatus {
    match engine.status(tenant).await.unwrap() {
        CrmStatus::Connected(status) => *status,
        CrmStatus::NotConnected => panic!("not connected"),
    }
}

async fn sync_once(
    engine: &SyncEngine,
    tenant: domain::ids::TenantId,
) -> store::sync_runs::SyncRun {
    let SyncRunResult::Finished(run) = engine.run_sync(tenant, Trigger::SyncNow).await.unwrap()
    else {
        panic!("the sync did not run");
    };
    engine
        .store()
        .tenant(tenant)
        .sync_run(run)
        .await
        .unwrap()
        .unwrap()
}

both!(
    an_application_user_connects_and_the_first_sync_fills_the_mirror,
    each_refusal_shows_its_documented_message,
    a_connection_that_stops_working_says_why_and_resumes_by_itself,
    an_admin_signs_in_and_the_connection_keeps_its_rotating_token,
);

async fn an_application_user_connects_and_the_first_sync_fills_the_mirror(db: Db) {
    let e = Emulator::seeded().await;
    let engine = engine(&db.store, &e, 50);
    let tenant = db.tenant("Contoso", 10).await;
    assert_eq!(
        engine.status(tenant).await.unwrap(),
        CrmStatus::NotConnected
    );

    let done = engine
        .connect_application_user(tenant, default_app(&e))
        .await
        .unwrap();
    assert!(done.preflight.passed());
    let status = connected(&engine, tenant).await;
    assert_eq!(status.headline, CONNECTED);
    assert_eq!(status.subline, Some(FIRST_SYNC_RUNNING));
    assert_eq!(status.last_sync, None);
    assert!(status.reps_are_creators);
    assert!(matches!(status.auth, CrmAuth::ApplicationUser { .. }));
    // The first sync was queued with the connection.
    let queued = db.store.tenant(tenant).jobs(None, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, "crm_sync");

    // A second connect is refused while this one is live.
    assert!(matches!(
        engine
            .connect_application_user(tenant, default_app(&e))
            .await,
        Err(SyncError::AlreadyConnected)
    ));

    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));
    let seed = dataverse_emulator::seed::generate(dataverse_emulator::seed::SeedSize::Small, 1);
    let rows = seed.accounts.len()
        + seed.contacts.len()
        + seed.leads.len()
        + seed.opportunities.len()
        + seed.users.len()
        + 1;
    assert_eq!(run.rows_done, rows as u64);
    assert_eq!(run.rows_total, Some(rows as u64));
    let counts = db.store.tenant(tenant).mirror_counts().await.unwrap();
    assert_eq!(counts.contacts, seed.contacts.len());
    assert_eq!(counts.opportunities, seed.opportunities.len());
    let status = connected(&engine, tenant).await;
    assert_eq!(status.subline, None);
    assert!(status.last_sync.is_some());
    assert_eq!(status.running, None);
    assert_eq!(status.problem, None);
    let tokens = db
        .store
        .tenant(tenant)
        .delta_tokens(status.connection)
        .await
        .unwrap();
    assert_eq!(tokens.len(), CrmTable::ALL.len());
}

async fn each_refusal_shows_its_documented_message(db: Db) {
    let e = Emulator::seeded().await;
    let engine = engine(&db.store, &e, 5000);
    let tenant = db.tenant("Contoso", 10).await;
    let refused = |r: sync::Result<sync::Connected>| match r {
        Err(SyncError::Refused { problem, detail }) => (problem, detail),
        other => panic!("expected a refusal, got {other:?}"),
    };

    let (problem, detail) = refused(
        engine
            .connect_application_user(
                tenant,
                app_user(&e, &e.emu.info.client_id.to_string(), "wrong secret"),
            )
            .await,
    );
    assert_eq!(problem, ConnectionProblem::ApiError);
    assert!(detail.contains("invalid_client"), "{detail}");
    assert_eq!(
        problem.next_step(),
        "Error with your API access. Check your CRM system's uptime or contact your CRM representative."
    );

    let (id, secret, _) = e.app_with_roles("rep app", &["Salesperson"]).await;
    let (problem, _) = refused(
        engine
            .connect_application_user(tenant, app_user(&e, &id, &secret))
            .await,
    );
    assert_eq!(problem, ConnectionProblem::InsufficientPrivileges);
    assert_eq!(
        problem.message(),
        "Your CRM account does not have sufficient access privileges. Please check with your CRM administrator."
    );

    let mut unreachable = default_app(&e);
    unreachable.org_url = "https://127.0.0.1:9".into();
    unreachable.authority_url = Some("https://127.0.0.1:9/entra".into());
    let (problem, _) = refused(engine.connect_application_user(tenant, unreachable).await);
    assert_eq!(problem, ConnectionProblem::CannotConnect);
    assert_eq!(
        problem.message(),
        "Could not connect to CRM. Please try again later."
    );

    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "CustomerFreeTest"}),
    )
    .await;
    let (problem, _) = refused(
        engine
            .connect_application_user(tenant, default_app(&e))
            .await,
    );
    assert_eq!(problem, ConnectionProblem::Sandbox);
    e.admin(
        Method::PUT,
        "organization",
        json!({"organization_type": "Customer"}),
    )
    .await;

    let strict = SyncEngine::new(
        db.store.clone(),
        std::sync::Arc::new(sync::crm::dynamics::Dynamics::new(
            sync::crm::dynamics::DynamicsConfig {
                extra_ca_pems: vec![e.ca_pem.clone()],
                ..Default::default()
            },
        )),
        sync::EngineConfig::default(),
    );
    let (problem, _) = refused(
        strict
            .connect_application_user(tenant, default_app(&e))
            .await,
    );
    assert_eq!(problem, ConnectionProblem::OnPremises);
    assert_eq!(
        problem.message(),
        "Microsoft Dynamics on-premises is not supported."
    );

    // Nothing was stored by the refused attempts.
    assert_eq!(
        engine.status(tenant).await.unwrap(),
        CrmStatus::NotConnected
    );
    assert!(
        db.store
            .tenant(tenant)
            .jobs(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_connection_that_stops_working_says_why_and_resumes_by_itself(db: Db) {
    let e = Emulator::seeded().await;
    let engine = engine(&db.store, &e, 5000);
    let tenant = db.tenant("Contoso", 10).await;
    let (client_id, secret, _) = e
        .app_with_roles("leadbridge", &["System Administrator"])
        .await;
    engine
        .connect_application_user(tenant, app_user(&e, &client_id, &secret))
        .await
        .unwrap();
    sync_once(&engine, tenant).await;
    let connection = connected(&engine, tenant).await.connection;
    let contacts_before = db
        .store
        .tenant(tenant)
        .crm_rows::<CrmContact>(connection)
        .await
        .unwrap();

    // The secret is revoked in Entra: once the access token runs out, the sync fails and the
    // page says why.
    e.admin(
        Method::POST,
        &format!("apps/{client_id}/secrets/revoke"),
        json!({}),
    )
    .await;
    e.admin(Method::POST, "clock", json!({"advance_seconds": 2 * 3600}))
        .await;
    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Failed));
    let problem = connected(&engine, tenant).await.problem.unwrap();
    assert!(
        problem
            .message
            .starts_with("The CRM API reported an error. Please try again later."),
        "{}",
        problem.message
    );
    assert!(
        problem.message.contains("invalid_client"),
        "{}",
        problem.message
    );
    let contacts_after = db
        .store
        .tenant(tenant)
        .crm_rows::<CrmContact>(connection)
        .await
        .unwrap();
    assert_eq!(contacts_after, contacts_before, "nothing imported is lost");

    // The secret is valid again: the next sync works and the problem is gone.
    e.admin(
        Method::POST,
        &format!("apps/{client_id}/secrets/revoke"),
        json!({"new_secret": secret}),
    )
    .await;
    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));
    assert_eq!(connected(&engine, tenant).await.problem, None);

    // A privilege is taken away, then given back.
    e.admin(
        Method::POST,
        "roles",
        json!({"name": "Integration", "privileges": {
            "prvReadAccount": "Global", "prvReadContact": "Global", "prvReadLead": "Global",
            "prvReadOpportunity": "Global", "prvReadUser": "Global", "prvReadEntity": "Global"}}),
    )
    .await;
    let app_user_id = dataverse_emulator::server::application_user_id(client_id.parse().unwrap());
    e.admin(
        Method::PUT,
        &format!("users/{app_user_id}/roles"),
        json!({"roles": ["Integration"]}),
    )
    .await;
    e.admin(
        Method::DELETE,
        "roles/Integration/privileges/prvReadContact",
        json!({}),
    )
    .await;
    e.create("contacts", json!({"lastname": "Hidden while broken"}))
        .await;
    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Failed));
    let problem = connected(&engine, tenant).await.problem.unwrap();
    assert!(
        problem
            .message
            .starts_with("Your CRM account does not have sufficient access privileges."),
        "{}",
        problem.message
    );
    assert_eq!(
        problem.next_step,
        "Contact your internal CRM administrator to obtain the needed access privileges."
    );
    e.admin(
        Method::PUT,
        "roles/Integration/privileges/prvReadContact",
        json!({"depth": "Global"}),
    )
    .await;
    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));
    assert_eq!(connected(&engine, tenant).await.problem, None);
    let contacts = db
        .store
        .tenant(tenant)
        .crm_rows::<CrmContact>(connection)
        .await
        .unwrap();
    assert_eq!(contacts.len(), contacts_before.len() + 1);
}

async fn an_admin_signs_in_and_the_connection_keeps_its_rotating_token(db: Db) {
    let e = Emulator::seeded().await;
    let engine = engine(&db.store, &e, 5000);
    let tenant = db.tenant("Contoso", 10).await;
    let url = engine
        .begin_sign_in(tenant, &e.emu.info.org_url, Some(&e.emu.info.authority_url))
        .await
        .unwrap();
    let (code, state) = e.sign_in(&url).await;
    // A state that was not issued for this tenant is refused.
    let other = db.tenant("Other", 1).await;
    assert!(matches!(
        engine.finish_sign_in(other, &code, &state).await,
        Err(SyncError::SignIn(_))
    ));
    let done = engine.finish_sign_in(tenant, &code, &state).await.unwrap();
    let status = connected(&engine, tenant).await;
    assert!(matches!(status.auth, CrmAuth::SignedInAdmin { .. }));
    let stored = db
        .store
        .tenant(tenant)
        .secret(done.connection, "refresh_token")
        .await
        .unwrap()
        .unwrap();

    // Each sync uses the token and keeps the rotated one; a second process sees it too.
    let run = sync_once(&engine, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));
    let rotated = db
        .store
        .tenant(tenant)
        .secret(done.connection, "refresh_token")
        .await
        .unwrap()
        .unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(rotated.expose_secret(), stored.expose_secret());
    let other_process = crate::harness::engine(&db.reopen().await, &e, 5000);
    let run = sync_once(&other_process, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));

    // The refresh tokens are revoked: the connection says so until the admin signs in again.
    e.admin(Method::POST, "refresh-tokens/revoke", json!({}))
        .await;
    let fresh = crate::harness::engine(&db.reopen().await, &e, 5000);
    let run = sync_once(&fresh, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Failed));
    assert!(connected(&fresh, tenant).await.problem.is_some());
    let url = fresh
        .begin_sign_in(tenant, &e.emu.info.org_url, Some(&e.emu.info.authority_url))
        .await
        .unwrap();
    let (code, state) = e.sign_in(&url).await;
    let again = fresh.finish_sign_in(tenant, &code, &state).await.unwrap();
    assert_eq!(
        again.connection, done.connection,
        "signed in again, same connection"
    );
    let run = sync_once(&fresh, tenant).await;
    assert_eq!(run.outcome, Some(store::sync_runs::SyncOutcome::Succeeded));
    assert_eq!(connected(&fresh, tenant).await.problem, None);
}
