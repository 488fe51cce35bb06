use matching::{Agreement, Detail, Field, MatchOutcome, Method, PeopleIndex, PersonRecord};

use crate::person;

fn with(mut p: PersonRecord, f: impl FnOnce(&mut PersonRecord)) -> PersonRecord {
    f(&mut p);
    p
}

fn index(records: &[PersonRecord]) -> PeopleIndex {
    let mut index = PeopleIndex::default();
    for r in records {
        index.upsert(r);
    }
    index
}

fn evidence(outcome: &MatchOutcome, field: Field) -> Option<(Agreement, Option<Detail>)> {
    match outcome {
        MatchOutcome::Matched { explanation, .. } => explanation
            .fields
            .iter()
            .find(|e| e.field == field)
            .map(|e| (e.agreement, e.detail)),
        _ => None,
    }
}

#[test]
fn email_is_an_exact_key_despite_case_and_plus_tag() {
    let crm = index(&[
        with(person("c1", "Robert", "Jones"), |p| {
            p.email = Some("robert.jones@acme.com".into())
        }),
        person("c2", "Robert", "Jones"),
    ]);
    let lead = with(person("l1", "Bob", "Jones"), |p| {
        p.email = Some("Robert.Jones+news@ACME.com".into())
    });
    let outcome = crm.best_match(&lead);
    assert_eq!(outcome.matched_id(), Some("c1"));
    let MatchOutcome::Matched {
        explanation,
        confidence,
        ..
    } = &outcome
    else {
        unreachable!()
    };
    assert_eq!(explanation.method, Method::ExactKey);
    assert!(*confidence > 0.99);
    assert_eq!(
        evidence(&outcome, Field::FirstName),
        Some((Agreement::Equivalent, Some(Detail::Nickname)))
    );
}

#[test]
fn profile_url_is_an_exact_key_across_spellings() {
    let crm = index(&[with(person("c1", "Ann", "Lee"), |p| {
        p.profile_url = Some("https://www.linkedin.com/in/ann-lee-42/".into())
    })]);
    let lead = with(person("l1", "Ann", "Lee"), |p| {
        p.profile_url = Some("uk.linkedin.com/in/Ann-Lee-42?trk=x".into())
    });
    assert_eq!(crm.best_match(&lead).matched_id(), Some("c1"));
}

#[test]
fn scored_match_on_name_company_and_city_with_accents_and_order() {
    let crm = index(&[with(person("c1", "José", "García López"), |p| {
        p.company = Some("Construcciones Pérez S.A.".into());
        p.city = Some("Sevilla".into());
    })]);
    let lead = PersonRecord {
        id: "l1".into(),
        full_name: Some("GARCIA LOPEZ, Jose".into()),
        company: Some("Construcciones Perez".into()),
        city: Some("SEVILLA".into()),
        ..Default::default()
    };
    let outcome = crm.best_match(&lead);
    assert_eq!(outcome.matched_id(), Some("c1"), "{outcome:?}");
    assert_eq!(
        evidence(&outcome, Field::Company).map(|e| e.0),
        Some(Agreement::Exact)
    );
}

#[test]
fn a_translated_name_is_not_a_nickname() {
    let crm = index(&[with(person("c1", "Giovanni", "Rossi"), |p| {
        p.company = Some("Rossi Srl".into())
    })]);
    let lead = with(person("l1", "John", "Rossi"), |p| {
        p.company = Some("Rossi".into())
    });
    assert_eq!(crm.best_match(&lead), MatchOutcome::NoMatch);
}

#[test]
fn a_name_alone_is_never_enough() {
    let crm = index(&[person("c1", "Xanthippe", "Oduya")]);
    assert_eq!(
        crm.best_match(&person("l1", "Xanthippe", "Oduya")),
        MatchOutcome::NoMatch
    );
    // One more agreeing field is.
    let crm = index(&[with(person("c1", "Xanthippe", "Oduya"), |p| {
        p.city = Some("Lagos".into())
    })]);
    let lead = with(person("l1", "Xanthippe", "Oduya"), |p| {
        p.city = Some("Lagos".into())
    });
    assert_eq!(crm.best_match(&lead).matched_id(), Some("c1"));
}

#[test]
fn namesakes_at_one_company_are_left_ambiguous() {
    let smith = |id| {
        with(person(id, "John", "Smith"), |p| {
            p.company = Some("Acme Inc".into())
        })
    };
    let crm = index(&[smith("c1"), smith("c2")]);
    match crm.best_match(&smith("l1")) {
        MatchOutcome::Ambiguous { candidates } => {
            let mut ids: Vec<&str> = candidates.iter().map(|c| c.right_id.as_str()).collect();
            ids.sort();
            assert_eq!(ids, ["c1", "c2"]);
            assert!(candidates.iter().all(|c| c.confidence < 0.6));
        }
        other => panic!("expected ambiguous, got {other:?}"),
    }
}

#[test]
fn another_mailbox_at_the_same_company_counts_against() {
    let crm = index(&[with(person("c1", "Anna", "Berg"), |p| {
        p.email = Some("anna.berg@acme.com".into());
        p.company = Some("Acme".into());
    })]);
    let without_email = with(person("l1", "Anna", "Berg"), |p| {
        p.company = Some("Acme".into())
    });
    let other_mailbox = with(without_email.clone(), |p| {
        p.email = Some("anna.berg2@acme.com".into())
    });
    let score = |o: &MatchOutcome| match o {
        MatchOutcome::Matched { explanation, .. } => explanation.score,
        other => panic!("{other:?}"),
    };
    let (plain, other) = (
        crm.best_match(&without_email),
        crm.best_match(&other_mailbox),
    );
    assert_eq!(
        evidence(&other, Field::Email),
        Some((Agreement::Different, Some(Detail::SameDomain)))
    );
    assert!(score(&other) <= score(&plain) - 5.0);
}

#[test]
fn phone_in_national_and_international_form() {
    let crm = index(&[with(person("c1", "Pieter", "de Vries"), |p| {
        p.phone = Some("020 123 4567".into());
        p.country = Some("Netherlands".into());
    })]);
    let lead = with(person("l1", "Pieter", "de Vries"), |p| {
        p.phone = Some("+31 20 123 4567".into())
    });
    let outcome = crm.best_match(&lead);
    assert_eq!(outcome.matched_id(), Some("c1"), "{outcome:?}");
    assert_eq!(
        evidence(&outcome, Field::Phone).map(|e| e.0),
        Some(Agreement::Exact)
    );
}

#[test]
fn explanations_serialise_as_plain_data() {
    let crm = index(&[with(person("c1", "Ann", "Lee"), |p| {
        p.email = Some("ann@lee.io".into())
    })]);
    let outcome = crm.best_match(&with(person("l1", "Ann", "Lee"), |p| {
        p.email = Some("ann@lee.io".into())
    }));
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["outcome"], "matched");
    assert_eq!(json["right_id"], "c1");
    assert_eq!(json["explanation"]["method"], "exact_key");
    let email = json["explanation"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "email")
        .unwrap();
    assert_eq!(email["agreement"], "exact");
    assert!(email["weight"].as_f64().unwrap() > 10.0);
    let back: MatchOutcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, outcome);
}

#[test]
fn incremental_updates_change_the_answer() {
    let mut crm = index(&[person("c1", "Ann", "Lee")]);
    let lead = with(person("l1", "Ann", "Lee"), |p| {
        p.email = Some("ann@lee.io".into())
    });
    assert_eq!(crm.best_match(&lead), MatchOutcome::NoMatch);
    crm.upsert(&with(person("c1", "Ann", "Lee"), |p| {
        p.email = Some("ann@lee.io".into())
    }));
    assert_eq!(crm.len(), 1);
    assert_eq!(crm.best_match(&lead).matched_id(), Some("c1"));
    assert!(crm.remove("c1"));
    assert!(!crm.remove("c1"));
    assert!(crm.is_empty());
    assert_eq!(crm.best_match(&lead), MatchOutcome::NoMatch);
}

#[test]
fn closest_candidates_are_listed_when_nothing_matches() {
    let crm = index(&[person("c1", "Ann", "Lee"), person("c2", "Bob", "Stone")]);
    let closest = crm.candidates(&person("l1", "Ann", "Lee"), 3);
    assert_eq!(closest.len(), 1);
    assert_eq!(closest[0].right_id, "c1");
}

#[test]
fn explanation_weights_add_up_to_the_score() {
    let data = matching::bench_data::people(matching::bench_data::BenchConfig::new(500, 9));
    let crm = index(&data.right);
    let mut checked = 0;
    for lead in &data.left {
        for candidate in crm.candidates(lead, 3) {
            let e = &candidate.explanation;
            let sum: f32 = e.fields.iter().map(|f| f.weight).sum();
            assert!((sum - e.score).abs() < 1e-3, "{e:?}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

/// A CRM of `n` people whose names are common: 50 given names and 400 family names.
fn crowd(n: usize) -> Vec<PersonRecord> {
    (0..n)
        .map(|i| {
            with(
                person(
                    &format!("f{i}"),
                    &format!("Given{}", i % 50),
                    &format!("Family{}", i % 400),
                ),
                |p| p.country = Some("IT".into()),
            )
        })
        .collect()
}

fn moved_on(id: &str, first: &str, last: &str) -> PersonRecord {
    // A job change: another company; the city and the country are all that is left in common.
    with(person(id, first, last), |p| {
        p.company = Some("Brand New Employer".into());
        p.city = Some("Milano".into());
        p.country = Some("Italy".into());
    })
}

#[test]
fn a_rare_full_name_counts_for_more_until_someone_else_has_it() {
    let mut records = crowd(20_000);
    records.push(with(person("c1", "Xanthe", "Quorvaldi"), |p| {
        p.company = Some("Old Employer".into());
        p.city = Some("Milano".into());
        p.country = Some("IT".into());
    }));
    let mut crm = index(&records);
    let outcome = crm.best_match(&moved_on("l1", "Xanthe", "Quorvaldi"));
    assert_eq!(outcome.matched_id(), Some("c1"), "{outcome:?}");
    assert_eq!(
        evidence(&outcome, Field::LastName),
        Some((Agreement::Exact, Some(Detail::RareName)))
    );

    // A common name with the same evidence is no match: many people could carry it.
    let common = crm.best_match(&moved_on("l2", "Given7", "Family7"));
    assert_eq!(common.matched_id(), None, "{common:?}");

    // Once another CRM record has the name, it is not rare any more.
    crm.upsert(&with(person("c2", "Xanthe", "Quorvaldi"), |p| {
        p.company = Some("Third Employer".into());
        p.country = Some("IT".into());
    }));
    let outcome = crm.best_match(&moved_on("l1", "Xanthe", "Quorvaldi"));
    assert_eq!(outcome.matched_id(), None, "{outcome:?}");
}

#[test]
fn a_job_change_is_found_through_the_work_history() {
    let mut records = crowd(20_000);
    records.push(with(person("c1", "Given7", "Family7"), |p| {
        p.company = Some("Lomarese S.p.A.".into());
        p.country = Some("IT".into());
    }));
    records.push(with(person("c2", "Given7", "Family7"), |p| {
        p.company = Some("Other Works".into());
        p.country = Some("IT".into());
    }));
    let crm = index(&records);
    // A common name at a new company: one of many Given7 Family7s.
    assert_eq!(
        crm.best_match(&moved_on("l1", "Given7", "Family7"))
            .matched_id(),
        None
    );
    // Its work history names the CRM's company, spelled its own way.
    let lead = with(moved_on("l1", "Given7", "Family7"), |p| {
        p.past_companies = vec!["Earlier Ltd".into(), "LOMARESE".into()];
    });
    let outcome = crm.best_match(&lead);
    assert_eq!(outcome.matched_id(), Some("c1"), "{outcome:?}");
    assert_eq!(
        evidence(&outcome, Field::Company),
        Some((Agreement::Equivalent, Some(Detail::PastEmployer)))
    );
    // A history that names neither CRM record's company changes nothing.
    let stranger = with(moved_on("l2", "Given7", "Family7"), |p| {
        p.past_companies = vec!["Unrelated Group".into()];
    });
    assert_eq!(crm.best_match(&stranger).matched_id(), None);
}

#[test]
fn a_small_crm_never_takes_a_name_alone_for_rare() {
    // In a small CRM every name looks unique; what counts is how many people could carry it.
    let crm = index(&[with(person("c1", "Xanthe", "Quorvaldi"), |p| {
        p.company = Some("Old Employer".into());
        p.city = Some("Milano".into());
        p.country = Some("IT".into());
    })]);
    let outcome = crm.best_match(&moved_on("l1", "Xanthe", "Quorvaldi"));
    assert_eq!(outcome.matched_id(), None, "{outcome:?}");
}

#[test]
fn an_equal_title_at_another_company_counts_little() {
    let crm = index(&[
        with(person("c1", "Ann", "Lee"), |p| {
            p.company = Some("Acme".into());
            p.title = Some("Procurement Director".into());
        }),
        with(person("c2", "Ann", "Lee"), |p| {
            p.company = Some("Other Works".into());
            p.title = Some("Procurement Director".into());
        }),
    ]);
    let lead = with(person("l1", "Ann", "Lee"), |p| {
        p.company = Some("Acme".into());
        p.title = Some("Procurement Director".into());
    });
    let title = |right: &str| {
        let e = crm.compare_with(&lead, right).unwrap();
        e.fields
            .iter()
            .find(|f| f.field == Field::Title)
            .unwrap()
            .weight
    };
    assert!(title("c1") > 2.0, "{}", title("c1"));
    assert!(title("c2") <= 1.0, "{}", title("c2"));
    assert!(crm.compare_with(&lead, "nobody").is_none());
}

#[test]
fn a_mistyped_given_name_is_found_through_family_name_and_company() {
    // Sixty J. Smiths: the family-name block is too large to scan, so only the family name
    // with the company brings the record up.
    let mut records: Vec<PersonRecord> = (0..60)
        .map(|i| person(&format!("s{i}"), &format!("Jay{i}"), "Smith"))
        .collect();
    records.push(with(person("c1", "Jonathan", "Smith"), |p| {
        p.company = Some("Zorbix Ltd".into());
        p.city = Some("Leeds".into());
    }));
    let crm = index(&records);
    let lead = with(person("l1", "Jonathon", "Smith"), |p| {
        p.company = Some("ZORBIX".into());
        p.city = Some("Leeds".into());
    });
    assert_eq!(crm.best_match(&lead).matched_id(), Some("c1"));
}

/// Jonathan Smithson of Zorbix, in Leeds: the CRM record the typo tests look for.
fn smithson() -> PersonRecord {
    with(person("c1", "Jonathan", "Smithson"), |p| {
        p.company = Some("Zorbix Ltd".into());
        p.city = Some("Leeds".into());
    })
}

#[test]
fn swapped_names_with_a_typo_are_found_through_the_company() {
    let crm = index(&[smithson()]);
    // First and last swapped, and the family name mistyped: no name block is shared.
    let lead = with(person("l1", "Smithsen", "Jonathan"), |p| {
        p.company = Some("Zorbix".into());
    });
    let outcome = crm.best_match(&lead);
    assert_eq!(outcome.matched_id(), Some("c1"), "{outcome:?}");
    assert_eq!(
        evidence(&outcome, Field::LastName),
        Some((Agreement::Similar, Some(Detail::Reordered)))
    );
}

/// Which workspace decisions a CRM change can alter is known without rescanning: every record
/// whose decision changed when one CRM record changed or went is among those `looking_at` names
/// for the record as it was and as it is.
#[test]
fn a_crm_change_alters_only_the_decisions_looking_at_it() {
    let data = matching::bench_data::people(matching::bench_data::BenchConfig::new(3000, 5));
    let mut crm = index(&data.right);
    let workspace = index(&data.left);
    let decide = |crm: &PeopleIndex| -> Vec<Option<String>> {
        data.left
            .iter()
            .map(|l| crm.best_match(l).matched_id().map(str::to_owned))
            .collect()
    };
    let mut before = decide(&crm);
    let mut checked = 0;
    for (i, change) in data.right.iter().enumerate().step_by(97) {
        let id = change.id.clone();
        let mut affected: Vec<String> = workspace
            .looking_at(&crm, crm.prepared(&id).unwrap())
            .into_iter()
            .map(str::to_owned)
            .collect();
        if i % 2 == 0 {
            crm.remove(&id);
        } else {
            // The CRM record becomes a copy of some workspace person, under its own id.
            let mut copy = data.left[i % data.left.len()].clone();
            copy.id = id.clone();
            crm.upsert(&copy);
            affected.extend(
                workspace
                    .looking_at(&crm, crm.prepared(&id).unwrap())
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        let after = decide(&crm);
        for (n, (was, is)) in before.iter().zip(&after).enumerate() {
            if was != is {
                checked += 1;
                assert!(
                    affected.contains(&data.left[n].id),
                    "{} changed from {was:?} to {is:?} when {id} changed, but was not named",
                    data.left[n].id
                );
            }
        }
        before = after;
    }
    assert!(checked > 10, "only {checked} decisions changed");
}
