#![allow(clippy::unwrap_used)] // tests may unwrap

use chrono::NaiveDate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn order(property: &str, descending: bool) -> OrderBy {
    OrderBy {
        property: property.into(),
        descending,
    }
}

fn expand(name: &str) -> Expand {
    Expand {
        navigation_property: name.into(),
        is_ref: false,
        select: None,
        filter: None,
        orderby: None,
        top: None,
        expand: Vec::new(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn select_lists() {
    let ok: &[(&str, &[&str])] = &[
        ("name", &["name"]),
        ("name,accountid", &["name", "accountid"]),
        (
            " name , _parentaccountid_value ",
            &["name", "_parentaccountid_value"],
        ),
    ];
    for &(text, expected) in ok {
        assert_eq!(parse_select(text).unwrap(), strings(expected), "{text}");
    }
    let errors: &[(&str, &str)] = &[
        (
            "name,,accountid",
            "Term '' is not valid in a $select or $expand expression.",
        ),
        (
            "name,",
            "Term '' is not valid in a $select or $expand expression.",
        ),
        (
            "",
            "Term '' is not valid in a $select or $expand expression.",
        ),
        (
            "name desc",
            "Term 'name desc' is not valid in a $select or $expand expression.",
        ),
        (
            "na-me",
            "Term 'na-me' is not valid in a $select or $expand expression.",
        ),
        (
            "primarycontactid/fullname",
            "Term 'primarycontactid/fullname' is not valid in a $select or $expand expression.",
        ),
        (
            "name,$count",
            "Found system token '$count' in select or expand clause 'name,$count'.",
        ),
    ];
    for &(text, message) in errors {
        let error = parse_select(text).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            ("0x80060888", message),
            "{text}"
        );
    }
}

#[test]
fn orderby_lists() {
    let ok: &[(&str, Vec<OrderBy>)] = &[
        ("name", vec![order("name", false)]),
        (
            "name asc,createdon desc",
            vec![order("name", false), order("createdon", true)],
        ),
        (
            " revenue  desc , name ",
            vec![order("revenue", true), order("name", false)],
        ),
        (
            "_parentaccountid_value",
            vec![order("_parentaccountid_value", false)],
        ),
    ];
    for (text, expected) in ok {
        assert_eq!(&parse_orderby(text).unwrap(), expected, "{text}");
    }
    let errors: &[(&str, &str)] = &[
        ("", "Expression expected at position 0 in ''."),
        ("name,", "Expression expected at position 5 in 'name,'."),
        (
            "name ascending",
            "Syntax error at position 14 in 'name ascending'.",
        ),
        (
            "name asc desc",
            "Syntax error at position 13 in 'name asc desc'.",
        ),
        ("name DESC", "Syntax error at position 9 in 'name DESC'."),
        ("'name'", "Expression expected at position 0 in ''name''."),
        ("name eq", "Syntax error at position 7 in 'name eq'."),
        (
            "primarycontactid/fullname",
            "Ordering by a related table's column ('primarycontactid/…') is not supported by this emulator.",
        ),
    ];
    for &(text, message) in errors {
        let error = parse_orderby(text).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            ("0x80060888", message),
            "{text}"
        );
    }
}

#[test]
fn orderby_aliases_name_a_property() {
    let aliases = vec![
        ("p".to_string(), "createdon".to_string()),
        ("bad".to_string(), "'x'".to_string()),
    ];
    assert_eq!(
        parse_orderby_with_aliases("@p desc,name", &aliases).unwrap(),
        vec![order("createdon", true), order("name", false)]
    );
    let errors = [
        (
            "@missing",
            "The $orderby expression must evaluate to a single value of primitive type.",
        ),
        (
            "@bad",
            "The parameter alias '@bad' in $orderby must name a property; ''x'' does not.",
        ),
    ];
    for (text, message) in errors {
        let error = parse_orderby_with_aliases(text, &aliases).unwrap_err();
        assert_eq!(error.message, message, "{text}");
    }
    // Inside $expand there are no aliases.
    assert_eq!(
        parse_orderby("@p").unwrap_err().message,
        "Parameter aliases cannot be used here (inside $expand, for example): '@p' in '@p'."
    );
}

#[test]
fn top_values() {
    for (text, expected) in [
        ("5", 5),
        (" 10 ", 10),
        ("0", 0),
        ("2147483647", 2_147_483_647),
    ] {
        assert_eq!(parse_top(text).unwrap(), expected, "{text}");
    }
    for text in ["-1", "abc", "", "1.5", "2147483648", "5 0"] {
        let error = parse_top(text).unwrap_err();
        assert_eq!(
            error.message,
            format!(
                "Invalid value '{text}' for $top query option found. The $top query option requires a \
                 non-negative integer value."
            )
        );
    }
}

#[test]
fn expand_items_and_nested_options() {
    let with_select = Expand {
        select: Some(strings(&["fullname", "emailaddress1"])),
        ..expand("primarycontactid")
    };
    assert_eq!(
        parse_expand("primarycontactid($select=fullname,emailaddress1)").unwrap(),
        vec![with_select.clone()]
    );

    let collection = Expand {
        select: Some(strings(&["fullname"])),
        filter: Some(filter::parse("contains(fullname,'a;b,(c)') and statecode eq 0").unwrap()),
        orderby: Some(vec![order("fullname", false), order("createdon", true)]),
        top: Some(5),
        ..expand("contact_customer_accounts")
    };
    assert_eq!(
        parse_expand(
            "contact_customer_accounts($select=fullname;$filter=contains(fullname,'a;b,(c)') and statecode eq 0;\
             $orderby=fullname,createdon desc;$top=5)"
        )
        .unwrap(),
        vec![collection]
    );

    let nested = Expand {
        select: Some(strings(&["fullname", "_createdby_value"])),
        expand: vec![Expand {
            select: Some(strings(&["fullname"])),
            ..expand("createdby")
        }],
        ..expand("primarycontactid")
    };
    assert_eq!(
        parse_expand(
            "primarycontactid($select=fullname,_createdby_value;$expand=createdby($select=fullname)), \
             parentaccountid/$ref,owninguser"
        )
        .unwrap(),
        vec![
            nested,
            Expand {
                is_ref: true,
                ..expand("parentaccountid")
            },
            expand("owninguser"),
        ]
    );

    let json_in_filter = parse_expand(
        "contact_customer_accounts($filter=Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=[\"O'Brian\",\"a)b\"]))",
    )
    .unwrap();
    assert!(
        matches!(&json_in_filter[0].filter, Some(Filter::In { values, .. }) if values.len() == 2)
    );
}

#[test]
fn expand_errors() {
    let sixteen = vec!["primarycontactid"; 16].join(",");
    let nested_sixteen = format!("a($expand={})", vec!["b"; 15].join(","));
    let errors: Vec<(&str, &str)> = vec![
        (
            "primarycontactid($skip=2)",
            "The query option '$skip' is not supported inside $expand; only $select, $filter, $orderby, $top and \
             $expand are.",
        ),
        (
            "primarycontactid($select=fullname;$count=true)",
            "The query option '$count' is not supported inside $expand; only $select, $filter, $orderby, $top and \
             $expand are.",
        ),
        (
            "a($levels=2)",
            "The query option '$levels' is not supported inside $expand; only $select, $filter, $orderby, $top and \
             $expand are.",
        ),
        (
            "a($search=x)",
            "The query option '$search' is not supported inside $expand; only $select, $filter, $orderby, $top and \
             $expand are.",
        ),
        (
            sixteen.as_str(),
            "The result of parsing $expand contained at least 16 items, but the maximum allowed is 15.",
        ),
        (
            nested_sixteen.as_str(),
            "The result of parsing $expand contained at least 16 items, but the maximum allowed is 15.",
        ),
        ("a()", "Empty parenthesis not allowed."),
        ("a($select=x", "Found an unbalanced bracket expression."),
        ("a($select=x))", "Found an unbalanced bracket expression."),
        (
            "a($filter=name eq 'x)",
            "There is an unterminated literal at position 21 in 'a($filter=name eq 'x)'.",
        ),
        (
            "a($select=x)b",
            "Term 'a($select=x)b' is not valid in a $select or $expand expression.",
        ),
        (
            "a($top=1;$top=2)",
            "Query option '$top' was specified more than once, but it must be specified at most once.",
        ),
        (
            "a($select)",
            "Term '$select' is not valid in a $select or $expand expression.",
        ),
        (
            "a($format=json)",
            "Term '$format=json' is not valid in a $select or $expand expression.",
        ),
        (
            "a/$ref($select=x)",
            "Options cannot follow 'a/$ref' in $expand: a reference has no columns.",
        ),
        (
            "a,,b",
            "Term '' is not valid in a $select or $expand expression.",
        ),
        (
            "",
            "Term '' is not valid in a $select or $expand expression.",
        ),
        (
            "a($top=-1)",
            "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value.",
        ),
        (
            "a($filter=name eq)",
            "Expression expected at position 7 in 'name eq'.",
        ),
    ];
    for (text, message) in errors {
        let error = parse_expand(text).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            ("0x80060888", message),
            "{text}"
        );
    }
}

#[test]
fn order_is_sql_server_order() {
    use Value::*;
    let g = |s: &str| Guid(Uuid::parse_str(s).unwrap());
    let ascending: Vec<Vec<Value>> = vec![
        vec![
            Null,
            Int(-5),
            Decimal(-4.5),
            Int(0),
            Decimal(0.5),
            Int(1),
            Decimal(1e20),
        ],
        vec![
            Null,
            String("apple".into()),
            String("Banana".into()),
            String("banana  ".into()),
            String("cherry".into()),
        ],
        vec![
            Null,
            g("ffffffff-ffff-ffff-ffff-000000000000"),
            g("00000000-0000-0000-0000-000000000001"),
        ],
        vec![
            Null,
            DateTime(chrono::DateTime::from_timestamp(0, 0).unwrap()),
            DateTime(chrono::DateTime::from_timestamp(1, 0).unwrap()),
        ],
        vec![
            Null,
            Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            Date(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()),
        ],
        vec![Null, Bool(false), Bool(true)],
    ];
    for values in ascending {
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                let expected = if ["Banana", "banana  "]
                    .iter()
                    .all(|n| [a, b].iter().any(|v| matches!(v, String(s) if &**s == *n)))
                {
                    Ordering::Equal
                } else {
                    i.cmp(&j)
                };
                assert_eq!(compare_for_order(a, b), expected, "{a:?} vs {b:?}");
            }
        }
    }
    assert_eq!(compare_for_order(&Int(2), &Decimal(2.0)), Ordering::Equal);
    assert_eq!(
        compare_for_order(&Int(i64::MAX), &Decimal(2f64.powi(63))),
        Ordering::Less
    );
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![any::<i64>(), -3i64..3, Just(i64::MAX), Just(1 << 53)].prop_map(Value::Int),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(-0.0),
            Just(9.007199254740992e15)
        ]
        .prop_map(Value::Decimal),
        "[a-cA-C ]{0,3}".prop_map(|s| Value::String(s.into())),
        any::<[u8; 16]>().prop_map(|b| Value::Guid(Uuid::from_bytes(b))),
    ]
}

proptest! {
    /// Sorting relies on a total order; check the laws on mixed values, NaN and ±0 included.
    #[test]
    fn order_is_a_total_order(a in any_value(), b in any_value(), c in any_value()) {
        prop_assert_eq!(compare_for_order(&a, &b), compare_for_order(&b, &a).reverse());
        if compare_for_order(&a, &b).is_le() && compare_for_order(&b, &c).is_le() {
            prop_assert!(compare_for_order(&a, &c).is_le());
        }
        if compare_for_order(&a, &b).is_eq() && compare_for_order(&b, &c).is_eq() {
            prop_assert!(compare_for_order(&a, &c).is_eq());
        }
    }

    #[test]
    fn options_never_panic(text in any::<String>()) {
        let _ = parse_select(&text);
        let _ = parse_orderby(&text);
        let _ = parse_top(&text);
        let _ = parse_expand(&text);
    }
}
