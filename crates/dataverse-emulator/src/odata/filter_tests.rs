#![allow(clippy::unwrap_used)] // tests may unwrap

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::odata::dates::DateFunction;
use crate::odata::{EvalContext, Schema};
use crate::value::{Value, ValueKind};

const ME: &str = "4026be43-6b69-e111-8f65-78e7d1620f5e";
const OTHER: &str = "11111111-2222-3333-4444-555555555555";

const COLUMNS: &[(&str, ValueKind)] = &[
    ("accountid", ValueKind::Guid),
    ("name", ValueKind::String),
    ("revenue", ValueKind::Decimal),
    ("numberofemployees", ValueKind::Int),
    ("_ownerid_value", ValueKind::Guid),
    ("createdon", ValueKind::DateTime),
    ("estimatedclosedate", ValueKind::Date),
    ("donotemail", ValueKind::Bool),
    ("description", ValueKind::String),
];

struct Accounts;

impl Schema for Accounts {
    fn logical_name(&self) -> &str {
        "account"
    }

    fn column(&self, name: &str) -> Option<(usize, ValueKind)> {
        COLUMNS
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| (i, COLUMNS[i].1))
    }
}

fn guid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn dt(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// The rows every evaluation test runs against; a row is known by its `name`.
fn rows() -> Vec<Vec<Value>> {
    use Value::*;
    let id = || Guid(Uuid::new_v4());
    vec![
        vec![
            id(),
            s("Contoso Ltd"),
            Decimal(100_000.0),
            Int(50),
            Guid(guid(ME)),
            DateTime(dt("2024-01-15T10:00:00Z")),
            Date(date("2024-03-01")),
            Bool(false),
            s("Big"),
        ],
        vec![
            id(),
            s("O'Brien & Sons"),
            Decimal(2500.5),
            Int(5),
            Guid(guid(OTHER)),
            DateTime(dt("2023-12-31T23:59:59Z")),
            Null,
            Bool(true),
            Null,
        ],
        vec![
            id(),
            s("' or 1 eq 1"),
            Null,
            Null,
            Guid(guid(ME)),
            DateTime(dt("2024-01-01T00:00:00Z")),
            Date(date("2024-01-01")),
            Null,
            s("100% sure"),
        ],
        vec![
            id(),
            s("fabrikam"),
            Decimal(0.0),
            Int(1000),
            Null,
            Null,
            Date(date("2025-06-30")),
            Bool(false),
            s("under_score"),
        ],
        vec![
            id(),
            s("Ünïcödé GmbH"),
            Decimal(99.99),
            Int(12),
            Guid(guid(OTHER)),
            DateTime(dt("2022-05-05T05:05:05Z")),
            Null,
            Null,
            s("[bracket]"),
        ],
        vec![
            id(),
            s("Adventure Works   "),
            Decimal(5000.0),
            Int(300),
            Guid(guid(OTHER)),
            Null,
            Null,
            Null,
            s("ADVENTURE WORKS"),
        ],
        // A row stored before most columns existed: the missing tail reads as NULL.
        vec![id(), s("Short")],
    ]
}

fn ctx() -> EvalContext {
    EvalContext {
        user_id: guid(ME),
        business_unit_id: guid(OTHER),
        now: dt("2024-06-01T12:00:00Z"),
    }
}

fn matching_names(filter: &str) -> Vec<String> {
    let bound = parse(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .bind(&Accounts, &ctx())
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    rows()
        .iter()
        .filter(|row| bound.matches(row, &ctx()))
        .map(|row| match &row[1] {
            Value::String(name) => name.to_string(),
            other => panic!("row without a name: {other:?}"),
        })
        .collect()
}

const ALL: &[&str] = &[
    "Contoso Ltd",
    "O'Brien & Sons",
    "' or 1 eq 1",
    "fabrikam",
    "Ünïcödé GmbH",
    "Adventure Works   ",
    "Short",
];

fn all_but(excluded: &[&str]) -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|n| !excluded.contains(n))
        .collect()
}

#[test]
fn evaluates_like_dataverse() {
    let me = ME;
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Strings: case-insensitive, trailing spaces ignored, quotes escaped by doubling.
        ("name eq 'contoso ltd'".into(), vec!["Contoso Ltd"]),
        ("name eq 'CONTOSO LTD'".into(), vec!["Contoso Ltd"]),
        ("name eq 'Contoso'".into(), vec![]),
        ("name eq 'O''Brien & Sons'".into(), vec!["O'Brien & Sons"]),
        ("name eq ''' or 1 eq 1'".into(), vec!["' or 1 eq 1"]),
        ("name eq 'adventure works'".into(), vec!["Adventure Works   "]),
        ("name eq 'ünïcödé gmbh'".into(), vec!["Ünïcödé GmbH"]),
        ("name ne 'contoso ltd'".into(), all_but(&["Contoso Ltd"])),
        ("name gt 'p'".into(), vec!["Ünïcödé GmbH", "Short"]),
        ("'p' lt name".into(), vec!["Ünïcödé GmbH", "Short"]),
        // Numbers, with whole numbers and decimals mixed.
        ("revenue gt 1000".into(), vec!["Contoso Ltd", "O'Brien & Sons", "Adventure Works   "]),
        ("revenue ge 2500.5".into(), vec!["Contoso Ltd", "O'Brien & Sons", "Adventure Works   "]),
        ("revenue lt 100".into(), vec!["fabrikam", "Ünïcödé GmbH"]),
        ("revenue le -0.5".into(), vec![]),
        ("numberofemployees le 12 and numberofemployees ge 5".into(), vec!["O'Brien & Sons", "Ünïcödé GmbH"]),
        ("numberofemployees gt 12.5".into(), vec!["Contoso Ltd", "fabrikam", "Adventure Works   "]),
        ("1000 le numberofemployees".into(), vec!["fabrikam"]),
        // NULL: fails every comparison but `ne`, which Dataverse widens with `OR IS NULL`.
        ("revenue eq null".into(), vec!["' or 1 eq 1", "Short"]),
        ("revenue ne null".into(), all_but(&["' or 1 eq 1", "Short"])),
        ("revenue ne 0".into(), all_but(&["fabrikam"])),
        ("not (revenue gt 1000)".into(), all_but(&["Contoso Ltd", "O'Brien & Sons", "Adventure Works   "])),
        ("donotemail eq true".into(), vec!["O'Brien & Sons"]),
        ("donotemail eq false".into(), vec!["Contoso Ltd", "fabrikam"]),
        ("donotemail ne true".into(), all_but(&["O'Brien & Sons"])),
        // GUIDs, unquoted or quoted.
        (format!("_ownerid_value eq {me}"), vec!["Contoso Ltd", "' or 1 eq 1"]),
        (format!("_ownerid_value eq '{me}'"), vec!["Contoso Ltd", "' or 1 eq 1"]),
        (format!("_ownerid_value eq {}", me.to_uppercase()), vec!["Contoso Ltd", "' or 1 eq 1"]),
        ("_ownerid_value eq null".into(), vec!["fabrikam", "Short"]),
        // Dates: a date literal on a date-time column means midnight UTC.
        ("createdon ge 2024-01-01".into(), vec!["Contoso Ltd", "' or 1 eq 1"]),
        ("createdon lt 2024-01-01T00:00:00Z".into(), vec!["O'Brien & Sons", "Ünïcödé GmbH"]),
        ("createdon gt 2024-01-01T01:00:00+02:00".into(), vec!["Contoso Ltd", "O'Brien & Sons", "' or 1 eq 1"]),
        ("createdon eq 2024-01-15T10:00Z".into(), vec!["Contoso Ltd"]),
        ("estimatedclosedate eq 2024-01-01".into(), vec!["' or 1 eq 1"]),
        ("estimatedclosedate gt 2024-01-01".into(), vec!["Contoso Ltd", "fabrikam"]),
        // String functions are SQL LIKE: %, _ and [...] in the value are wildcards.
        ("contains(name,'toso')".into(), vec!["Contoso Ltd"]),
        ("contains(name,'TOSO')".into(), vec!["Contoso Ltd"]),
        ("startswith(name,'o''b')".into(), vec!["O'Brien & Sons"]),
        ("endswith(name,'GMBH')".into(), vec!["Ünïcödé GmbH"]),
        ("contains(description,'0[%]')".into(), vec!["' or 1 eq 1"]),
        ("contains(description,'r_s')".into(), vec!["fabrikam", "Adventure Works   "]),
        ("contains(description,'r[_]s')".into(), vec!["fabrikam"]),
        ("contains(description,'[[]b')".into(), vec!["Ünïcödé GmbH"]),
        ("startswith(name,'[a-f]')".into(), vec!["Contoso Ltd", "fabrikam", "Adventure Works   "]),
        ("contains(name,'%')".into(), ALL.to_vec()),
        ("not contains(name,'o')".into(), vec!["fabrikam", "Ünïcödé GmbH"]),
        ("contains(description,'')".into(), vec!["Contoso Ltd", "' or 1 eq 1", "fabrikam", "Ünïcödé GmbH", "Adventure Works   "]),
        // Precedence: not > and > or.
        ("name eq 'fabrikam' or name eq 'contoso ltd' and revenue lt 0".into(), vec!["fabrikam"]),
        ("(name eq 'fabrikam' or name eq 'contoso ltd') and revenue gt 0".into(), vec!["Contoso Ltd"]),
        ("not (name eq 'fabrikam') and numberofemployees gt 100".into(), vec!["Adventure Works   "]),
        ("not (name eq 'fabrikam' or numberofemployees le 100)".into(), vec!["' or 1 eq 1", "Adventure Works   ", "Short"]),
        // Column comparison.
        ("name eq description".into(), vec!["Adventure Works   "]),
        ("name ne description".into(), vec!["Contoso Ltd", "' or 1 eq 1", "fabrikam", "Ünïcödé GmbH"]),
        // Dataverse query functions.
        ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"FABRIKAM\",\"o'brien & sons\"])".into(), vec!["O'Brien & Sons", "fabrikam"]),
        ("Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=['5','1000'])".into(), vec!["O'Brien & Sons", "fabrikam"]),
        ("Microsoft.Dynamics.CRM.NotIn(PropertyName='numberofemployees',PropertyValues=[5,1000])".into(), all_but(&["O'Brien & Sons", "fabrikam"])),
        ("Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[\"5\",\"12\"])".into(), vec!["O'Brien & Sons", "Ünïcödé GmbH"]),
        ("Microsoft.Dynamics.CRM.NotBetween(PropertyName='revenue',PropertyValues=[\"1\",\"5000\"])".into(), vec!["Contoso Ltd", "' or 1 eq 1", "fabrikam", "Short"]),
        ("Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')".into(), vec!["Contoso Ltd", "' or 1 eq 1"]),
        ("Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='_ownerid_value')".into(), all_but(&["Contoso Ltd", "' or 1 eq 1"])),
        // The caller's business unit is OTHER in these tests.
        ("Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='ownerid')".into(), vec!["O'Brien & Sons", "Ünïcödé GmbH", "Adventure Works   "]),
        ("Microsoft.Dynamics.CRM.NotEqualBusinessId(PropertyName='ownerid')".into(), vec!["Contoso Ltd", "' or 1 eq 1", "fabrikam", "Short"]),
        // Date functions, at 2024-06-01T12:00:00Z.
        ("Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-15')".into(), vec!["Contoso Ltd"]),
        ("Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='createdon',PropertyValue=2023-12-31)".into(), vec!["O'Brien & Sons", "Ünïcödé GmbH"]),
        ("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=152)".into(), vec!["Contoso Ltd", "' or 1 eq 1"]),
        ("Microsoft.Dynamics.CRM.LastXYears(PropertyName='createdon',PropertyValue='1')".into(), vec!["Contoso Ltd", "O'Brien & Sons", "' or 1 eq 1"]),
        ("Microsoft.Dynamics.CRM.OlderThanXMonths(PropertyName='createdon',PropertyValue=12)".into(), vec!["Ünïcödé GmbH"]),
        ("Microsoft.Dynamics.CRM.ThisYear(PropertyName='estimatedclosedate')".into(), vec!["Contoso Ltd", "' or 1 eq 1"]),
        ("Microsoft.Dynamics.CRM.NextYear(PropertyName='estimatedclosedate')".into(), vec!["fabrikam"]),
        ("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')".into(), vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(matching_names(&filter), expected, "{filter}");
    }
}

/// A compact, unambiguous rendering of a tree for the parse tables.
fn sx(filter: &Filter) -> String {
    fn literal(l: &Literal) -> String {
        match l {
            Literal::Null => "null".into(),
            Literal::Bool(b) => b.to_string(),
            Literal::Int(i) => format!("{i}i"),
            Literal::Decimal(d) => format!("{d}d"),
            Literal::String(s) => format!("{s:?}"),
            Literal::Guid(g) => format!("guid:{g}"),
            Literal::DateTime(d) => format!("dt:{}", d.to_rfc3339()),
            Literal::Date(d) => format!("date:{d}"),
        }
    }
    fn operand(o: &Operand) -> String {
        match o {
            Operand::Property(p) => p.clone(),
            Operand::Literal(l) => literal(l),
        }
    }
    let list = |fs: &[Filter]| fs.iter().map(sx).collect::<Vec<_>>().join(" ");
    let literals = |ls: &[Literal]| ls.iter().map(literal).collect::<Vec<_>>().join(" ");
    match filter {
        Filter::And(fs) => format!("(and {})", list(fs)),
        Filter::Or(fs) => format!("(or {})", list(fs)),
        Filter::Not(f) => format!("(not {})", sx(f)),
        Filter::Compare { left, op, right } => {
            format!("({} {} {})", op.keyword(), operand(left), operand(right))
        }
        Filter::StringMatch {
            function,
            property,
            value,
        } => format!("({} {property} {value:?})", function.name()),
        Filter::In {
            property,
            values,
            negated,
        } => format!(
            "({} {property} [{}])",
            if *negated { "notin" } else { "in" },
            literals(values)
        ),
        Filter::Between {
            property,
            low,
            high,
            negated,
        } => format!(
            "({} {property} {} {})",
            if *negated { "notbetween" } else { "between" },
            literal(low),
            literal(high)
        ),
        Filter::EqualUserId { property, negated } => {
            format!(
                "({} {property})",
                if *negated { "neuserid" } else { "equserid" }
            )
        }
        Filter::EqualBusinessId { property, negated } => {
            format!(
                "({} {property})",
                if *negated {
                    "nebusinessid"
                } else {
                    "eqbusinessid"
                }
            )
        }
        Filter::Date {
            function,
            property,
            value,
        } => match value {
            Some(v) => format!("({} {property} {})", function.name(), literal(v)),
            None => format!("({} {property})", function.name()),
        },
        Filter::Lambda { path, kind, body } => match body {
            Some((variable, predicate)) => {
                format!("({} {path} {variable} {})", kind.keyword(), sx(predicate))
            }
            None => format!("({} {path})", kind.keyword()),
        },
    }
}

#[test]
fn parses_operators_literals_and_precedence() {
    let cases: &[(&str, &str)] = &[
        (
            "a eq 1 or b eq 2 and c eq 3",
            "(or (eq a 1i) (and (eq b 2i) (eq c 3i)))",
        ),
        (
            "a eq 1 and b eq 2 or c eq 3",
            "(or (and (eq a 1i) (eq b 2i)) (eq c 3i))",
        ),
        (
            "a eq 1 or b eq 2 or c eq 3",
            "(or (eq a 1i) (eq b 2i) (eq c 3i))",
        ),
        (
            "(a eq 1 or b eq 2) and c eq 3",
            "(and (or (eq a 1i) (eq b 2i)) (eq c 3i))",
        ),
        (
            "a eq 1 and (b eq 2 and c eq 3)",
            "(and (eq a 1i) (and (eq b 2i) (eq c 3i)))",
        ),
        ("not (a eq 1) and b eq 2", "(and (not (eq a 1i)) (eq b 2i))"),
        (
            "not contains(name,'x') or a ne 1",
            "(or (not (contains name \"x\")) (ne a 1i))",
        ),
        ("not not (a eq 1)", "(not (not (eq a 1i)))"),
        ("((a gt 1))", "(gt a 1i)"),
        ("  a   ge\t-12  ", "(ge a -12i)"),
        ("a lt 1.5", "(lt a 1.5d)"),
        ("a le -0.25", "(le a -0.25d)"),
        ("a eq 2e3", "(eq a 2000d)"),
        ("a eq 9223372036854775808", "(eq a 9223372036854776000d)"),
        ("a eq -9223372036854775808", "(eq a -9223372036854775808i)"),
        ("a eq null", "(eq a null)"),
        ("a ne true and b eq false", "(and (ne a true) (eq b false))"),
        ("a eq 'it''s'", "(eq a \"it's\")"),
        ("a eq ''''", "(eq a \"'\")"),
        ("a eq ''", "(eq a \"\")"),
        ("a eq 'é 😀 \" \\'", "(eq a \"é 😀 \\\" \\\\\")"),
        (
            "_ownerid_value eq 4026be43-6b69-e111-8f65-78e7d1620f5e",
            "(eq _ownerid_value guid:4026be43-6b69-e111-8f65-78e7d1620f5e)",
        ),
        (
            "_ownerid_value eq ABCDEF01-6B69-E111-8F65-78E7D1620F5E",
            "(eq _ownerid_value guid:abcdef01-6b69-e111-8f65-78e7d1620f5e)",
        ),
        (
            "modifiedon ge 2024-01-01T00:00:00Z",
            "(ge modifiedon dt:2024-01-01T00:00:00+00:00)",
        ),
        (
            "modifiedon ge 2024-01-01T10:30+02:00",
            "(ge modifiedon dt:2024-01-01T08:30:00+00:00)",
        ),
        (
            "modifiedon ge 2024-01-01T10:30:15.125Z",
            "(ge modifiedon dt:2024-01-01T10:30:15.125+00:00)",
        ),
        (
            "estimatedclosedate eq 2024-02-29",
            "(eq estimatedclosedate date:2024-02-29)",
        ),
        ("1 lt a", "(lt 1i a)"),
        ("firstname eq lastname", "(eq firstname lastname)"),
        (
            "startswith(name,'a') and endswith(name,'z')",
            "(and (startswith name \"a\") (endswith name \"z\"))",
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a',\"b\\\"c\",1,2.5,true])",
            "(in x [\"a\" \"b\\\"c\" 1i 2.5d true])",
        ),
        (
            "Microsoft.Dynamics.CRM.NotIn( PropertyValues = [] , PropertyName = 'x' )",
            "(notin x [])",
        ),
        (
            "Microsoft.Dynamics.CRM.Between(PropertyName='n',PropertyValues=[\"5\",\"2000\"])",
            "(between n \"5\" \"2000\")",
        ),
        (
            "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')",
            "(equserid ownerid)",
        ),
        (
            "Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='ownerid')",
            "(neuserid ownerid)",
        ),
        // filter-rows.md: lookup paths and lambdas.
        (
            "primarycontactid/createdby/fullname eq 'System Administrator'",
            "(eq primarycontactid/createdby/fullname \"System Administrator\")",
        ),
        (
            "Account_Emails/any(e:contains(e/subject,'sometext') and e/statecode eq 0)",
            "(any Account_Emails e (and (contains e/subject \"sometext\") (eq e/statecode 0i)))",
        ),
        (
            "Account_Tasks/all(t:t/statecode eq 1)",
            "(all Account_Tasks t (eq t/statecode 1i))",
        ),
        (
            "not contact_customer_accounts/any()",
            "(not (any contact_customer_accounts))",
        ),
        (
            "contact_customer_accounts/any(c:c/jobtitle eq 'x' and c/opportunity_customer_contacts/any(o:o/description ne 'N/A'))",
            "(any contact_customer_accounts c (and (eq c/jobtitle \"x\") (any c/opportunity_customer_contacts o (ne o/description \"N/A\"))))",
        ),
        ("any eq 1 and all/any()", "(and (eq any 1i) (any all))"),
        (
            "Microsoft.Dynamics.CRM.LastXDays(PropertyName=@p1,PropertyValue=@p2)",
            "(LastXDays createdon 3i)",
        ),
        (
            "Microsoft.Dynamics.CRM.On(PropertyName='x',PropertyValue=2024-02-29)",
            "(On x date:2024-02-29)",
        ),
        (
            "Microsoft.Dynamics.CRM.ThisWeek(PropertyName='x')",
            "(ThisWeek x)",
        ),
        (
            "Microsoft.Dynamics.CRM.NotEqualBusinessId(PropertyName='owningbusinessunit')",
            "(nebusinessid owningbusinessunit)",
        ),
    ];
    // filter-rows.md's date example passes both parameters through aliases.
    let aliases = [
        ("p1".to_string(), "'createdon'".to_string()),
        ("p2".to_string(), "3".to_string()),
    ];
    for &(text, expected) in cases {
        let filter = parse_with_aliases(text, &aliases).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(sx(&filter), expected, "{text}");
    }
}

#[test]
fn syntax_errors_match_dataverse_texts() {
    let deep_parens = format!("{}a eq 1{}", "(".repeat(150), ")".repeat(150));
    let deep_nots = format!("{}(a eq 1)", "not ".repeat(150));
    let cases: Vec<(&str, String)> = vec![
        // Both from Dataverse itself: filter-rows.md, and a Dynamics 365 blog (51cto, 2021).
        ("lastname eq 'O'Bryan'", "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''.".into()),
        (
            "name eq 'A. Datum' Corporation (sample)'",
            "Syntax error at position 30 in 'name eq 'A. Datum' Corporation (sample)''.".into(),
        ),
        ("name eq 'abc", "There is an unterminated literal at position 12 in 'name eq 'abc'.".into()),
        ("", "Expression expected at position 0 in ''.".into()),
        ("   ", "Expression expected at position 3 in '   '.".into()),
        ("name eq", "Expression expected at position 7 in 'name eq'.".into()),
        ("name eq 'a' and", "Expression expected at position 15 in 'name eq 'a' and'.".into()),
        ("(name eq 'a'", "')' or operator expected at position 12 in '(name eq 'a''.".into()),
        ("name eq 'a' xor name eq 'b'", "Syntax error at position 15 in 'name eq 'a' xor name eq 'b''.".into()),
        ("(name eq 'a' xor b)", "')' or operator expected at position 13 in '(name eq 'a' xor b)'.".into()),
        ("name eq 'a')", "Syntax error at position 12 in 'name eq 'a')'.".into()),
        ("name eq #", "Syntax error: character '#' is not valid at position 8 in 'name eq #'.".into()),
        ("name like 'a'", "Syntax error at position 9 in 'name like 'a''.".into()),
        ("name eq 12abc", "Syntax error at position 13 in 'name eq 12abc'.".into()),
        ("a eq -", "A digit was expected at position 6 in 'a eq -'.".into()),
        ("name", "The $filter expression must evaluate to a single boolean value.".into()),
        ("name eq 'a' and revenue", "The $filter expression must evaluate to a single boolean value.".into()),
        ("contains(name)", "')' or ',' expected at position 13 in 'contains(name)'.".into()),
        (
            "contains('x',name)",
            "No function signature for the function with name 'contains' matches the specified arguments. \
             The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true)."
                .into(),
        ),
        (
            "tolower(name) eq 'a'",
            "An unknown function with name 'tolower' was found. This may also be a function import or a key \
             lookup on a navigation property, which is not allowed."
                .into(),
        ),
        ("createdon eq 2024-13-01", "Unrecognized 'Edm.Date' literal '2024-13-01' at '13' in 'createdon eq 2024-13-01'.".into()),
        (
            "createdon eq 2024-01-01T25:00:00Z",
            "Unrecognized 'Edm.DateTimeOffset' literal '2024-01-01T25:00:00Z' at '13' in 'createdon eq 2024-01-01T25:00:00Z'."
                .into(),
        ),
        (
            "createdon eq 2024-01-01T10:00:00",
            "Unrecognized 'Edm.DateTimeOffset' literal '2024-01-01T10:00:00' at '13' in 'createdon eq 2024-01-01T10:00:00'."
                .into(),
        ),
        ("x eq 1e999", "Numeric string '1e999' is not a valid Int32/Int64/Double/Decimal.".into()),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='name')",
            "Could not find a function named 'Microsoft.Dynamics.CRM.In' with parameters 'PropertyName'.".into(),
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=['x'],PropertyValues=['y'])",
            "Could not find a function named 'Microsoft.Dynamics.CRM.In' with parameters \
             'PropertyName,PropertyValues,PropertyValues'."
                .into(),
        ),
        (
            "Microsoft.Dynamics.CRM.Between(PropertyName='x',PropertyValues=[1])",
            "The ConditonOperator.Between requires 2 value/s, not 1. Parameter Name: x".into(),
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=[\"a\\q\"])",
            "An unrecognized escape sequence '\\q' was found at position 62 in \
             'Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=[\"a\\q\"])'."
                .into(),
        ),
        (
            "Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='x')",
            "The query function 'Microsoft.Dynamics.CRM.Under' is not supported by this emulator.".into(),
        ),
        (
            "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon')",
            "Could not find a function named 'Microsoft.Dynamics.CRM.LastXDays' with parameters 'PropertyName'.".into(),
        ),
        (
            "Microsoft.Dynamics.CRM.Today(PropertyName='createdon',PropertyValue=1)",
            "Could not find a function named 'Microsoft.Dynamics.CRM.Today' with parameters \
             'PropertyName,PropertyValue'."
                .into(),
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValue='x')",
            "Could not find a function named 'Microsoft.Dynamics.CRM.In' with parameters 'PropertyName,PropertyValue'.".into(),
        ),
        (
            "not Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3)",
            "The 'not' operator cannot be applied to the query function 'Microsoft.Dynamics.CRM.LastXDays'; \
             use its negated form instead."
                .into(),
        ),
        (
            "not Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=['x'])",
            "The 'not' operator cannot be applied to the query function 'Microsoft.Dynamics.CRM.In'; use its \
             negated form instead."
                .into(),
        ),
        (
            "not name eq 'x'",
            "'not' applies to the operand right after it, not to a comparison; write 'not (…)' in 'not name eq 'x''."
                .into(),
        ),
        (
            "name eq @p1",
            "Parameter aliases cannot be used here (inside $expand, for example): '@p1' in 'name eq @p1'.".into(),
        ),
        ("name eq @", "Syntax error: character '@' is not valid at position 8 in 'name eq @'.".into()),
        ("a/'x' eq 1", "Expression expected at position 2 in 'a/'x' eq 1'.".into()),
        ("x/all()", "Expression expected at position 6 in 'x/all()'.".into()),
        ("x/any(c c/a eq 1)", "':' expected at position 8 in 'x/any(c c/a eq 1)'.".into()),
        ("x/any(c:c/a eq 1", "')' or operator expected at position 16 in 'x/any(c:c/a eq 1'.".into()),
        (
            "x/any(c:c/y/any(c:c/z eq 1))",
            "The range variable 'c' has already been declared.".into(),
        ),
        (
            "name eq x/any()",
            "A lambda expression (any/all) is a condition, not a value, at position 8 in 'name eq x/any()'.".into(),
        ),
        (deep_parens.as_str(), "Recursion depth exceeded allowed limit.".into()),
        (deep_nots.as_str(), "Recursion depth exceeded allowed limit.".into()),
    ];
    for (text, message) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(error.code, "0x80060888", "{text}");
        assert_eq!(error.message, message, "{text}");
    }
}

#[test]
fn bind_errors_match_dataverse_texts() {
    let cases: &[(&str, &str)] = &[
        (
            "nme eq 'x'",
            "Could not find a property named 'nme' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        // Logical names are lower case and Dataverse does not fold them.
        (
            "Name eq 'x'",
            "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "contains(nme,'x')",
            "Could not find a property named 'nme' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "name eq 1",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and \
             'Edm.Int32' for operator kind 'Equal'.",
        ),
        (
            "1 lt name",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and \
             'Edm.String' for operator kind 'LessThan'.",
        ),
        (
            "numberofemployees eq '5'",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and \
             'Edm.String' for operator kind 'Equal'.",
        ),
        (
            "_ownerid_value eq 'not-a-guid'",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and \
             'Edm.String' for operator kind 'Equal'.",
        ),
        (
            "estimatedclosedate ge 2024-01-01T00:00:00Z",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.Date' and \
             'Edm.DateTimeOffset' for operator kind 'GreaterThanOrEqual'.",
        ),
        (
            "name ne revenue",
            "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and \
             'Edm.Decimal' for operator kind 'NotEqual'.",
        ),
        (
            "revenue gt null",
            "The ConditonOperator.GreaterThan requires 1 value/s, not 0. Parameter Name: revenue",
        ),
        (
            "revenue le null",
            "The ConditonOperator.LessEqual requires 1 value/s, not 0. Parameter Name: revenue",
        ),
        (
            "contains(revenue,'1')",
            "No function signature for the function with name 'contains' matches the specified arguments. \
             The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true).",
        ),
        (
            "1 eq 1",
            "Comparing two literals (1 eq 1) is not supported: one side must be a column.",
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=['abc'])",
            "The value 'abc' in PropertyValues cannot be compared with the property 'numberofemployees' of type 'Edm.Int32'.",
        ),
        (
            "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='name')",
            "Microsoft.Dynamics.CRM.EqualUserId needs a lookup or unique identifier property; 'name' is of type 'Edm.String'.",
        ),
        (
            "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='owner')",
            "Could not find a property named 'owner' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "Microsoft.Dynamics.CRM.Today(PropertyName='name')",
            "Microsoft.Dynamics.CRM.Today needs a date and time property; 'name' is of type 'Edm.String'.",
        ),
        (
            "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='x')",
            "The value 'x' of PropertyValue is not valid for Microsoft.Dynamics.CRM.LastXDays: a whole \
             number of 0 or more is expected.",
        ),
        (
            "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=-1)",
            "The value -1 of PropertyValue is not valid for Microsoft.Dynamics.CRM.LastXDays: a whole \
             number of 0 or more is expected.",
        ),
        (
            "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='June')",
            "The value 'June' of PropertyValue is not valid for Microsoft.Dynamics.CRM.On: a date \
             (yyyy-mm-dd) is expected.",
        ),
        (
            "Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='name')",
            "Microsoft.Dynamics.CRM.EqualBusinessId needs a lookup or unique identifier property; 'name' is of type 'Edm.String'.",
        ),
    ];
    for &(text, message) in cases {
        let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let error = filter.bind(&Accounts, &ctx()).expect_err(text);
        assert_eq!(error.code, "0x80060888", "{text}");
        assert_eq!(error.message, message, "{text}");
    }
}

/// A filter, the aliases the request defines, and the expected tree or error text.
type AliasCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn parameter_aliases_stand_for_their_values() {
    let aliases = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let cases: &[AliasCase] = &[
        (
            "name eq @p1",
            &[("p1", "'O''Bryan'")],
            "(eq name \"O'Bryan\")",
        ),
        ("@p1 lt revenue", &[("p1", "5")], "(lt 5i revenue)"),
        ("name eq @p1", &[], "(eq name null)"),
        (
            "name eq @p1",
            &[("p1", "description")],
            "(eq name description)",
        ),
        (
            "contains(name,@x)",
            &[("x", "'toso'")],
            "(contains name \"toso\")",
        ),
        // filter-rows.md, "Manage single quotes".
        (
            "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
            &[("p1", "'lastname'"), ("p2", "[\"OBrian\",\"O'Brian\"]")],
            "(in lastname [\"OBrian\" \"O'Brian\"])",
        ),
    ];
    for (text, pairs, expected) in cases {
        let filter =
            parse_with_aliases(text, &aliases(pairs)).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(sx(&filter), *expected, "{text}");
    }
    let errors: &[AliasCase] = &[
        // An alias cannot refer to another alias, so it cannot refer to itself either.
        (
            "name eq @p1",
            &[("p1", "@p1")],
            "Parameter aliases cannot be used here (inside $expand, for example): '@p1' in '@p1'.",
        ),
        (
            "name eq @p1",
            &[("p1", "'a' or 1")],
            "Syntax error at position 6 in ''a' or 1'.",
        ),
    ];
    for (text, pairs, message) in errors {
        let error = parse_with_aliases(text, &aliases(pairs)).expect_err(text);
        assert_eq!(error.message, *message, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Navigation: lookup paths and lambdas over a small account → contact → user graph
// ---------------------------------------------------------------------------------------------

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// `(accountid, name, _primarycontactid_value)`.
fn graph_accounts() -> Vec<Vec<Value>> {
    use Value::*;
    vec![
        vec![Guid(id(1)), s("Alpha"), Guid(id(11))],
        vec![Guid(id(2)), s("Beta"), Guid(id(13))],
        vec![Guid(id(3)), s("Gamma"), Null],
        vec![Guid(id(4)), s("Delta"), Guid(id(12))],
    ]
}

/// `(contactid, fullname, jobtitle, _parentcustomerid_value, _createdby_value)`.
fn graph_contacts() -> Vec<Vec<Value>> {
    use Value::*;
    vec![
        vec![
            Guid(id(11)),
            s("Ann Lee"),
            s("CEO"),
            Guid(id(1)),
            Guid(id(21)),
        ],
        vec![
            Guid(id(12)),
            s("Bob Day"),
            s("CTO"),
            Guid(id(1)),
            Guid(id(22)),
        ],
        vec![Guid(id(13)), s("Cy Ray"), Null, Guid(id(2)), Guid(id(21))],
        vec![Guid(id(14)), s("Di Fox"), s("CEO"), Null, Null],
    ]
}

/// `(systemuserid, fullname)`.
fn graph_users() -> Vec<Vec<Value>> {
    vec![
        vec![Value::Guid(id(21)), s("System Administrator")],
        vec![Value::Guid(id(22)), s("Rep One")],
    ]
}

#[derive(Clone, Copy)]
enum GraphTable {
    Account,
    Contact,
    User,
}

impl GraphTable {
    fn columns(self) -> &'static [(&'static str, ValueKind)] {
        match self {
            GraphTable::Account => &[
                ("accountid", ValueKind::Guid),
                ("name", ValueKind::String),
                ("_primarycontactid_value", ValueKind::Guid),
            ],
            GraphTable::Contact => &[
                ("contactid", ValueKind::Guid),
                ("fullname", ValueKind::String),
                ("jobtitle", ValueKind::String),
                ("_parentcustomerid_value", ValueKind::Guid),
                ("_createdby_value", ValueKind::Guid),
            ],
            GraphTable::User => &[
                ("systemuserid", ValueKind::Guid),
                ("fullname", ValueKind::String),
            ],
        }
    }

    fn rows(self) -> Vec<Vec<Value>> {
        match self {
            GraphTable::Account => graph_accounts(),
            GraphTable::Contact => graph_contacts(),
            GraphTable::User => graph_users(),
        }
    }
}

impl Schema for GraphTable {
    fn logical_name(&self) -> &str {
        match self {
            GraphTable::Account => "account",
            GraphTable::Contact => "contact",
            GraphTable::User => "systemuser",
        }
    }

    fn column(&self, name: &str) -> Option<(usize, ValueKind)> {
        let columns = self.columns();
        columns
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| (i, columns[i].1))
    }

    fn lookup(&self, name: &str) -> Option<crate::odata::Lookup<'_>> {
        let (ordinal, target) = match (self, name) {
            (GraphTable::Account, "primarycontactid") => (2, GraphTable::Contact),
            (GraphTable::Contact, "parentcustomerid_account") => (3, GraphTable::Account),
            (GraphTable::Contact, "createdby") => (4, GraphTable::User),
            _ => return None,
        };
        Some(crate::odata::Lookup {
            ordinal,
            target: Box::new(target),
        })
    }

    fn collection(&self, name: &str) -> Option<crate::odata::Collection<'_>> {
        match (self, name) {
            (GraphTable::Account, "contact_customer_accounts") => Some(crate::odata::Collection {
                key: 0,
                referencing: 3,
                related: Box::new(GraphTable::Contact),
            }),
            _ => None,
        }
    }
}

impl Related for GraphTable {
    fn scan(&self, visit: &mut dyn FnMut(Uuid, &[Value])) {
        for row in self.rows() {
            if let Value::Guid(id) = row[0] {
                visit(id, &row);
            }
        }
    }
}

fn graph_names(table: GraphTable, filter: &str) -> Result<Vec<String>, QueryError> {
    let aliases = [("p1".to_string(), "'ann lee'".to_string())];
    let bound = parse_with_aliases(filter, &aliases)?.bind(&table, &ctx())?;
    Ok(table
        .rows()
        .iter()
        .filter(|row| bound.matches(row, &ctx()))
        .map(|row| match &row[1] {
            Value::String(name) => name.to_string(),
            other => panic!("row without a name: {other:?}"),
        })
        .collect())
}

#[test]
fn lookup_paths_and_lambdas_follow_related_rows() {
    use GraphTable::{Account, Contact};
    let cases: &[(GraphTable, &str, &[&str])] = &[
        (
            Account,
            "primarycontactid/fullname eq 'ann lee'",
            &["Alpha"],
        ),
        (Account, "primarycontactid/fullname eq @p1", &["Alpha"]),
        (
            Account,
            "primarycontactid/createdby/fullname eq 'System Administrator'",
            &["Alpha", "Beta"],
        ),
        // No related row reads as all nulls: `eq null` finds it, `ne` includes it.
        (Account, "primarycontactid/fullname eq null", &["Gamma"]),
        (
            Account,
            "primarycontactid/jobtitle ne 'CEO'",
            &["Beta", "Gamma", "Delta"],
        ),
        (
            Account,
            "not (primarycontactid/fullname eq 'ann lee')",
            &["Beta", "Gamma", "Delta"],
        ),
        (
            Account,
            "startswith(primarycontactid/fullname,'b')",
            &["Delta"],
        ),
        (
            Contact,
            "parentcustomerid_account/name eq 'alpha'",
            &["Ann Lee", "Bob Day"],
        ),
        (
            Contact,
            "parentcustomerid_account/primarycontactid/fullname eq 'cy ray'",
            &["Cy Ray"],
        ),
        (
            Account,
            "contact_customer_accounts/any(c:c/jobtitle eq 'CEO')",
            &["Alpha"],
        ),
        (
            Account,
            "contact_customer_accounts/any()",
            &["Alpha", "Beta"],
        ),
        (
            Account,
            "not contact_customer_accounts/any()",
            &["Gamma", "Delta"],
        ),
        // `all` holds for a parent without children.
        (
            Account,
            "contact_customer_accounts/all(c:c/jobtitle ne null)",
            &["Alpha", "Gamma", "Delta"],
        ),
        (
            Account,
            "contact_customer_accounts/any(c:c/createdby/fullname eq 'Rep One')",
            &["Alpha"],
        ),
        (
            Account,
            "contact_customer_accounts/any(c:contains(c/fullname,'ray') or c/jobtitle eq 'cto') and name ne 'alpha'",
            &["Beta"],
        ),
        (
            Account,
            "contact_customer_accounts/any(c:c/fullname eq c/jobtitle)",
            &[],
        ),
    ];
    for &(table, filter, expected) in cases {
        let names = graph_names(table, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(names, expected, "{filter}");
    }
}

#[test]
fn navigation_errors_match_dataverse_texts() {
    let cases: &[(&str, &str)] = &[
        (
            "nothing/fullname eq 'x'",
            "Could not find a property named 'nothing' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "primarycontactid/nope eq 1",
            "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.contact'.",
        ),
        (
            "name/x eq 1",
            "Could not find a property named 'x' on type 'Edm.String'.",
        ),
        (
            "contact_customer_accounts/fullname eq 'x'",
            "The parent value for a property access of a property 'fullname' is not a single value. \
             Property access can only be applied to a single value.",
        ),
        (
            "name/any(c:c/x eq 1)",
            "Any/All may only be used following a collection.",
        ),
        (
            "primarycontactid/any()",
            "Any/All may only be used following a collection.",
        ),
        (
            "primarycontactid/contact_customer_accounts/any()",
            "Conditions on a collection-valued navigation property reached through a lookup \
             ('primarycontactid/contact_customer_accounts') are not supported.",
        ),
        (
            "nothing/any()",
            "Could not find a property named 'nothing' on type 'Microsoft.Dynamics.CRM.account'.",
        ),
        (
            "contact_customer_accounts/any(c:fullname eq 'x')",
            "Inside a lambda, properties must be named through its range variable ('c/…'); \
             'fullname' is not supported by this emulator.",
        ),
        (
            "contact_customer_accounts/any(c:c eq null)",
            "The range variable 'c' stands for a whole row; compare one of its properties instead \
             ('c/<property>').",
        ),
        (
            "contact_customer_accounts/any(c:c/nope eq 1)",
            "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.contact'.",
        ),
        (
            "name eq primarycontactid/fullname",
            "Columns can only be compared with columns of the same row; 'name' and \
             'primarycontactid/fullname' are not both columns of 'account'.",
        ),
    ];
    for &(text, message) in cases {
        let error = graph_names(GraphTable::Account, text).expect_err(text);
        assert_eq!(error.code, "0x80060888", "{text}");
        assert_eq!(error.message, message, "{text}");
    }
}

#[test]
fn prints_canonical_odata() {
    let cases: &[(&str, &str)] = &[
        (
            "(a eq 1 or b eq 2) and not (c eq 3)",
            "(a eq 1 or b eq 2) and not (c eq 3)",
        ),
        (
            "a eq 1 or (b eq 2 or c eq 3)",
            "a eq 1 or (b eq 2 or c eq 3)",
        ),
        ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
        ("not contains(name,'O''B')", "not contains(name,'O''B')"),
        ("a eq 2.0 and b eq 2", "a eq 2.0 and b eq 2"),
        ("a ge 2024-01-01T10:30+02:00", "a ge 2024-01-01T08:30:00Z"),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['O''Brien'])",
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[\"O'Brien\"])",
        ),
        ("a/b/any( c : c/d eq 1 )", "a/b/any(c:c/d eq 1)"),
        (
            "a/any() or not a/all(x:contains(x/n,'q'))",
            "a/any() or not (a/all(x:contains(x/n,'q')))",
        ),
    ];
    for &(text, printed) in cases {
        assert_eq!(parse(text).unwrap().to_string(), printed, "{text}");
    }
}

#[test]
fn refuses_overlong_input_without_scanning_it() {
    let text = format!("name eq '{}'", "x".repeat(MAX_FILTER_LEN));
    let error = parse(&text).unwrap_err();
    assert!(
        error.message.contains("accepts at most"),
        "{}",
        error.message
    );
}

#[test]
fn nesting_just_under_the_limit_parses_binds_prints_and_evaluates() {
    // Every parenthesis and every `not` is one level; `not (` is two.
    let parens = MAX_DEPTH - 1;
    let text = format!(
        "{}name eq 'fabrikam'{}",
        "(".repeat(parens),
        ")".repeat(parens)
    );
    assert!(matches!(parse(&text), Ok(Filter::Compare { .. })));
    let depth = (MAX_DEPTH - 1) / 2;
    let text = format!(
        "{}name eq 'fabrikam'{}",
        "not (".repeat(depth),
        ")".repeat(depth)
    );
    let filter = parse(&text).unwrap();
    assert_eq!(parse(&filter.to_string()), Ok(filter.clone()));
    let bound = filter.bind(&Accounts, &ctx()).unwrap();
    let hits: Vec<bool> = rows().iter().map(|r| bound.matches(r, &ctx())).collect();
    // An odd number of `not`s: everything but fabrikam.
    assert_eq!(hits, vec![true, true, true, false, true, true, true]);
}

#[test]
fn long_flat_chains_parse_and_evaluate_without_deep_recursion() {
    let text = vec!["numberofemployees eq 7"; 30_000].join(" or ") + " or name eq 'fabrikam'";
    let filter = parse(&text).unwrap();
    assert!(matches!(&filter, Filter::Or(items) if items.len() == 30_001));
    let bound = filter.bind(&Accounts, &ctx()).unwrap();
    let hits = rows().iter().filter(|r| bound.matches(r, &ctx())).count();
    assert_eq!(hits, 1);
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

const KEYWORDS: &[&str] = &[
    "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "null", "true", "false",
];

fn identifier() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,12}".prop_filter("keywords are not names", |s| {
        !KEYWORDS.contains(&s.as_str())
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Literal::Decimal),
        any::<String>().prop_map(Literal::String),
        any::<[u8; 16]>().prop_map(|b| Literal::Guid(Uuid::from_bytes(b))),
        (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(secs, nanos)| Literal::DateTime(
            DateTime::from_timestamp(secs, nanos).unwrap()
        )),
        (1000i32..=9999, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| Literal::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())),
    ]
}

fn array_item() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Literal::Decimal),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

/// A column or a lookup path (`a/b/c`).
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(identifier(), 1..4).prop_map(|segments| segments.join("/"))
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        path().prop_map(Operand::Property),
        literal().prop_map(Operand::Literal),
    ]
}

/// Whether a lambda declares a range variable an enclosing lambda already declared (which the
/// parser refuses).
fn shadows(filter: &Filter, declared: &mut Vec<String>) -> bool {
    match filter {
        Filter::And(fs) | Filter::Or(fs) => fs.iter().any(|f| shadows(f, declared)),
        Filter::Not(f) => shadows(f, declared),
        Filter::Lambda {
            body: Some((variable, predicate)),
            ..
        } => {
            if declared.contains(variable) {
                return true;
            }
            declared.push(variable.clone());
            let inner = shadows(predicate, declared);
            declared.pop();
            inner
        }
        _ => false,
    }
}

fn leaf() -> impl Strategy<Value = Filter> {
    let op = prop::sample::select(CompareOp::ALL.to_vec());
    let function = prop::sample::select(vec![
        StringFunction::Contains,
        StringFunction::StartsWith,
        StringFunction::EndsWith,
    ]);
    prop_oneof![
        4 => (operand(), op, operand()).prop_map(|(left, op, right)| Filter::Compare { left, op, right }),
        2 => (function, path(), any::<String>())
            .prop_map(|(function, property, value)| Filter::StringMatch { function, property, value }),
        1 => (identifier(), prop::collection::vec(array_item(), 0..4), any::<bool>())
            .prop_map(|(property, values, negated)| Filter::In { property, values, negated }),
        1 => (identifier(), array_item(), array_item(), any::<bool>())
            .prop_map(|(property, low, high, negated)| Filter::Between { property, low, high, negated }),
        1 => (identifier(), any::<bool>()).prop_map(|(property, negated)| Filter::EqualUserId { property, negated }),
        1 => path().prop_map(|path| Filter::Lambda { path, kind: LambdaKind::Any, body: None }),
        1 => (identifier(), any::<bool>()).prop_map(|(property, negated)| Filter::EqualBusinessId { property, negated }),
        1 => (prop::sample::select(vec![DateFunction::Today, DateFunction::LastXDays, DateFunction::On]), identifier(), array_item())
            .prop_map(|(function, property, value)| Filter::Date {
                function,
                property,
                value: (function != DateFunction::Today).then_some(value),
            }),
    ]
}

fn filter_tree() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        let kind = prop::sample::select(vec![LambdaKind::Any, LambdaKind::All]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            (path(), kind, identifier(), inner.clone()).prop_map(
                |(path, kind, variable, predicate)| {
                    Filter::Lambda {
                        path,
                        kind,
                        body: Some((variable, Box::new(predicate))),
                    }
                }
            ),
            inner.prop_map(|f| {
                // Dataverse refuses `not` over its own query functions; the parser does too.
                if crm_function_name(&f).is_some() {
                    f
                } else {
                    Filter::Not(Box::new(f))
                }
            }),
        ]
    })
}

/// Fragments that make up plausible, often nearly valid, filters.
fn token_soup() -> impl Strategy<Value = String> {
    let fragments = vec![
        "a",
        "name",
        "eq",
        "ne",
        "gt",
        "and",
        "or",
        "not",
        "(",
        ")",
        "'x'",
        "'O''B'",
        "''",
        "'",
        "1",
        "-2.5",
        "1e3",
        "null",
        "true",
        "contains(",
        "startswith(",
        ",",
        "2024-01-01",
        "2024-01-01T10:00:00Z",
        "4026be43-6b69-e111-8f65-78e7d1620f5e",
        "Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=[",
        "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='a')",
        "]",
        "[",
        "\"q\"",
        "\"",
        "/",
        "=",
        "@p",
        "x/any(",
        "x/all(",
        "c:",
        "c/name",
        ":",
        "%",
        "é",
        "\\",
    ];
    prop::collection::vec(prop::sample::select(fragments), 0..24).prop_map(|parts| {
        let mut text = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && i % 3 != 0 {
                text.push(' ');
            }
            text.push_str(part);
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary input never panics, and whatever parses prints back to text that parses to the
    /// same tree.
    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![any::<String>(), token_soup()]) {
        if let Ok(filter) = parse(&text) {
            let printed = filter.to_string();
            prop_assert_eq!(parse(&printed), Ok(filter), "printed as {}", printed);
        }
    }

    #[test]
    fn printed_trees_parse_back_to_themselves(
        filter in filter_tree().prop_filter("no shadowed range variables", |f| !shadows(f, &mut Vec::new()))
    ) {
        let printed = filter.to_string();
        prop_assert_eq!(parse(&printed), Ok(filter), "printed as {}", printed);
    }

    /// Any value, quoted the OData way, is read back exactly and matches only itself.
    #[test]
    fn quoted_strings_round_trip_and_match_only_themselves(value in any::<String>(), other in any::<String>()) {
        let filter = parse(&format!("name eq {}", quote(&value))).unwrap();
        prop_assert_eq!(
            &filter,
            &Filter::Compare {
                left: Operand::Property("name".into()),
                op: CompareOp::Eq,
                right: Operand::Literal(Literal::String(value.clone())),
            }
        );
        let bound = filter.bind(&Accounts, &ctx()).unwrap();
        let row = |name: &str| vec![Value::Null, Value::String(name.into())];
        prop_assert!(bound.matches(&row(&value), &ctx()));
        let longer = format!("{value}x");
        prop_assert!(!bound.matches(&row(&longer), &ctx()));
        let same_folded = collation::cmp_ci(&value, &other).is_eq();
        prop_assert_eq!(bound.matches(&row(&other), &ctx()), same_folded);
    }
}
