//! Fuzzes the query-option parsers with arbitrary UTF-8: `$filter` (parse, print, re-parse, bind
//! and evaluate), `$orderby`, `$expand`, `$select` and `$top`. Any panic or hang is a bug.
#![no_main]

use dataverse_emulator::odata::{EvalContext, Schema, filter, options};
use dataverse_emulator::value::{Value, ValueKind};
use libfuzzer_sys::fuzz_target;

const COLUMNS: &[(&str, ValueKind)] = &[
    ("a", ValueKind::String),
    ("b", ValueKind::Int),
    ("c", ValueKind::Decimal),
    ("d", ValueKind::Guid),
    ("e", ValueKind::DateTime),
    ("f", ValueKind::Date),
    ("g", ValueKind::Bool),
    ("name", ValueKind::String),
    ("_ownerid_value", ValueKind::Guid),
];

struct Table;

impl Schema for Table {
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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = filter::parse(text) {
        let printed = parsed.to_string();
        assert_eq!(filter::parse(&printed).as_ref(), Ok(&parsed), "printed as {printed}");
        let ctx = EvalContext {
            user_id: uuid::Uuid::nil(),
            business_unit_id: uuid::Uuid::nil(),
            now: chrono::DateTime::UNIX_EPOCH,
        };
        if let Ok(bound) = parsed.bind(&Table, &ctx) {
            let rows = [
                vec![],
                vec![
                    Value::String(text.into()),
                    Value::Int(-1),
                    Value::Decimal(0.5),
                    Value::Guid(uuid::Uuid::nil()),
                    Value::DateTime(chrono::DateTime::UNIX_EPOCH),
                    Value::Date(chrono::NaiveDate::MIN),
                    Value::Bool(true),
                    Value::String("%_[".into()),
                ],
            ];
            for row in &rows {
                let _ = bound.matches(row, &ctx);
            }
        }
    }
    let _ = options::parse_orderby(text);
    let _ = options::parse_expand(text);
    let _ = options::parse_select(text);
    let _ = options::parse_top(text);
});
