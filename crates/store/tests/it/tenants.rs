use store::StoreError;
use store::tenants::NewUser;

use crate::harness::{Harness, both};

both!(
    migrations_are_idempotent,
    users_have_unique_emails_across_tenants,
    seats_are_bounded_by_the_contract,
    concurrent_seat_assignments_never_exceed_the_contract,
);

async fn migrations_are_idempotent(h: Harness) {
    let unreachable = store::Store::connect(store::StoreOptions::new(
        "postgres://postgres@127.0.0.1:1/nothing",
    ))
    .await;
    assert!(
        unreachable.unwrap_err().to_string().contains("refused"),
        "the cause, not a pool timeout"
    );
    let tenant = h.tenant("Acme", 2).await;
    h.store.migrate().await.unwrap();
    store::migrate(&h.url).await.unwrap();
    let mut raw = h.raw().await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    let versions = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(applied, versions as i64);
    assert_eq!(h.store.pending_migrations().await.unwrap(), 0);
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = store::Store::connect(store::StoreOptions::new(store::sqlite_url(
        fresh_dir.path(),
    )))
    .await
    .unwrap();
    assert_eq!(fresh.pending_migrations().await.unwrap(), versions);
    // Data written before the re-run is still there.
    assert_eq!(
        h.store.tenant(tenant).tenant_info().await.unwrap().name,
        "Acme"
    );
}

fn user(email: &str, name: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        display_name: name.to_owned(),
        admin: false,
        password: None,
    }
}

async fn users_have_unique_emails_across_tenants(h: Harness) {
    let acme = h.tenant("Acme", 5).await;
    let globex = h.tenant("Globex", 5).await;
    let ana = h
        .store
        .tenant(acme)
        .create_user(user("  Ana.Lopez@Acme.example ", "Ana López"))
        .await
        .unwrap();
    assert_eq!(ana.email.as_deref(), Some("ana.lopez@acme.example"));
    assert_eq!(ana.display_name, "Ana López");
    for tenant in [acme, globex] {
        let again = h
            .store
            .tenant(tenant)
            .create_user(user("ANA.LOPEZ@acme.example", "Someone"))
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    }
    for bad in ["", "   ", "not-an-email", "a b@c.d"] {
        let result = h.store.tenant(acme).create_user(user(bad, "X")).await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{bad:?}: {result:?}"
        );
    }
    let nameless = h
        .store
        .tenant(acme)
        .create_user(user("x@acme.example", " "))
        .await;
    assert!(matches!(nameless, Err(StoreError::Invalid(_))));
    let mut t = h.store.tenant(acme);
    assert_eq!(t.users().await.unwrap(), vec![ana.clone()]);
    assert_eq!(
        t.user_by_email("ana.lopez@ACME.example").await.unwrap(),
        Some(ana.clone())
    );
    t.set_admin(ana.id, true).await.unwrap();
    assert!(t.user(ana.id).await.unwrap().unwrap().admin);
    // The chosen UI language is the user's, and can be cleared again.
    assert_eq!(ana.language, None);
    t.set_language(ana.id, Some("fr")).await.unwrap();
    assert_eq!(
        t.user(ana.id).await.unwrap().unwrap().language.as_deref(),
        Some("fr")
    );
    let too_long = t.set_language(ana.id, Some(&"x".repeat(17))).await;
    assert!(
        matches!(too_long, Err(StoreError::Invalid(_))),
        "{too_long:?}"
    );
    t.set_language(ana.id, None).await.unwrap();
    assert_eq!(t.user(ana.id).await.unwrap().unwrap().language, None);
    let unknown_tenant = h
        .store
        .tenant(domain::ids::TenantId::new_random())
        .create_user(user("new@x.example", "New"))
        .await;
    assert!(matches!(
        unknown_tenant,
        Err(StoreError::NotFound("tenant"))
    ));
}

async fn seats_are_bounded_by_the_contract(h: Harness) {
    let acme = h.tenant("Acme", 2).await;
    let mut t = h.store.tenant(acme);
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(
            t.create_user(user(&format!("rep{i}@acme.example"), &format!("Rep {i}")))
                .await
                .unwrap(),
        );
    }
    let first = t.assign_seat(users[0].id).await.unwrap();
    assert_eq!(first.seat.holder, users[0].id);
    assert_eq!(first.seat.email.as_deref(), Some("rep0@acme.example"));
    assert_eq!(
        first.seat.crm_sync,
        domain::tenant::SeatCrmSync::FollowTenant
    );
    assert!(first.copy_to_crm_default.ticked);
    let twice = t.assign_seat(users[0].id).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    t.assign_seat(users[1].id).await.unwrap();
    let third = t.assign_seat(users[2].id).await;
    assert!(
        matches!(third, Err(StoreError::NoSeatLeft { seat_count: 2 })),
        "{third:?}"
    );
    t.set_seat_count(3).await.unwrap();
    t.assign_seat(users[2].id).await.unwrap();
    assert_eq!(t.seats().await.unwrap().len(), 3);
    assert_eq!(
        t.user(users[0].id).await.unwrap().unwrap().seat,
        Some(first.seat.id)
    );
    t.set_seat_crm_sync(first.seat.id, domain::tenant::SeatCrmSync::Disabled)
        .await
        .unwrap();
    let crm_user = domain::ids::CrmUserId::new_random();
    t.set_seat_crm_user(first.seat.id, Some(crm_user))
        .await
        .unwrap();
    let seat = t.seat_of_user(users[0].id).await.unwrap().unwrap();
    assert_eq!(seat.seat.crm_sync, domain::tenant::SeatCrmSync::Disabled);
    assert_eq!(seat.crm_user, Some(crm_user));
}

async fn concurrent_seat_assignments_never_exceed_the_contract(h: Harness) {
    let acme = h.tenant("Acme", 3).await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(
            h.store
                .tenant(acme)
                .create_user(user(&format!("rep{i}@acme.example"), "Rep"))
                .await
                .unwrap()
                .id,
        );
    }
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            let store = h.store.clone();
            tokio::spawn(async move { store.tenant(acme).assign_seat(u).await })
        })
        .collect();
    let mut assigned = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => assigned += 1,
            Err(StoreError::NoSeatLeft { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(assigned, 3);
    assert_eq!(h.store.tenant(acme).seats().await.unwrap().len(), 3);
}
