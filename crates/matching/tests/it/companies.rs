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
