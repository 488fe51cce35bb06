use std::collections::BTreeSet;

use domain::crm::CrmPersonRef;
use domain::directory::{CompanySize, Person, PersonOrigin};
use domain::ids::{
    CompanyId, CrmAccountId, CrmConnectionId, CrmContactId, CrmLeadId, CrmOpportunityId,
};
use domain::import::ImportDiff;
use domain::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget, Source};
use store::StoreError;
use store::directory::{NewCompany, NewPerson};

use crate::harness::{Harness, both};

both!(
    people_upsert_by_external_id,
    a_large_batch_is_written_whole_or_not_at_all,
    search_is_case_insensitive_and_takes_wildcards_literally,
    people_created_from_the_crm_are_inserted_once,
    hand_saves_and_the_import_diff,
    tags_on_saved_items,
    matches_keep_pins_and_rejections,
);

fn person(external_id: Option<&str>, name: &str) -> NewPerson {
    NewPerson {
        external_id: external_id.map(str::to_owned),
        full_name: name.to_owned(),
        title: Some("  VP Sales ".into()),
        email: Some("jordan@example.com".into()),
        ..NewPerson::default()
    }
}

async fn people_upsert_by_external_id(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let company = t
        .upsert_companies(&[NewCompany {
            external_id: Some("c-1".into()),
            name: "Initech".into(),
            domain: Some("Initech.Example".into()),
            size: Some(CompanySize::From51To200),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    let ids = t
        .upsert_people(&[
            NewPerson {
                company: Some(company),
                company_name: Some("Initech".into()),
                past_companies: vec![
                    " Globex  Corp".into(),
                    String::new(),
                    "globex corp".into(),
                    "Hooli".into(),
                ],
                ..person(Some("p-1"), "Jordan Lee")
            },
            person(None, "No Id"),
        ])
        .await
        .unwrap();
    let record = t.person(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.external_id.as_deref(), Some("p-1"));
    assert_eq!(record.person.title.as_deref(), Some("VP Sales"));
    assert_eq!(record.person.company, Some(company));
    assert_eq!(record.person.origin, PersonOrigin::Workspace);
    // The work history comes back cleaned, in its order.
    assert_eq!(record.person.past_companies, ["Globex Corp", "Hooli"]);

    // Same external id: the same person, updated; no id: another person.
    let again = t
        .upsert_people(&[
            person(Some("p-1"), "Jordan Lee-Smith"),
            person(None, "No Id"),
        ])
        .await
        .unwrap();
    assert_eq!(again[0], ids[0]);
    assert_ne!(again[1], ids[1]);
    assert_eq!(
        t.person_by_external_id("p-1")
            .await
            .unwrap()
            .unwrap()
            .person
            .full_name,
        "Jordan Lee-Smith"
    );
    // An update without a work history clears it.
    assert!(
        t.person(ids[0])
            .await
            .unwrap()
            .unwrap()
            .person
            .past_companies
            .is_empty()
    );
    assert_eq!(t.count_people().await.unwrap(), 3);
    let company_record = t.company_by_external_id("c-1").await.unwrap().unwrap();
    assert_eq!(
        company_record.company.domain.as_deref(),
        Some("initech.example")
    );
    assert_eq!(company_record.company.size, Some(CompanySize::From51To200));

    // Within one batch the last entry for an id wins.
    let twice = t
        .upsert_people(&[person(Some("p-2"), "First"), person(Some("p-2"), "Second")])
        .await
        .unwrap();
    assert_eq!(twice[0], twice[1]);
    assert_eq!(
        t.person(twice[0]).await.unwrap().unwrap().person.full_name,
        "Second"
    );
}

async fn a_large_batch_is_written_whole_or_not_at_all(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let other = h.tenant("Globex", 1).await;
    let foreign_company = h
        .store
        .tenant(other)
        .upsert_companies(&[NewCompany {
            name: "Theirs".into(),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    let mut t = h.store.tenant(tenant);
    let mut batch: Vec<NewPerson> = (0..2500)
        .map(|i| person(Some(&format!("ext-{i}")), &format!("Person {i}")))
        .collect();
    let ids = t.upsert_people(&batch).await.unwrap();
    assert_eq!(ids.len(), 2500);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 2500);
    assert_eq!(t.count_people().await.unwrap(), 2500);

    // One bad row (a company of another tenant) at the end: none of the batch is written.
    for p in &mut batch {
        p.full_name.push_str(" (changed)");
    }
    batch.push(NewPerson {
        company: Some(foreign_company),
        ..person(Some("bad"), "Bad")
    });
    let result = t.upsert_people(&batch).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    assert_eq!(t.count_people().await.unwrap(), 2500);
    assert!(
        !t.person(ids[0])
            .await
            .unwrap()
            .unwrap()
            .person
            .full_name
            .contains("changed")
    );
    let nameless = t.upsert_people(&[person(Some("x"), "  ")]).await;
    assert!(matches!(nameless, Err(StoreError::Invalid(_))));

    // Paging walks every person once.
    let mut seen = 0;
    let mut after = None;
    loop {
        let page = t.people_page(after, 700).await.unwrap();
        if page.is_empty() {
            break;
        }
        seen += page.len();
        after = page.last().map(|p| p.person.id);
    }
    assert_eq!(seen, 2500);
}

async fn search_is_case_insensitive_and_takes_wildcards_literally(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    t.upsert_people(&[
        person(None, "Élodie Durand"),
        person(None, "ELODIE MARTIN"),
        person(None, "Zoë 100%_sure"),
        person(None, "Someone Else"),
    ])
    .await
    .unwrap();
    let names = |found: Vec<store::directory::PersonRecord>| {
        found
            .into_iter()
            .map(|p| p.person.full_name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(t.search_people("élodie", 10).await.unwrap()),
        ["Élodie Durand"]
    );
    assert_eq!(
        names(t.search_people("elodie", 10).await.unwrap()),
        ["ELODIE MARTIN"]
    );
    assert_eq!(
        names(t.search_people("0%_", 10).await.unwrap()),
        ["Zoë 100%_sure"]
    );
    assert!(t.search_people("%", 10).await.unwrap().len() == 1);
    assert_eq!(t.search_people("e", 2).await.unwrap().len(), 2);
    t.upsert_companies(&[NewCompany {
        name: "Müller AG".into(),
        ..NewCompany::default()
    }])
    .await
    .unwrap();
    assert_eq!(t.search_companies("MÜLLER", 5).await.unwrap().len(), 1);
}

fn crm_person(h_tenant: domain::ids::TenantId, connection: CrmConnectionId, n: u128) -> Person {
    let contact = CrmContactId(uuid::Uuid::from_u128(n));
    Person {
        id: domain::import::person_id_for_contact(connection, contact),
        tenant: h_tenant,
        full_name: format!("Contact {n}"),
        title: None,
        company_name: None,
        company: None,
        location: None,
        email: None,
        phone: None,
        profile_url: None,
        past_companies: Vec::new(),
        origin: PersonOrigin::CreatedFromCrm {
            connection,
            contact,
        },
    }
}

async fn people_created_from_the_crm_are_inserted_once(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let connection = CrmConnectionId::new_random();
    let mut t = h.store.tenant(tenant);
    let people = vec![
        crm_person(tenant, connection, 1),
        crm_person(tenant, connection, 2),
    ];
    assert_eq!(t.insert_people_from_crm(&people).await.unwrap(), 2);
    assert_eq!(t.insert_people_from_crm(&people).await.unwrap(), 0);
    let read = t
        .people_by_ids(&[people[1].id, people[0].id])
        .await
        .unwrap();
    let mut expected = people.clone();
    expected.sort_by_key(|p| p.id);
    assert_eq!(
        read.into_iter().map(|r| r.person).collect::<Vec<_>>(),
        expected
    );
    let other = h.tenant("Globex", 1).await;
    let foreign = vec![crm_person(other, connection, 3)];
    assert!(matches!(
        t.insert_people_from_crm(&foreign).await,
        Err(StoreError::Invalid(_))
    ));
}

fn reason(n: u128, stage: Option<i32>) -> CrmReason {
    CrmReason {
        opportunity: CrmOpportunityId(uuid::Uuid::from_u128(n)),
        stage,
    }
}

async fn hand_saves_and_the_import_diff(h: Harness) {
    let tenant = h.tenant("Acme", 2).await;
    let (_, seat) = h.rep(tenant, "ana@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let people = t
        .upsert_people(&[
            person(None, "Hand"),
            person(None, "Imported"),
            person(None, "Both"),
        ])
        .await
        .unwrap();
    let company = t
        .upsert_companies(&[NewCompany {
            name: "Contoso".into(),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    let key = |target| SavedKey { seat, target };
    let (hand, imported, both) = (
        key(SavedTarget::Lead(people[0])),
        key(SavedTarget::Lead(people[1])),
        key(SavedTarget::Lead(people[2])),
    );
    let account = key(SavedTarget::Account(company));
    t.save_by_hand(seat, hand.target).await.unwrap();
    t.save_by_hand(seat, both.target).await.unwrap();

    let connection = CrmConnectionId::new_random();
    let created = crm_person(tenant, connection, 77);
    let created_key = key(SavedTarget::Lead(created.id));
    let diff = ImportDiff {
        create_people: vec![created.clone()],
        person_matches: vec![PersonMatch {
            person: created.id,
            crm: CrmPersonRef::Contact(CrmContactId(uuid::Uuid::from_u128(77))),
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::CreatedFromCrm,
            explanation: "created".into(),
        }],
        save: vec![
            SavedItem {
                key: imported,
                by_hand: false,
                crm_reasons: BTreeSet::from([reason(1, Some(2))]),
                tags: BTreeSet::new(),
            },
            SavedItem {
                key: account,
                by_hand: false,
                crm_reasons: BTreeSet::from([reason(1, Some(2))]),
                tags: BTreeSet::new(),
            },
            SavedItem {
                key: created_key,
                by_hand: false,
                crm_reasons: BTreeSet::from([reason(2, None)]),
                tags: BTreeSet::new(),
            },
        ],
        add_reasons: vec![(both, reason(1, Some(2)))],
        ..ImportDiff::default()
    };
    t.apply_import_diff(&diff).await.unwrap();
    // Applying it again changes nothing (a retried job).
    t.apply_import_diff(&diff).await.unwrap();
    let saved = t.saved_items(None).await.unwrap();
    let expected = domain::import::apply(
        &[
            SavedItem {
                key: hand,
                by_hand: true,
                crm_reasons: BTreeSet::new(),
                tags: BTreeSet::new(),
            },
            SavedItem {
                key: both,
                by_hand: true,
                crm_reasons: BTreeSet::new(),
                tags: BTreeSet::new(),
            },
        ],
        &diff,
    );
    assert_eq!(saved, expected);
    assert_eq!(
        t.person_matches(Some(created.id)).await.unwrap(),
        diff.person_matches
    );

    // The opportunity moves on: its stage changes on one item; another opportunity goes away.
    let next = ImportDiff {
        remove_reasons: vec![(both, reason(1, Some(2))), (imported, reason(1, Some(2)))],
        add_reasons: vec![(imported, reason(1, Some(3)))],
        unsave: vec![account, created_key, hand],
        ..ImportDiff::default()
    };
    t.apply_import_diff(&next).await.unwrap();
    let saved = t.saved_items(Some(seat)).await.unwrap();
    assert_eq!(saved, domain::import::apply(&expected, &next));
    // The import never unsaves what the rep saved by hand.
    assert!(
        saved
            .iter()
            .any(|i| i.key == hand && i.source() == Source::Manual)
    );
    let leads = t.saved_leads(seat, None, 100).await.unwrap().items;
    assert_eq!(leads.len(), 3);
    let imported_lead = leads.iter().find(|l| l.item.key == imported).unwrap();
    assert_eq!(imported_lead.item.source(), Source::Crm);
    assert_eq!(imported_lead.person.person.full_name, "Imported");
    assert_eq!(
        imported_lead.item.crm_reasons,
        BTreeSet::from([reason(1, Some(3))])
    );
    assert!(
        t.saved_accounts(seat, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The rep unsaves; an unknown target is refused.
    assert!(t.unsave(seat, hand.target).await.unwrap());
    assert!(!t.unsave(seat, hand.target).await.unwrap());
    let unknown = t
        .save_by_hand(seat, SavedTarget::Account(CompanyId::new_random()))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::Invalid(_))),
        "{unknown:?}"
    );
}

async fn tags_on_saved_items(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let (_, seat) = h.rep(tenant, "ana@acme.example").await;
    let mut t = h.store.tenant(tenant);
    let p = t.upsert_people(&[person(None, "Jordan")]).await.unwrap()[0];
    let key = SavedKey {
        seat,
        target: SavedTarget::Lead(p),
    };
    t.save_by_hand(seat, key.target).await.unwrap();
    let vip = t.create_tag("  VIP   client ").await.unwrap();
    assert_eq!(vip.name, "VIP client");
    assert_eq!(t.create_tag("VIP client").await.unwrap().id, vip.id);
    assert!(matches!(
        t.create_tag("  ").await,
        Err(StoreError::Invalid(_))
    ));
    let q3 = t.create_tag("Q3 🎯").await.unwrap();
    t.tag_item(key, vip.id).await.unwrap();
    t.tag_item(key, vip.id).await.unwrap();
    t.tag_item(key, q3.id).await.unwrap();
    assert_eq!(
        t.saved_items(Some(seat)).await.unwrap()[0].tags,
        BTreeSet::from([vip.id, q3.id])
    );
    t.untag_item(key, q3.id).await.unwrap();
    t.delete_tag(vip.id).await.unwrap();
    assert!(t.saved_items(Some(seat)).await.unwrap()[0].tags.is_empty());
    assert_eq!(t.tags().await.unwrap(), vec![q3]);
}

async fn matches_keep_pins_and_rejections(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let p = t.upsert_people(&[person(None, "Jordan")]).await.unwrap()[0];
    let company = t
        .upsert_companies(&[NewCompany {
            name: "Contoso".into(),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    let contact = CrmPersonRef::Contact(CrmContactId(uuid::Uuid::from_u128(1)));
    let lead = CrmPersonRef::Lead(CrmLeadId(uuid::Uuid::from_u128(2)));
    let scored = |crm, confidence| PersonMatch {
        person: p,
        crm,
        confidence: Confidence::new(confidence),
        origin: MatchOrigin::Scored,
        explanation: "name + company".into(),
    };
    t.upsert_person_matches(&[scored(contact, 80), scored(lead, 60)])
        .await
        .unwrap();
    assert_eq!(t.person_matches(Some(p)).await.unwrap().len(), 2);
    assert_eq!(t.people_matched_to(contact).await.unwrap()[0].person, p);

    // The rep rejects the contact: it goes and automatic matching cannot bring it back.
    t.reject_person_match(p, contact).await.unwrap();
    t.upsert_person_matches(&[scored(contact, 95)])
        .await
        .unwrap();
    assert_eq!(t.person_matches(Some(p)).await.unwrap(), [scored(lead, 60)]);
    assert_eq!(t.person_rejections().await.unwrap(), [(p, contact)]);

    // The rep pins the contact after all: the pin is the only match and survives automatic runs.
    t.pin_person_match(p, contact, "picked by Ana")
        .await
        .unwrap();
    t.upsert_person_matches(&[PersonMatch {
        origin: MatchOrigin::Exact,
        ..scored(contact, 99)
    }])
    .await
    .unwrap();
    let pinned = t.person_matches(Some(p)).await.unwrap();
    assert_eq!(pinned.len(), 1);
    assert_eq!(pinned[0].origin, MatchOrigin::ByRep);
    assert_eq!(pinned[0].explanation, "picked by Ana");
    assert!(t.person_rejections().await.unwrap().is_empty());
    t.clear_automatic_person_matches(p).await.unwrap();
    assert_eq!(t.person_matches(Some(p)).await.unwrap().len(), 1);
    t.unpin_person(p).await.unwrap();
    assert!(t.person_matches(Some(p)).await.unwrap().is_empty());

    let account = CrmAccountId(uuid::Uuid::from_u128(3));
    let company_match = CompanyMatch {
        company,
        account,
        confidence: Confidence::new(70),
        origin: MatchOrigin::Scored,
        explanation: "domain".into(),
    };
    t.upsert_company_matches(std::slice::from_ref(&company_match))
        .await
        .unwrap();
    assert_eq!(
        t.company_matches(None).await.unwrap(),
        std::slice::from_ref(&company_match)
    );
    t.reject_company_match(company, account).await.unwrap();
    t.upsert_company_matches(std::slice::from_ref(&company_match))
        .await
        .unwrap();
    assert!(t.company_matches(None).await.unwrap().is_empty());
    assert_eq!(t.company_rejections().await.unwrap(), [(company, account)]);
    t.pin_company_match(company, account, "same firm")
        .await
        .unwrap();
    assert_eq!(
        t.company_matches(Some(company)).await.unwrap()[0].origin,
        MatchOrigin::ByRep
    );
}
