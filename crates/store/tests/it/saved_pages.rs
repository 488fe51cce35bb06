//! A rep's saved leads and accounts read a page at a time: most recently saved first (ties by
//! id), every item exactly once, reasons and tags with each item, and only the rep's own.

use std::collections::BTreeSet;

use chrono::TimeDelta;
use domain::ids::{CrmOpportunityId, PersonId};
use domain::import::ImportDiff;
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget};
use store::directory::{NewCompany, NewPerson};
use store::saved::SavedCursor;

use crate::harness::{Harness, both};

both!(
    saved_leads_page_newest_first_each_once,
    saved_accounts_page_and_saved_checks_by_key,
);

async fn saved_leads_page_newest_first_each_once(h: Harness) {
    let tenant = h.tenant("Acme", 2).await;
    let (_, ana) = h.rep(tenant, "ana@acme.example").await;
    let (_, ben) = h.rep(tenant, "ben@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let people: Vec<NewPerson> = (0..25)
        .map(|i| NewPerson {
            external_id: Some(format!("p{i}")),
            full_name: format!("Person {i}"),
            ..NewPerson::default()
        })
        .collect();
    let ids = t.upsert_people(&people).await.unwrap();

    // The import saves ten at one instant (ties broken by id), then the rep saves five by hand
    // a minute apart; Ben's saved leads must never show in Ana's pages.
    let opportunity = CrmOpportunityId(uuid::Uuid::from_u128(1));
    let imported: Vec<SavedItem> = ids[..10]
        .iter()
        .map(|p| SavedItem {
            key: SavedKey {
                seat: ana,
                target: SavedTarget::Lead(*p),
            },
            by_hand: false,
            crm_reasons: BTreeSet::from([CrmReason {
                opportunity,
                stage: Some(3),
            }]),
            tags: BTreeSet::new(),
        })
        .collect();
    t.apply_import_diff(&ImportDiff {
        save: imported,
        ..ImportDiff::default()
    })
    .await
    .unwrap();
    for p in &ids[10..15] {
        h.clock.advance(TimeDelta::minutes(1));
        t.save_by_hand(ana, SavedTarget::Lead(*p)).await.unwrap();
    }
    for p in &ids[15..] {
        t.save_by_hand(ben, SavedTarget::Lead(*p)).await.unwrap();
    }
    let tag = t.create_tag("VIP").await.unwrap();
    t.tag_item(
        SavedKey {
            seat: ana,
            target: SavedTarget::Lead(ids[0]),
        },
        tag.id,
    )
    .await
    .unwrap();

    let mut sorted_imports: Vec<PersonId> = ids[..10].to_vec();
    sorted_imports.sort();
    let expected: Vec<PersonId> = ids[10..15]
        .iter()
        .rev()
        .copied()
        .chain(sorted_imports)
        .collect();

    for limit in [1, 4, 5, 15, 16, 100] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = t.saved_leads(ana, after, limit).await.unwrap();
            assert!(page.items.len() <= limit as usize);
            seen.extend(page.items);
            match page.next {
                // The cursor travels as text and comes back as the same cursor.
                Some(next) => after = Some(SavedCursor::parse(&next.to_string()).unwrap()),
                None => break,
            }
        }
        let order: Vec<PersonId> = seen.iter().map(|l| l.person.person.id).collect();
        assert_eq!(order, expected, "limit {limit}");
        let first = seen.iter().find(|l| l.person.person.id == ids[0]).unwrap();
        assert_eq!(first.item.tags, BTreeSet::from([tag.id]));
        assert_eq!(first.item.crm_reasons.len(), 1);
        assert!(!first.item.by_hand);
        assert_eq!(first.person.person.full_name, "Person 0");
        let hand = seen.iter().find(|l| l.person.person.id == ids[14]).unwrap();
        assert!(hand.item.by_hand && hand.item.crm_reasons.is_empty());
        assert!(hand.item.tags.is_empty());
    }

    // Saving between pages neither repeats nor skips what was already listed.
    let first = t.saved_leads(ana, None, 3).await.unwrap();
    h.clock.advance(TimeDelta::minutes(1));
    t.save_by_hand(ana, SavedTarget::Lead(ids[20]))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut after = first.next;
    while let Some(cursor) = after {
        let page = t.saved_leads(ana, Some(cursor), 3).await.unwrap();
        rest.extend(page.items.into_iter().map(|l| l.person.person.id));
        after = page.next;
    }
    assert_eq!(rest, expected[3..]);

    for bad in ["", "12", "x.y", "12.not-a-uuid", ".", "1.2.3"] {
        assert_eq!(SavedCursor::parse(bad), None, "{bad:?}");
    }
    assert!(
        t.saved_leads(ana, None, 10)
            .await
            .unwrap()
            .items
            .iter()
            .all(|l| l.item.key.seat == ana)
    );
}

async fn saved_accounts_page_and_saved_checks_by_key(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let (_, ana) = h.rep(tenant, "ana@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let companies: Vec<NewCompany> = (0..3)
        .map(|i| NewCompany {
            name: format!("Company {i}"),
            ..NewCompany::default()
        })
        .collect();
    let ids = t.upsert_companies(&companies).await.unwrap();
    assert!(
        t.saved_accounts(ana, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    for c in &ids {
        h.clock.advance(TimeDelta::seconds(1));
        t.save_by_hand(ana, SavedTarget::Account(*c)).await.unwrap();
    }
    let page = t.saved_accounts(ana, None, 2).await.unwrap();
    let names: Vec<&str> = page
        .items
        .iter()
        .map(|a| a.company.company.name.as_str())
        .collect();
    assert_eq!(names, ["Company 2", "Company 1"]);
    let last = t.saved_accounts(ana, page.next, 2).await.unwrap();
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.items[0].company.company.id, ids[0]);
    assert_eq!(last.next, None);

    assert!(t.is_saved(ana, SavedTarget::Account(ids[1])).await.unwrap());
    t.unsave(ana, SavedTarget::Account(ids[1])).await.unwrap();
    assert!(!t.is_saved(ana, SavedTarget::Account(ids[1])).await.unwrap());
    assert!(
        !t.is_saved(ana, SavedTarget::Lead(PersonId::new_random()))
            .await
            .unwrap()
    );
}
