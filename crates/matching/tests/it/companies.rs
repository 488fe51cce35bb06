use matching::{Agreement, CompanyIndex, CompanyRecord, Detail, Field, MatchOutcome};

use crate::company;

fn with(mut c: CompanyRecord, f: impl FnOnce(&mut CompanyRecord)) -> CompanyRecord {
    f(&mut c);
    c
}

#[test]
fn legal_forms_websites_and_domain_aliases() {
    let mut crm = CompanyIndex::default();
    crm.upsert(&with(company("a1", "Fratelli Rossi S.p.A."), |c| {
        c.website = Some("https://www.fratellirossi.it/".into());
        c.country = Some("IT".into());
    }));
    crm.upsert(&with(company("a2", "Rossi Trasporti Srl"), |c| {
        c.country = Some("Italy".into())
    }));

    let lead = with(company("w1", "FRATELLI ROSSI SPA"), |c| {
        c.website = Some("fratellirossi.com".into())
    });
    match crm.best_match(&lead) {
        MatchOutcome::Matched {
            right_id,
            explanation,
            ..
        } => {
            assert_eq!(right_id, "a1");
            let website = explanation
                .fields
                .iter()
                .find(|e| e.field == Field::Website)
                .unwrap();
            assert_eq!(
                (website.agreement, website.detail),
                (Agreement::Equivalent, Some(Detail::DomainAlias))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_distinctive_name_and_its_country_match_but_not_another_country() {
    let mut crm = CompanyIndex::default();
    crm.upsert(&with(company("a1", "Zentrolix Logistik GmbH"), |c| {
        c.country = Some("Germany".into())
    }));
    let here = with(company("w1", "Zentrolix Logistik"), |c| {
        c.country = Some("de".into())
    });
    assert_eq!(crm.best_match(&here).matched_id(), Some("a1"));
    let elsewhere = with(company("w2", "Zentrolix Logistik Ltd"), |c| {
        c.country = Some("United Kingdom".into())
    });
    assert_eq!(crm.best_match(&elsewhere), MatchOutcome::NoMatch);
}

#[test]
fn and_and_ampersand_are_the_same() {
    let mut crm = CompanyIndex::default();
    crm.upsert(&with(company("a1", "Marks & Spencer plc"), |c| {
        c.city = Some("London".into())
    }));
    let lead = with(company("w1", "Marks and Spencer"), |c| {
        c.city = Some("london".into())
    });
    assert_eq!(crm.best_match(&lead).matched_id(), Some("a1"));
}

#[test]
fn a_name_many_companies_share_is_still_found_within_its_country() {
    // 600 companies called Global Solutions: too many to scan by name alone, and 61 of them in
    // Italy, too many for the name halves' blocks; within Italy the name is found again.
    let mut crm = CompanyIndex::default();
    for i in 0..600 {
        let country = if i < 60 { "IT" } else { "FR" };
        crm.upsert(&with(company(&format!("c{i}"), "Global Solutions"), |c| {
            c.country = Some(country.into())
        }));
    }
    crm.upsert(&with(company("it1", "Global Solutions S.r.l."), |c| {
        c.country = Some("IT".into());
        c.street = Some("Via Roma 12".into());
    }));
    let lead = with(company("l1", "GLOBAL SOLUTIONS"), |c| {
        c.country = Some("Italy".into());
        c.street = Some("via Roma 12".into());
    });
    let found = crm.candidates(&lead, 3);
    assert_eq!(
        found.first().map(|c| c.right_id.as_str()),
        Some("it1"),
        "{found:?}"
    );
}

#[test]
fn an_equal_industry_counts_more_when_few_companies_have_it() {
    let mut crm = CompanyIndex::default();
    for i in 0..200 {
        crm.upsert(&with(
            company(&format!("s{i}"), &format!("Soft {i}")),
            |c| c.industry = Some("Software".into()),
        ));
    }
    for (id, industry) in [("a", "Software"), ("b", "Shipbuilding")] {
        crm.upsert(&with(company(id, "Orvalis"), |c| {
            c.industry = Some(industry.into())
        }));
    }
    let weight = |industry: &str, right: &str| {
        let lead = with(company("l", "Orvalis"), |c| {
            c.industry = Some(industry.into())
        });
        let e = crm.compare_with(&lead, right).unwrap();
        e.fields
            .iter()
            .find(|f| f.field == Field::Industry)
            .unwrap()
            .weight
    };
    assert!(weight("Shipbuilding", "b") > weight("Software", "a"));
    assert!(weight("Software", "b") < 0.0);
}
