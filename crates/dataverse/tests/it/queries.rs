//! Queries against the emulator: hostile names find exactly themselves, pages follow
//! `@odata.nextLink` with the same page size, and counts report progress.

use dataverse::{Client, Filter, Order, PageOptions, Query};
use futures_util::TryStreamExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::json;

use crate::harness::Emulator;

async fn create_contact(c: &Client, lastname: &str) -> uuid::Uuid {
    c.post_json(
        "contacts",
        &json!({"firstname": "Test", "lastname": lastname}),
    )
    .await
    .unwrap()
    .entity_id()
    .unwrap()
}

async fn matching(c: &Client, filter: Filter) -> Vec<uuid::Uuid> {
    let rows = c
        .query_all(&Query::new("contacts").select(["contactid"]).filter(filter))
        .await
        .unwrap();
    let mut ids: Vec<uuid::Uuid> = rows.iter().filter_map(|r| r.guid("contactid")).collect();
    ids.sort();
    ids
}

/// Contacts whose names would match `name` if its quotes or wildcards were not escaped.
fn decoys(name: &str) -> Vec<String> {
    let mut out = vec![
        "Smith".to_string(),
        name.replace(['%', '_', '[', ']', '\''], "q"),
        name.replace('\'', ""),
    ];
    out.retain(|d| !d.eq_ignore_ascii_case(name) && !d.trim().is_empty());
    out
}

fn filters(name: &str) -> Vec<(&'static str, Filter)> {
    vec![
        ("eq", Filter::eq("lastname", name)),
        ("contains", Filter::contains("lastname", name)),
        ("startswith", Filter::starts_with("lastname", name)),
        ("endswith", Filter::ends_with("lastname", name)),
    ]
}

#[tokio::test]
async fn a_hostile_name_queries_exactly_that_name() {
    let e = Emulator::start().await;
    let c = e.client();
    for name in ["O'Brien", "x' or 1 eq 1", "' or lastname ne '", "100%_[a]"] {
        let target = create_contact(&c, name).await;
        for decoy in decoys(name) {
            create_contact(&c, &decoy).await;
        }
        for (what, filter) in filters(name) {
            assert_eq!(matching(&c, filter).await, vec![target], "{what} {name}");
        }
    }
    // The decoy for `100%_[a]` ("100qq" + "qaq") is not found by a wildcard.
    assert_eq!(
        matching(&c, Filter::contains("lastname", "%")).await.len(),
        1
    );
}

#[tokio::test]
async fn generated_names_query_exactly_themselves() {
    let e = Emulator::start().await;
    let c = e.client();
    let names = "[a-zA-Z0-9'%_\\[\\]^&+#;?/=éß-][a-zA-Z0-9 '%_\\[\\]^&+#;?/=éß-]{0,18}[a-zA-Z0-9'%_\\[\\]^&+#;?/=éß-]"
        .prop_filter("distinct from its decoys", |n: &String| !decoys(n).is_empty());
    let mut runner = TestRunner::deterministic();
    for _ in 0..24 {
        let name = names.new_tree(&mut runner).unwrap().current();
        let target = create_contact(&c, &name).await;
        for decoy in decoys(&name) {
            create_contact(&c, &decoy).await;
        }
        for (what, filter) in filters(&name) {
            let found = matching(&c, filter).await;
            assert!(found.contains(&target), "{what} {name:?} missed its row");
            // Other generated names may legitimately contain this one; decoys never do.
            let mut decoy_hits = Vec::new();
            for id in &found {
                let row: serde_json::Value = c
                    .get_json(&format!("contacts({id})?$select=lastname"))
                    .await
                    .unwrap();
                let other = row["lastname"].as_str().unwrap().to_lowercase();
                let lower = name.to_lowercase();
                let legit = match what {
                    "eq" => other == lower,
                    "contains" => other.contains(&lower),
                    "startswith" => other.starts_with(&lower),
                    _ => other.ends_with(&lower),
                };
                if !legit {
                    decoy_hits.push(other);
                }
            }
            assert!(
                decoy_hits.is_empty(),
                "{what} {name:?} also found {decoy_hits:?}"
            );
        }
    }
}

#[tokio::test]
async fn pages_follow_the_next_link_with_the_same_page_size() {
    let e = Emulator::start().await;
    let c = e.client();
    for i in 0..23 {
        create_contact(&c, &format!("Paged {i:02}")).await;
    }
    let query = Query::new("contacts")
        .select(["lastname"])
        .filter(Filter::starts_with("lastname", "Paged"))
        .count();
    let options = PageOptions {
        page_size: 10,
        annotations: vec![],
    };
    let pages: Vec<dataverse::Page> = c.pages(&query, &options).try_collect().await.unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.rows.len()).collect();
    assert_eq!(sizes, vec![10, 10, 3]);
    assert_eq!(
        pages[0].count,
        Some(dataverse::RecordCount {
            count: 23,
            at_least: false
        })
    );
    let mut names: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.rows.iter().filter_map(|r| r.text("lastname")))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 23);
    assert!(pages.last().unwrap().next_link.is_none());

    let sorted = c
        .query_all(
            &Query::new("contacts")
                .select(["lastname"])
                .filter(Filter::starts_with("lastname", "Paged"))
                .order_by("lastname", Order::Desc)
                .top(2),
        )
        .await
        .unwrap();
    let top: Vec<&str> = sorted.iter().filter_map(|r| r.text("lastname")).collect();
    assert_eq!(top, vec!["Paged 22", "Paged 21"]);

    let count = c.count("contacts").await.unwrap();
    assert_eq!(count.count, 23);
    assert!(!count.at_least);
}

#[tokio::test]
async fn counts_beyond_five_thousand_say_at_least() {
    let e = Emulator::with(|c| {
        c.seed = Some(dataverse_emulator::seed::SeedSize::Medium);
    })
    .await;
    let c = e.client();
    let count = c.count("contacts").await.unwrap();
    assert_eq!(
        count,
        dataverse::RecordCount {
            count: 5000,
            at_least: true
        }
    );
    let first = c
        .pages(
            &Query::new("contacts").select(["contactid"]).count(),
            &PageOptions {
                page_size: 100,
                annotations: vec![],
            },
        )
        .try_next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.rows.len(), 100);
    assert!(first.count.unwrap().at_least);
}
