//! Bulk writes split into multi-row statements: every batch size around a statement's boundary
//! (none, one, exactly one statement, one more) writes each row once, the last entry for a key
//! wins within a batch (even across statements), and a bad row anywhere writes nothing.

use domain::crm::{CrmContact, CrmPersonRef};
use std::collections::BTreeSet;

use domain::ids::{CrmContactId, CrmOpportunityId, PersonId};
use domain::import::ImportDiff;
use domain::matches::{Confidence, MatchOrigin, PersonMatch};
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget};
use store::crm::Mirrored;
use store::directory::{NewCompany, NewPerson};
use store::{MAX_ROWS_PER_STATEMENT, StoreError};

use crate::crm::connected;
use crate::harness::{Harness, both};

both!(
    people_batches_around_a_statement_boundary,
    companies_batches_around_a_statement_boundary,
    mirror_batches_around_a_statement_boundary,
    match_batches_keep_the_last_entry_per_pair,
    import_diffs_larger_than_a_statement,
);

/// The batch sizes that meet a statement boundary.
fn sizes() -> [usize; 4] {
    [0, 1, MAX_ROWS_PER_STATEMENT, MAX_ROWS_PER_STATEMENT + 1]
}

fn person(external_id: String, name: String) -> NewPerson {
    NewPerson {
        external_id: Some(external_id),
        full_name: name,
        email: Some("a@example.com".into()),
        ..NewPerson::default()
    }
}

async fn people_batches_around_a_statement_boundary(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let mut total = 0;
    for size in sizes() {
        let batch: Vec<NewPerson> = (0..size)
            .map(|i| person(format!("{size}-{i}"), format!("Person {size}/{i}")))
            .collect();
        let ids = t.upsert_people(&batch).await.unwrap();
        assert_eq!(ids.len(), size);
        total += size as u64;
        assert_eq!(t.count_people().await.unwrap(), total, "after {size}");
        for (i, id) in ids.iter().enumerate() {
            let stored = t.person(*id).await.unwrap().unwrap();
            assert_eq!(stored.external_id, Some(format!("{size}-{i}")));
            assert_eq!(stored.person.full_name, format!("Person {size}/{i}"));
        }
    }

    // The same external id at the start and past the first statement: one person, the later
    // entry's values, the same id reported for both positions.
    let n = MAX_ROWS_PER_STATEMENT + 10;
    let mut batch: Vec<NewPerson> = (0..n)
        .map(|i| person(format!("dup-{i}"), format!("Dup {i}")))
        .collect();
    batch[n - 1] = person("dup-0".into(), "Dup zero, second entry".into());
    let ids = t.upsert_people(&batch).await.unwrap();
    assert_eq!(ids[0], ids[n - 1]);
    total += n as u64 - 1;
    assert_eq!(t.count_people().await.unwrap(), total);
    assert_eq!(
        t.person_by_external_id("dup-0")
            .await
            .unwrap()
            .unwrap()
            .person
            .full_name,
        "Dup zero, second entry"
    );

    // A nameless person in the second statement's rows: a clear error, nothing written.
    let mut batch: Vec<NewPerson> = (0..=MAX_ROWS_PER_STATEMENT)
        .map(|i| person(format!("late-{i}"), format!("Late {i}")))
        .collect();
    batch[MAX_ROWS_PER_STATEMENT].full_name = " \t".into();
    match t.upsert_people(&batch).await {
        Err(StoreError::Invalid(message)) => assert_eq!(message, "A person needs a name."),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.count_people().await.unwrap(), total);
    assert!(t.person_by_external_id("late-0").await.unwrap().is_none());
}

async fn companies_batches_around_a_statement_boundary(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let company = |external_id: String, name: String| NewCompany {
        external_id: Some(external_id),
        name,
        domain: Some("Example.COM".into()),
        ..NewCompany::default()
    };
    let mut total = 0;
    for size in sizes() {
        let batch: Vec<NewCompany> = (0..size)
            .map(|i| company(format!("{size}-{i}"), format!("Company {size}/{i}")))
            .collect();
        let ids = t.upsert_companies(&batch).await.unwrap();
        assert_eq!(ids.len(), size);
        total += size;
        if let Some(last) = ids.last() {
            let stored = t.company(*last).await.unwrap().unwrap();
            assert_eq!(stored.company.name, format!("Company {size}/{}", size - 1));
            assert_eq!(stored.company.domain.as_deref(), Some("example.com"));
        }
    }
    let mut seen = 0;
    let mut after = None;
    loop {
        let page = t.companies_page(after, 300).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.company.id);
        seen += page.len();
    }
    assert_eq!(seen, total);

    // Re-sending every company of the largest batch updates them in place.
    let size = MAX_ROWS_PER_STATEMENT + 1;
    let batch: Vec<NewCompany> = (0..size)
        .map(|i| company(format!("{size}-{i}"), format!("Renamed {i}")))
        .collect();
    let first = t
        .company_by_external_id(&format!("{size}-0"))
        .await
        .unwrap();
    let again = t.upsert_companies(&batch).await.unwrap();
    assert_eq!(again[0], first.unwrap().company.id);
    let renamed = t
        .company_by_external_id(&format!("{size}-{}", size - 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.company.name, format!("Renamed {}", size - 1));

    // Looking companies up by external id, more than one statement's worth, unknown ones left out.
    let mut wanted: Vec<String> = (0..size).map(|i| format!("{size}-{i}")).collect();
    wanted.push("no-such-company".into());
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let found = t.company_ids_by_external_ids(&refs).await.unwrap();
    assert_eq!(found.len(), size);
    assert_eq!(found[&format!("{size}-0")], again[0]);
    assert!(!found.contains_key("no-such-company"));
    assert!(t.company_ids_by_external_ids(&[]).await.unwrap().is_empty());
}

fn contact(n: usize, name: &str) -> Mirrored<CrmContact> {
    Mirrored {
        row: CrmContact {
            id: CrmContactId(uuid::Uuid::from_u128(n as u128 + 1)),
            full_name: name.to_owned(),
            job_title: None,
            email: Some(format!("c{n}@contoso.example")),
            phone: None,
            location: None,
            account: None,
        },
        raw: serde_json::json!({ "contactid": n }),
    }
}

async fn mirror_batches_around_a_statement_boundary(h: Harness) {
    let (tenant, connection) = connected(&h, "Acme").await;
    let mut t = h.store.tenant(tenant);
    for size in sizes() {
        let rows: Vec<_> = (0..size).map(|n| contact(n, "First read")).collect();
        t.upsert_crm_rows(connection, &rows).await.unwrap();
        let stored = t.crm_rows::<CrmContact>(connection).await.unwrap();
        // Each size rewrites the rows the smaller ones wrote, so the table holds `size` rows.
        assert_eq!(stored.len(), size, "after {size}");
    }

    // A page that names a contact twice (it changed while the read went on): one row, the later
    // version, as if the two had been applied in order.
    let mut rows: Vec<_> = (0..=MAX_ROWS_PER_STATEMENT)
        .map(|n| contact(n, "Second read"))
        .collect();
    rows.push(contact(0, "Changed meanwhile"));
    t.upsert_crm_rows(connection, &rows).await.unwrap();
    let stored = t.crm_rows::<CrmContact>(connection).await.unwrap();
    assert_eq!(stored.len(), MAX_ROWS_PER_STATEMENT + 1);
    let first = stored
        .iter()
        .find(|c| c.id == contact(0, "").row.id)
        .unwrap();
    assert_eq!(first.full_name, "Changed meanwhile");
    assert!(
        stored
            .iter()
            .filter(|c| c.id != first.id)
            .all(|c| c.full_name == "Second read")
    );

    // Rows for a connection the tenant does not have: refused, nothing written.
    let foreign = domain::ids::CrmConnectionId::new_random();
    let rows: Vec<_> = (0..=MAX_ROWS_PER_STATEMENT)
        .map(|n| contact(n + 10_000, "Foreign"))
        .collect();
    assert!(t.upsert_crm_rows(foreign, &rows).await.is_err());
    assert!(t.crm_rows::<CrmContact>(foreign).await.unwrap().is_empty());
    assert_eq!(
        t.mirror_counts().await.unwrap().contacts,
        MAX_ROWS_PER_STATEMENT + 1
    );
}

async fn match_batches_keep_the_last_entry_per_pair(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let size = MAX_ROWS_PER_STATEMENT + 1;
    let people: Vec<NewPerson> = (0..size)
        .map(|i| person(format!("p{i}"), format!("Person {i}")))
        .collect();
    let ids = t.upsert_people(&people).await.unwrap();
    let scored = |person: PersonId, n: usize, confidence: u8| PersonMatch {
        person,
        crm: CrmPersonRef::Contact(CrmContactId(uuid::Uuid::from_u128(n as u128 + 1))),
        confidence: Confidence::new(confidence),
        origin: MatchOrigin::Scored,
        explanation: format!("run {confidence}"),
    };
    t.upsert_person_matches(&[]).await.unwrap();
    let mut batch: Vec<PersonMatch> = ids
        .iter()
        .enumerate()
        .map(|(n, p)| scored(*p, n, 50))
        .collect();
    batch.push(scored(ids[0], 0, 90));
    t.upsert_person_matches(&batch).await.unwrap();
    let stored = t.person_matches(None).await.unwrap();
    assert_eq!(stored.len(), size);
    let first = t.person_matches(Some(ids[0])).await.unwrap();
    assert_eq!(first, [scored(ids[0], 0, 90)]);

    // A match for a person that does not exist, after a full statement of good ones: refused
    // with its reason, and none of the batch is written.
    let mut batch: Vec<PersonMatch> = ids
        .iter()
        .enumerate()
        .map(|(n, p)| scored(*p, n, 70))
        .collect();
    batch.push(scored(PersonId::new_random(), 0, 70));
    match t.upsert_person_matches(&batch).await {
        Err(StoreError::Invalid(message)) => {
            assert_eq!(message, "A match refers to an unknown person.")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        t.person_matches(None)
            .await
            .unwrap()
            .iter()
            .all(|m| m.confidence != Confidence::new(70))
    );
}

async fn import_diffs_larger_than_a_statement(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let (_, seat) = h.rep(tenant, "ana@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let size = MAX_ROWS_PER_STATEMENT + 1;
    let people: Vec<NewPerson> = (0..size)
        .map(|i| person(format!("p{i}"), format!("Person {i}")))
        .collect();
    let ids = t.upsert_people(&people).await.unwrap();
    let key = |p: PersonId| SavedKey {
        seat,
        target: SavedTarget::Lead(p),
    };
    let reason = |n: u128, stage| CrmReason {
        opportunity: CrmOpportunityId(uuid::Uuid::from_u128(n)),
        stage: Some(stage),
    };
    // The rep saved the first person by hand: the import's save of it adds nothing.
    t.save_by_hand(seat, SavedTarget::Lead(ids[0]))
        .await
        .unwrap();
    let item = |p: PersonId| SavedItem {
        key: key(p),
        by_hand: false,
        crm_reasons: BTreeSet::from([reason(1, 2), reason(2, 3)]),
        tags: BTreeSet::new(),
    };
    t.apply_import_diff(&ImportDiff {
        save: ids.iter().map(|p| item(*p)).collect(),
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    let saved = t.saved_items(Some(seat)).await.unwrap();
    assert_eq!(saved.len(), size);
    let hand = saved.iter().find(|i| i.key == key(ids[0])).unwrap();
    assert!(hand.by_hand && hand.crm_reasons.is_empty());
    assert!(
        saved
            .iter()
            .filter(|i| i.key != key(ids[0]))
            .all(|i| !i.by_hand && i.crm_reasons == item(ids[1]).crm_reasons)
    );

    // Every reason moves to a new stage (the same opportunity twice: the last one holds), then
    // every item is unsaved: the hand-saved one stays.
    t.apply_import_diff(&ImportDiff {
        add_reasons: ids
            .iter()
            .flat_map(|p| [(key(*p), reason(1, 4)), (key(*p), reason(1, 5))])
            .collect(),
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    let saved = t.saved_items(Some(seat)).await.unwrap();
    assert!(
        saved.iter().all(
            |i| i.crm_reasons.contains(&reason(1, 5)) && !i.crm_reasons.contains(&reason(1, 4))
        )
    );
    t.apply_import_diff(&ImportDiff {
        unsave: ids.iter().map(|p| key(*p)).collect(),
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    let saved = t.saved_items(Some(seat)).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].key, key(ids[0]));

    // A save for a person that does not exist, after a statement's worth of good ones: refused,
    // and none of the diff is applied.
    let mut save: Vec<SavedItem> = ids[1..].iter().map(|p| item(*p)).collect();
    save.push(item(PersonId::new_random()));
    match t
        .apply_import_diff(&ImportDiff {
            save,
            ..ImportDiff::default()
        })
        .await
    {
        Err(StoreError::Invalid(message)) => assert_eq!(
            message,
            "An imported item refers to a seat, person or company that does not exist."
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.saved_items(Some(seat)).await.unwrap().len(), 1);
}
