//! §4 `$apply`: groupby with `$count`, sum/average/min/max, filter steps, lookup paths in
//! groupby, the documented restrictions, and the 50,000-source-row limit (0x8004E023).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::Harness;

const FORMATTED: (&str, &str) = (
    "Prefer",
    "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"",
);

async fn get_value(h: &Harness, path: &str) -> Vec<Value> {
    let r = h.call(Method::GET, path, None, &[FORMATTED]).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    let body = r.json();
    assert_eq!(
        body["@odata.context"],
        format!("{}/$metadata#accounts", h.emu.info.api_url),
        "{path}"
    );
    body["value"].as_array().unwrap().clone()
}

/// Three active accounts (revenues 100,000, 200,000 and none) and one inactive one (50,000);
/// Alpha's primary contact is Ann Lee.
async fn accounts(h: &Harness) {
    let ann = h
        .create("contacts", json!({"firstname": "Ann", "lastname": "Lee"}))
        .await;
    h.create(
        "accounts",
        json!({"name": "Alpha", "revenue": 100000, "address1_stateorprovince": "WA",
               "primarycontactid@odata.bind": format!("/contacts({ann})")}),
    )
    .await;
    h.create(
        "accounts",
        json!({"name": "Beta", "revenue": 200000, "address1_stateorprovince": "WA"}),
    )
    .await;
    h.create("accounts", json!({"name": "Gamma"})).await;
    let delta = h
        .create("accounts", json!({"name": "Delta", "revenue": 50000}))
        .await;
    let r = h
        .call(
            Method::PATCH,
            &format!("accounts({delta})"),
            Some(json!({"statecode": 1})),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn groupby_and_aggregates_answer_like_the_documented_examples() {
    let h = Harness::start().await;
    accounts(&h).await;
    assert_eq!(
        get_value(
            &h,
            "accounts?$apply=groupby((statuscode),aggregate($count as count))"
        )
        .await,
        [
            json!({"statuscode@OData.Community.Display.V1.FormattedValue": "Active", "statuscode": 1,
                   "count@OData.Community.Display.V1.FormattedValue": "3", "count": 3}),
            json!({"statuscode@OData.Community.Display.V1.FormattedValue": "Inactive", "statuscode": 2,
                   "count@OData.Community.Display.V1.FormattedValue": "1", "count": 1}),
        ]
    );
    assert_eq!(
        get_value(&h, "accounts?$apply=aggregate(revenue with sum as total)").await,
        [
            json!({"total@OData.Community.Display.V1.FormattedValue": "$350,000.00", "total": 350000.0})
        ]
    );
    // Nulls are left out of an average, as SQL does.
    let averages =
        get_value(&h, "accounts?$apply=groupby((statuscode),aggregate(revenue with average as averagevalue))&$orderby=statuscode desc").await;
    let pairs: Vec<(i64, f64)> = averages
        .iter()
        .map(|g| {
            (
                g["statuscode"].as_i64().unwrap(),
                g["averagevalue"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, [(2, 50000.0), (1, 150000.0)]);
    let extremes = get_value(
        &h,
        "accounts?$apply=aggregate(revenue with min as low,revenue with max as high,createdon with max as lastCreate)",
    )
    .await;
    assert_eq!(extremes[0]["low"], 50000.0);
    assert_eq!(extremes[0]["high"], 200000.0);
    assert!(extremes[0]["lastCreate"].as_str().unwrap().ends_with('Z'));
    // filter(...)/groupby(...) with a lookup path, named <table>_<column> in the response;
    // a group whose value is null leaves the member out.
    assert_eq!(
        get_value(&h, "accounts?$apply=filter(address1_stateorprovince eq 'WA')/groupby((primarycontactid/fullname))").await,
        [json!({}), json!({"contact_fullname": "Ann Lee"})]
    );
    // Distinct values.
    assert_eq!(
        get_value(
            &h,
            "accounts?$apply=groupby((statecode,statuscode))&$filter=name ne 'Gamma'"
        )
        .await
        .len(),
        2
    );
}

#[tokio::test]
async fn documented_restrictions_of_apply_are_errors() {
    let h = Harness::start().await;
    accounts(&h).await;
    let cases = [
        (
            "accounts?$apply=groupby((statuscode),aggregate($count as count))&$orderby=count",
            "The query node SingleValueOpenPropertyAccess is not supported",
        ),
        (
            "accounts?$apply=groupby((createdon))",
            "Grouping by the date and time column 'createdon' is not supported.",
        ),
        (
            "accounts?$apply=aggregate(nme with sum as total)",
            "Could not find a property named 'nme' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "accounts?$apply=aggregate(name with sum as total)",
            "The aggregate 'name with sum' needs a number column; 'name' is not one.",
        ),
        (
            "accounts?$apply=aggregate(revenue as total)",
            "'with' expected at position 18 in 'aggregate(revenue as total)'.",
        ),
    ];
    for (path, message) in cases {
        let r = h.get(path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(
            r.json(),
            json!({"error": {"code": "0x80060888", "message": message}}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn more_than_fifty_thousand_source_rows_is_refused() {
    let h = Harness::with(|c| c.seed = Some(dataverse_emulator::seed::SeedSize::Medium)).await;
    // 20,000 accounts are within the limit.
    let r = h.get("accounts?$apply=aggregate($count as n)").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["value"][0]["n"], 20_000);
    // 100,000 contacts are not; a filter step that leaves fewer is fine.
    let r = h
        .get("contacts?$apply=groupby((statecode),aggregate($count as n))")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"error": {"code": "0x8004e023", "message": "The maximum record limit is exceeded. Reduce the number of records."}})
    );
    let r = h
        .get("contacts?$apply=filter(statecode eq 1)/aggregate($count as n)")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
