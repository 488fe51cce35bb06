use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use domain::activity::ActivityKind;
use domain::crm::{
    CompanionApp, ConnectionStatus, CrmAccount, CrmAuth, CrmContact, CrmLead, CrmOpportunity,
    CrmOwner, CrmTable, CrmUser, Money, OpportunityState,
};
use domain::ids::{CrmConnectionId, TenantId};
use domain::settings::{
    CrmSettings, PipelineStage, WonValueField, WritebackItems, WritebackSettings,
};
use secrecy::{ExposeSecret, SecretString};
use store::crm::{CrmPage, Mirrored, NewConnection};
use store::secrets::SecretError;
use store::sync_runs::{SyncOutcome, SyncTrigger};
use store::{Clock, StoreError};

use crate::harness::{Harness, TEST_KEY, both};

both!(
    a_tenant_has_one_live_connection_at_a_time,
    secrets_are_encrypted_and_bound_to_their_row,
    secrets_survive_key_rotation,
    settings_round_trip,
    mirror_pages_apply_with_their_delta_token,
    sync_runs_record_progress_and_errors,
    one_sync_per_tenant_holds_the_lease,
);

pub fn app_user() -> NewConnection {
    NewConnection {
        org_url: "https://contoso.crm4.dynamics.com/".into(),
        auth: CrmAuth::ApplicationUser {
            entra_tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
        },
        authority_url: Some("https://127.0.0.1:8443".into()),
        connected_as: Some("# leadbridge".into()),
        companion_app: CompanionApp::Missing,
        can_act_on_behalf_of_reps: false,
    }
}

pub async fn connected(h: &Harness, name: &str) -> (TenantId, CrmConnectionId) {
    let tenant = h.tenant(name, 5).await;
    let connection = h
        .store
        .tenant(tenant)
        .create_connection(app_user())
        .await
        .unwrap()
        .connection
        .id;
    (tenant, connection)
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

async fn a_tenant_has_one_live_connection_at_a_time(h: Harness) {
    let (tenant, id) = connected(&h, "Acme").await;
    let mut t = h.store.tenant(tenant);
    let live = t.live_connection().await.unwrap().unwrap();
    assert_eq!(live.connection.id, id);
    assert_eq!(live.connection.org_url, "https://contoso.crm4.dynamics.com");
    assert_eq!(live.connected_as.as_deref(), Some("# leadbridge"));
    assert!(matches!(
        live.connection.status,
        ConnectionStatus::Connected {
            last_sync: None,
            ..
        }
    ));
    assert!(matches!(
        t.create_connection(app_user()).await,
        Err(StoreError::Conflict(_))
    ));

    t.set_companion_app(
        id,
        &CompanionApp::Installed {
            version: "1.0.0.0".into(),
        },
    )
    .await
    .unwrap();
    t.set_can_act_on_behalf_of_reps(id, true).await.unwrap();
    t.set_connection_error(
        id,
        Some(("The client secret expired.", "Create a new secret.")),
    )
    .await
    .unwrap();
    let broken = t.connection(id).await.unwrap().unwrap();
    assert!(broken.connection.companion_app.is_installed());
    assert!(broken.connection.can_act_on_behalf_of_reps);
    assert_eq!(
        broken.last_error_next_step.as_deref(),
        Some("Create a new secret.")
    );
    let synced_at = h.clock.now();
    t.record_sync_success(id, synced_at).await.unwrap();
    let ok = t.connection(id).await.unwrap().unwrap();
    assert_eq!(
        ok.connection.status,
        ConnectionStatus::Connected {
            since: synced_at,
            last_sync: Some(synced_at),
            last_error: None
        }
    );

    t.put_secret(id, "client_secret", &secret("s3cret"))
        .await
        .unwrap();
    t.disconnect(id).await.unwrap();
    assert_eq!(t.live_connection().await.unwrap(), None);
    assert_eq!(
        t.secret(id, "client_secret").await.unwrap().map(|_| ()),
        None
    );
    assert!(matches!(
        t.connection(id).await.unwrap().unwrap().connection.status,
        ConnectionStatus::Disconnected { purged: false, .. }
    ));
    // Reconnecting afterwards works and makes a new connection.
    let again = t.create_connection(app_user()).await.unwrap();
    assert_ne!(again.connection.id, id);
    assert_eq!(t.connections().await.unwrap().len(), 2);
}

async fn secrets_are_encrypted_and_bound_to_their_row(h: Harness) {
    let (acme, acme_conn) = connected(&h, "Acme").await;
    let (globex, globex_conn) = connected(&h, "Globex").await;
    let plain = "client-secret ✓ 🔑 with ünïcode";
    let mut a = h.store.tenant(acme);
    a.put_secret(acme_conn, "client_secret", &secret(plain))
        .await
        .unwrap();
    a.put_secret(acme_conn, "refresh_token", &secret("refresh"))
        .await
        .unwrap();
    assert_eq!(
        a.secret(acme_conn, "client_secret")
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        plain
    );
    assert!(a.secret(acme_conn, "access_token").await.unwrap().is_none());
    assert!(matches!(
        a.put_secret(acme_conn, "password", &secret("x")).await,
        Err(StoreError::Invalid(_))
    ));

    // At rest: version byte 1, no plaintext.
    let mut raw = h.raw().await;
    let sealed: Vec<u8> = sqlx::query_scalar(
        "SELECT sealed FROM crm_secrets WHERE tenant_id = $1 AND name = 'client_secret'",
    )
    .bind(acme.to_string())
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(sealed[0], 1);
    assert!(!sealed.windows(plain.len()).any(|w| w == plain.as_bytes()));

    // The ciphertext copied into another tenant's row, another connection or another name
    // does not decrypt.
    let other_conn = {
        a.disconnect(acme_conn).await.unwrap();
        let id = a.create_connection(app_user()).await.unwrap().connection.id;
        a.put_secret(id, "client_secret", &secret("placeholder"))
            .await
            .unwrap();
        id
    };
    let mut g = h.store.tenant(globex);
    g.put_secret(globex_conn, "client_secret", &secret("placeholder"))
        .await
        .unwrap();
    a.put_secret(other_conn, "refresh_token", &secret("placeholder"))
        .await
        .unwrap();
    for (tenant, connection, name) in [
        (globex, globex_conn, "client_secret"),
        (acme, other_conn, "client_secret"),
        (acme, other_conn, "refresh_token"),
    ] {
        sqlx::query(
            "UPDATE crm_secrets SET sealed = $1 WHERE tenant_id = $2 AND connection_id = $3 AND name = $4",
        )
        .bind(sealed.clone())
        .bind(tenant.to_string())
        .bind(connection.to_string())
        .bind(name)
        .execute(&mut raw)
        .await
        .unwrap();
        let read = h.store.tenant(tenant).secret(connection, name).await;
        assert!(
            matches!(read, Err(StoreError::Secret(SecretError::Undecryptable))),
            "{name}: {read:?}"
        );
    }

    // Another key cannot read it; no key at all is a clear error.
    let mut key = TEST_KEY;
    key[0] ^= 1;
    let wrong = h.reopen(Some(key)).await;
    wrong
        .tenant(acme)
        .put_secret(other_conn, "access_token", &secret("x"))
        .await
        .unwrap();
    assert!(matches!(
        h.store
            .tenant(acme)
            .secret(other_conn, "access_token")
            .await,
        Err(StoreError::Secret(SecretError::Undecryptable))
    ));
    let keyless = h.reopen(None).await;
    assert!(matches!(
        keyless
            .tenant(acme)
            .secret(other_conn, "access_token")
            .await,
        Err(StoreError::Secret(SecretError::NoKeyring))
    ));

    // Deleting the connection deletes its secrets.
    h.store
        .tenant(globex)
        .delete_connection(globex_conn)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_secrets WHERE tenant_id = $1")
        .bind(globex.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

async fn secrets_survive_key_rotation(h: Harness) {
    let (tenant, connection) = connected(&h, "Acme").await;
    h.store
        .tenant(tenant)
        .put_secret(connection, "refresh_token", &secret("token-1"))
        .await
        .unwrap();
    let rotated = {
        let mut options = store::StoreOptions::new(h.url.clone());
        options.clock = std::sync::Arc::new(h.clock.clone());
        options.keyring = Some(std::sync::Arc::new(
            store::secrets::Keyring::from_keys([(1, TEST_KEY), (2, [7; 32])]).unwrap(),
        ));
        store::Store::connect(options).await.unwrap()
    };
    assert_eq!(
        rotated
            .tenant(tenant)
            .secret(connection, "refresh_token")
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        "token-1"
    );
    assert_eq!(rotated.reseal_secrets().await.unwrap(), 1);
    assert_eq!(rotated.reseal_secrets().await.unwrap(), 0);
    // Now sealed with version 2: the old single-key store can no longer read it.
    assert!(matches!(
        h.store
            .tenant(tenant)
            .secret(connection, "refresh_token")
            .await,
        Err(StoreError::Secret(SecretError::UnknownKeyVersion(2)))
    ));
    assert_eq!(
        rotated
            .tenant(tenant)
            .secret(connection, "refresh_token")
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        "token-1"
    );
}

async fn settings_round_trip(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    assert_eq!(t.crm_settings().await.unwrap(), None);
    let cases = [
        CrmSettings {
            auto_sync_all_seats: true,
            pipeline_stage: PipelineStage::NotSure,
            won_value_field: WonValueField::NotSure,
            writeback: WritebackSettings::OFF,
        },
        CrmSettings {
            auto_sync_all_seats: false,
            pipeline_stage: PipelineStage::Stage(2),
            won_value_field: WonValueField::Column("new_signedvalue".into()),
            writeback: WritebackSettings {
                enabled: true,
                items: WritebackItems::Chosen(BTreeSet::from([
                    ActivityKind::InMail,
                    ActivityKind::Note,
                ])),
            },
        },
        CrmSettings {
            auto_sync_all_seats: true,
            pipeline_stage: PipelineStage::Stage(-1),
            won_value_field: WonValueField::Column("actualvalue".into()),
            writeback: WritebackSettings {
                enabled: true,
                items: WritebackItems::Chosen(BTreeSet::new()),
            },
        },
    ];
    for settings in cases {
        t.put_crm_settings(&settings).await.unwrap();
        assert_eq!(t.crm_settings().await.unwrap(), Some(settings));
    }
}

fn opportunity(n: u128, contacts: usize) -> CrmOpportunity {
    CrmOpportunity {
        id: uuid::Uuid::from_u128(n).into(),
        name: format!("Deal {n} — Großauftrag"),
        state: OpportunityState::Open,
        owner: CrmOwner::User(uuid::Uuid::from_u128(900).into()),
        sales_stage: Some(2),
        account: Some(uuid::Uuid::from_u128(500).into()),
        contacts: (0..contacts)
            .map(|c| uuid::Uuid::from_u128(600 + c as u128).into())
            .collect(),
        currency: Some(uuid::Uuid::from_u128(700).into()),
        money: BTreeMap::from([
            ("actualvalue".to_owned(), Money::parse("1234.5").unwrap()),
            ("estimatedvalue".to_owned(), Money::parse("0.0001").unwrap()),
        ]),
    }
}

async fn mirror_pages_apply_with_their_delta_token(h: Harness) {
    let (tenant, connection) = connected(&h, "Acme").await;
    let mut t = h.store.tenant(tenant);
    let raw = |n: u128| serde_json::json!({"@odata.etag": "W/\"1\"", "n": n.to_string(), "ü": "✓"});
    let opportunities: Vec<_> = (1..=3)
        .map(|n| Mirrored {
            row: opportunity(n, n as usize),
            raw: raw(n),
        })
        .collect();
    t.apply_crm_page(
        connection,
        &CrmPage {
            upserts: opportunities.clone(),
            deletes: vec![],
            delta_token: Some("token-1".into()),
        },
    )
    .await
    .unwrap();
    let read: Vec<CrmOpportunity> = t.crm_rows(connection).await.unwrap();
    assert_eq!(
        read,
        opportunities
            .iter()
            .map(|m| m.row.clone())
            .collect::<Vec<_>>()
    );
    let one = t
        .crm_row::<CrmOpportunity>(connection, uuid::Uuid::from_u128(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.raw, raw(2));

    // A delta page: one change, one delete, a new token.
    let mut changed = opportunity(1, 0);
    changed.state = OpportunityState::Won;
    changed.owner = CrmOwner::Team(uuid::Uuid::from_u128(901).into());
    t.apply_crm_page(
        connection,
        &CrmPage {
            upserts: vec![Mirrored {
                row: changed.clone(),
                raw: raw(1),
            }],
            deletes: vec![uuid::Uuid::from_u128(3)],
            delta_token: Some("token-2".into()),
        },
    )
    .await
    .unwrap();
    let read: Vec<CrmOpportunity> = t.crm_rows(connection).await.unwrap();
    assert_eq!(read, vec![changed, opportunity(2, 2)]);
    assert_eq!(
        t.delta_token(connection, CrmTable::Opportunity)
            .await
            .unwrap()
            .as_deref(),
        Some("token-2")
    );

    // The other tables.
    let user = CrmUser {
        id: uuid::Uuid::from_u128(900).into(),
        full_name: "Ana López".into(),
        email: Some("Ana@Contoso.com".into()),
        disabled: false,
        application_user: false,
    };
    let account = CrmAccount {
        id: uuid::Uuid::from_u128(500).into(),
        name: "Contoso".into(),
        website: Some("https://contoso.example".into()),
        industry: None,
        location: Some("Zürich".into()),
        employees: Some(250),
    };
    let contact = CrmContact {
        id: uuid::Uuid::from_u128(600).into(),
        full_name: "Jordan Lee".into(),
        job_title: Some("CTO".into()),
        email: None,
        phone: Some("+41 44 000 00 00".into()),
        location: None,
        account: Some(account.id),
    };
    let lead = CrmLead {
        id: uuid::Uuid::from_u128(650).into(),
        full_name: "Sam Doe".into(),
        company_name: Some("Initech".into()),
        job_title: None,
        email: Some("sam@initech.example".into()),
        phone: None,
    };
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: user.clone(),
            raw: raw(0),
        }],
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: account.clone(),
            raw: raw(0),
        }],
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: contact.clone(),
            raw: raw(0),
        }],
    )
    .await
    .unwrap();
    t.upsert_crm_rows(
        connection,
        &[Mirrored {
            row: lead.clone(),
            raw: raw(0),
        }],
    )
    .await
    .unwrap();
    assert_eq!(t.crm_rows::<CrmUser>(connection).await.unwrap(), [user]);
    assert_eq!(
        t.crm_rows::<CrmAccount>(connection).await.unwrap(),
        [account]
    );
    assert_eq!(
        t.crm_rows::<CrmContact>(connection).await.unwrap(),
        [contact]
    );
    assert_eq!(t.crm_rows::<CrmLead>(connection).await.unwrap(), [lead]);
    let counts = t.mirror_counts().await.unwrap();
    assert_eq!(
        (
            counts.users,
            counts.accounts,
            counts.contacts,
            counts.leads,
            counts.opportunities
        ),
        (1, 1, 1, 1, 2)
    );

    // A page for a connection the tenant does not have fails whole: no rows, no token.
    let foreign = CrmConnectionId::new_random();
    let failed = t
        .apply_crm_page(
            foreign,
            &CrmPage {
                upserts: vec![Mirrored {
                    row: opportunity(9, 0),
                    raw: raw(9),
                }],
                deletes: vec![],
                delta_token: Some("never".into()),
            },
        )
        .await;
    assert!(failed.is_err());
    assert!(
        t.crm_rows::<CrmOpportunity>(foreign)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        t.delta_token(foreign, CrmTable::Opportunity).await.unwrap(),
        None
    );

    // A large page spans several statements.
    let many: Vec<_> = (1000..3500)
        .map(|n| Mirrored {
            row: opportunity(n, 1),
            raw: raw(n),
        })
        .collect();
    t.upsert_crm_rows(connection, &many).await.unwrap();
    assert_eq!(t.mirror_counts().await.unwrap().opportunities, 2502);
    t.clear_delta_token(connection, CrmTable::Opportunity)
        .await
        .unwrap();
    assert!(t.delta_tokens(connection).await.unwrap().is_empty());
}

async fn sync_runs_record_progress_and_errors(h: Harness) {
    let (tenant, connection) = connected(&h, "Acme").await;
    let mut t = h.store.tenant(tenant);
    let run = t
        .start_sync_run(connection, SyncTrigger::SyncNow)
        .await
        .unwrap();
    assert_eq!(run.outcome, None);
    h.clock.advance(TimeDelta::seconds(30));
    t.update_sync_progress(run.id, "Reading contacts", 1500, Some(6000))
        .await
        .unwrap();
    t.record_sync_error(run.id, Some(CrmTable::Contact), "row 42 has no name")
        .await
        .unwrap();
    t.record_sync_error(run.id, None, "second").await.unwrap();
    let running = t.sync_run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (
            running.phase.as_str(),
            running.rows_done,
            running.rows_total
        ),
        ("Reading contacts", 1500, Some(6000))
    );
    assert_eq!(
        running.updated_at - running.started_at,
        TimeDelta::seconds(30)
    );
    t.finish_sync_run(
        run.id,
        SyncOutcome::Failed,
        Some(("The CRM refused the request.", "Check the app user's role.")),
    )
    .await
    .unwrap();
    // A finished run takes no more progress.
    assert!(
        t.update_sync_progress(run.id, "late", 1, None)
            .await
            .is_err()
    );
    let finished = t.sync_runs(10).await.unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].outcome, Some(SyncOutcome::Failed));
    assert_eq!(
        finished[0].error_next_step.as_deref(),
        Some("Check the app user's role.")
    );
    let errors = t.sync_run_errors(run.id).await.unwrap();
    assert_eq!(
        errors
            .iter()
            .map(|e| (e.table, e.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (Some(CrmTable::Contact), "row 42 has no name"),
            (None, "second")
        ]
    );
}

async fn one_sync_per_tenant_holds_the_lease(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let other = h.tenant("Globex", 1).await;
    let ttl = TimeDelta::minutes(2);
    let mut t = h.store.tenant(tenant);
    let mut lease = t
        .acquire_sync_lease("worker-1", ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(
        t.acquire_sync_lease("worker-2", ttl)
            .await
            .unwrap()
            .is_none()
    );
    // Another tenant's sync is not held up.
    assert!(
        h.store
            .tenant(other)
            .acquire_sync_lease("worker-2", ttl)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        t.sync_lease_holder().await.unwrap(),
        Some(("worker-1".to_owned(), lease.expires_at))
    );
    h.clock.advance(TimeDelta::minutes(1));
    assert!(t.renew_sync_lease(&mut lease, ttl).await.unwrap());
    h.clock
        .advance(TimeDelta::minutes(1) + TimeDelta::seconds(30));
    assert!(
        t.acquire_sync_lease("worker-2", ttl)
            .await
            .unwrap()
            .is_none()
    );
    // Expired: another worker takes over, and the first one's renewal fails.
    h.clock.advance(TimeDelta::minutes(1));
    let taken = t
        .acquire_sync_lease("worker-2", ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(!t.renew_sync_lease(&mut lease, ttl).await.unwrap());
    // Releasing the lost lease does not release the new holder's.
    t.release_sync_lease(lease).await.unwrap();
    assert_eq!(t.sync_lease_holder().await.unwrap().unwrap().0, "worker-2");
    t.release_sync_lease(taken).await.unwrap();
    assert_eq!(t.sync_lease_holder().await.unwrap(), None);

    // Many processes racing: exactly one wins.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = h.store.clone();
            tokio::spawn(async move {
                store
                    .tenant(tenant)
                    .acquire_sync_lease(&format!("racer-{i}"), ttl)
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1);
}
