//! OData queries built from typed parts: entity sets, `$select/$filter/$orderby/$top/$expand/$count`
//! and key segments. Literals are always escaped, so a value can never change a query's meaning.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use uuid::Uuid;

use crate::error::Error;

/// Characters encoded in a query option value. `'`, `(`, `)`, `,` and `$` stay readable.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Characters encoded inside a path segment (a key literal): also `/` and `?`.
const PATH_SEGMENT: &AsciiSet = &QUERY_VALUE.add(b'/').add(b'?');

/// A value in a filter or a key, rendered in its OData literal form.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Text(String),
    /// GUIDs are unquoted in filters (`_ownerid_value eq 4026be43-…`).
    Guid(Uuid),
    /// An ISO 8601 UTC date-time or date, unquoted (`modifiedon ge 2024-01-01T00:00:00Z`).
    DateTime(String),
}

impl From<&str> for Literal {
    fn from(s: &str) -> Literal {
        Literal::Text(s.to_string())
    }
}

impl From<String> for Literal {
    fn from(s: String) -> Literal {
        Literal::Text(s)
    }
}

impl From<&String> for Literal {
    fn from(s: &String) -> Literal {
        Literal::Text(s.clone())
    }
}

impl From<Uuid> for Literal {
    fn from(id: Uuid) -> Literal {
        Literal::Guid(id)
    }
}

impl From<i64> for Literal {
    fn from(n: i64) -> Literal {
        Literal::Int(n)
    }
}

impl From<i32> for Literal {
    fn from(n: i32) -> Literal {
        Literal::Int(n.into())
    }
}

impl From<bool> for Literal {
    fn from(b: bool) -> Literal {
        Literal::Bool(b)
    }
}

impl From<f64> for Literal {
    fn from(d: f64) -> Literal {
        Literal::Decimal(d)
    }
}

/// `'text'` with every quote doubled: the only escape an OData string literal has.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Makes `%`, `_` and `[` literal inside a value Dataverse hands to SQL Server's `LIKE`
/// (`contains`/`startswith`/`endswith`), using the bracket form `[%]`; `]` alone is literal.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '%' | '_' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

fn is_date_time(s: &str) -> bool {
    !s.is_empty()
        && s.as_bytes()[0].is_ascii_digit()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z' | '.' | '+'))
}

impl Literal {
    fn render(&self, out: &mut String) -> Result<(), Error> {
        match self {
            Literal::Null => out.push_str("null"),
            Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Literal::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Literal::Decimal(d) if d.is_finite() => {
                let _ = write!(out, "{d}");
            }
            Literal::Decimal(d) => {
                return Err(Error::InvalidInput(format!(
                    "{d} cannot be sent as a number"
                )));
            }
            Literal::Text(s) => out.push_str(&quote(s)),
            Literal::Guid(id) => {
                let _ = write!(out, "{id}");
            }
            Literal::DateTime(s) if is_date_time(s) => out.push_str(s),
            Literal::DateTime(s) => {
                return Err(Error::InvalidInput(format!(
                    "'{s}' is not an ISO 8601 date or date-time"
                )));
            }
        }
        Ok(())
    }

    /// The value as a JSON body holds it.
    pub(crate) fn to_json(&self) -> Result<serde_json::Value, Error> {
        use serde_json::Value;
        Ok(match self {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(n) => Value::from(*n),
            Literal::Decimal(d) => serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .ok_or_else(|| Error::InvalidInput(format!("{d} cannot be sent as a number")))?,
            Literal::Text(s) => Value::String(s.clone()),
            Literal::Guid(id) => Value::String(id.to_string()),
            Literal::DateTime(s) => Value::String(s.clone()),
        })
    }

    /// The literal as it goes into a key segment (`accounts(accountnumber='A%2F1')`).
    fn render_in_path(&self) -> Result<String, Error> {
        let mut out = String::new();
        self.render(&mut out)?;
        Ok(utf8_percent_encode(&out, PATH_SEGMENT).to_string())
    }
}

/// A column, lookup path (`primarycontactid/fullname`) or navigation property name: letters,
/// digits and underscores only, so a name can never carry an operator or a quote.
fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.split('/').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "'{name}' is not a column or table name"
        )))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextMatch {
    fn as_str(self) -> &'static str {
        match self {
            TextMatch::Contains => "contains",
            TextMatch::StartsWith => "startswith",
            TextMatch::EndsWith => "endswith",
        }
    }
}

/// A `$filter` expression. There is no way to put raw text into one.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        column: String,
        op: CompareOp,
        value: Literal,
    },
    /// Matches the text itself: wildcard characters in it are escaped.
    Text {
        function: TextMatch,
        column: String,
        value: String,
    },
    /// `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[…])`.
    In {
        column: String,
        values: Vec<String>,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn compare(column: &str, op: CompareOp, value: impl Into<Literal>) -> Filter {
        Filter::Compare {
            column: column.to_string(),
            op,
            value: value.into(),
        }
    }

    pub fn eq(column: &str, value: impl Into<Literal>) -> Filter {
        Filter::compare(column, CompareOp::Eq, value)
    }

    pub fn ne(column: &str, value: impl Into<Literal>) -> Filter {
        Filter::compare(column, CompareOp::Ne, value)
    }

    pub fn contains(column: &str, text: &str) -> Filter {
        Filter::text(TextMatch::Contains, column, text)
    }

    pub fn starts_with(column: &str, text: &str) -> Filter {
        Filter::text(TextMatch::StartsWith, column, text)
    }

    pub fn ends_with(column: &str, text: &str) -> Filter {
        Filter::text(TextMatch::EndsWith, column, text)
    }

    fn text(function: TextMatch, column: &str, text: &str) -> Filter {
        Filter::Text {
            function,
            column: column.to_string(),
            value: text.to_string(),
        }
    }

    /// The column equals one of `values` (strings; Dataverse converts them to the column's type).
    pub fn is_in<I, S>(column: &str, values: I) -> Filter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Filter::In {
            column: column.to_string(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            first => Filter::And(vec![first, other]),
        }
    }

    pub fn or(self, other: Filter) -> Filter {
        match self {
            Filter::Or(mut any) => {
                any.push(other);
                Filter::Or(any)
            }
            first => Filter::Or(vec![first, other]),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// The `$filter` text (not yet percent-encoded).
    pub fn render(&self) -> Result<String, Error> {
        let mut out = String::new();
        self.render_into(&mut out)?;
        Ok(out)
    }

    fn render_into(&self, out: &mut String) -> Result<(), Error> {
        match self {
            Filter::Compare { column, op, value } => {
                check_name(column)?;
                let _ = write!(out, "{column} {} ", op.as_str());
                value.render(out)?;
            }
            Filter::Text {
                function,
                column,
                value,
            } => {
                check_name(column)?;
                let _ = write!(
                    out,
                    "{}({column},{})",
                    function.as_str(),
                    quote(&escape_like(value))
                );
            }
            Filter::In { column, values } => {
                check_name(column)?;
                let list = serde_json::to_string(values)
                    .map_err(|e| Error::InvalidInput(format!("values of In: {e}")))?;
                let _ = write!(
                    out,
                    "Microsoft.Dynamics.CRM.In(PropertyName={},PropertyValues={list})",
                    quote(column)
                );
            }
            Filter::And(parts) | Filter::Or(parts) => {
                let joiner = if matches!(self, Filter::And(_)) {
                    " and "
                } else {
                    " or "
                };
                if parts.is_empty() {
                    return Err(Error::InvalidInput(
                        "an and/or filter needs at least one part".into(),
                    ));
                }
                out.push('(');
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    part.render_into(out)?;
                }
                out.push(')');
            }
            Filter::Not(inner) => {
                out.push_str("not (");
                inner.render_into(out)?;
                out.push(')');
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A navigation property to expand, with its own options.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    navigation: String,
    select: Vec<String>,
    filter: Option<Filter>,
    order_by: Vec<(String, Order)>,
    top: Option<u32>,
}

impl Expand {
    pub fn new(navigation: &str) -> Expand {
        Expand {
            navigation: navigation.to_string(),
            select: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            top: None,
        }
    }

    pub fn select<I, S>(mut self, columns: I) -> Expand
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select.extend(columns.into_iter().map(Into::into));
        self
    }

    pub fn filter(mut self, filter: Filter) -> Expand {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(filter),
            None => filter,
        });
        self
    }

    pub fn order_by(mut self, column: &str, order: Order) -> Expand {
        self.order_by.push((column.to_string(), order));
        self
    }

    pub fn top(mut self, n: u32) -> Expand {
        self.top = Some(n);
        self
    }

    fn render(&self) -> Result<String, Error> {
        check_name(&self.navigation)?;
        let mut options = Vec::new();
        if !self.select.is_empty() {
            options.push(format!("$select={}", names(&self.select)?));
        }
        if let Some(f) = &self.filter {
            options.push(format!("$filter={}", f.render()?));
        }
        if !self.order_by.is_empty() {
            options.push(format!("$orderby={}", order_list(&self.order_by)?));
        }
        if let Some(n) = self.top {
            options.push(format!("$top={n}"));
        }
        if options.is_empty() {
            Ok(self.navigation.clone())
        } else {
            Ok(format!("{}({})", self.navigation, options.join(";")))
        }
    }
}

fn names(columns: &[String]) -> Result<String, Error> {
    for c in columns {
        check_name(c)?;
    }
    Ok(columns.join(","))
}

fn order_list(order_by: &[(String, Order)]) -> Result<String, Error> {
    let mut parts = Vec::new();
    for (column, order) in order_by {
        check_name(column)?;
        parts.push(match order {
            Order::Asc => format!("{column} asc"),
            Order::Desc => format!("{column} desc"),
        });
    }
    Ok(parts.join(","))
}

/// A query on one entity set.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    entity_set: String,
    select: Vec<String>,
    filter: Option<Filter>,
    order_by: Vec<(String, Order)>,
    top: Option<u32>,
    expand: Vec<Expand>,
    count: bool,
}

impl Query {
    pub fn new(entity_set: &str) -> Query {
        Query {
            entity_set: entity_set.to_string(),
            select: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            top: None,
            expand: Vec::new(),
            count: false,
        }
    }

    pub fn entity_set(&self) -> &str {
        &self.entity_set
    }

    pub fn select<I, S>(mut self, columns: I) -> Query
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Adds a filter; several are combined with `and`.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(filter),
            None => filter,
        });
        self
    }

    pub fn order_by(mut self, column: &str, order: Order) -> Query {
        self.order_by.push((column.to_string(), order));
        self
    }

    /// At most `n` rows, in one page (Dataverse sends no next link with `$top`).
    pub fn top(mut self, n: u32) -> Query {
        self.top = Some(n);
        self
    }

    pub fn expand(mut self, expand: Expand) -> Query {
        self.expand.push(expand);
        self
    }

    /// Asks for `@odata.count` (Dataverse counts up to 5000).
    pub fn count(mut self) -> Query {
        self.count = true;
        self
    }

    pub(crate) fn wants_count(&self) -> bool {
        self.count
    }

    /// The request path: `contacts?$select=…&$filter=…`, percent-encoded.
    pub fn path(&self) -> Result<String, Error> {
        check_name(&self.entity_set)?;
        let mut options: Vec<(&str, String)> = Vec::new();
        if !self.select.is_empty() {
            options.push(("$select", names(&self.select)?));
        }
        if let Some(f) = &self.filter {
            options.push(("$filter", f.render()?));
        }
        if !self.order_by.is_empty() {
            options.push(("$orderby", order_list(&self.order_by)?));
        }
        if let Some(n) = self.top {
            options.push(("$top", n.to_string()));
        }
        if !self.expand.is_empty() {
            let parts: Result<Vec<String>, Error> =
                self.expand.iter().map(Expand::render).collect();
            options.push(("$expand", parts?.join(",")));
        }
        if self.count {
            options.push(("$count", "true".into()));
        }
        let mut path = self.entity_set.clone();
        for (i, (name, value)) in options.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(name);
            path.push('=');
            path.push_str(&utf8_percent_encode(value, QUERY_VALUE).to_string());
        }
        Ok(path)
    }
}

/// A row's address: its primary key, or the values of an alternate key.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Id(Uuid),
    Alternate(Vec<(String, Literal)>),
}

impl Key {
    /// An alternate key of one column (`lb_externalkey='…'`).
    pub fn alternate(column: &str, value: impl Into<Literal>) -> Key {
        Key::Alternate(vec![(column.to_string(), value.into())])
    }
}

impl From<Uuid> for Key {
    fn from(id: Uuid) -> Key {
        Key::Id(id)
    }
}

/// `accounts(<id>)` or `lb_notes(lb_externalkey='…')`, percent-encoded.
pub fn entity_path(entity_set: &str, key: &Key) -> Result<String, Error> {
    check_name(entity_set)?;
    match key {
        Key::Id(id) => Ok(format!("{entity_set}({id})")),
        Key::Alternate(parts) if parts.is_empty() => Err(Error::InvalidInput(
            "an alternate key needs at least one column".into(),
        )),
        Key::Alternate(parts) => {
            let mut rendered = Vec::new();
            for (column, value) in parts {
                check_name(column)?;
                if *value == Literal::Null {
                    return Err(Error::InvalidInput(format!(
                        "the key column {column} cannot be null"
                    )));
                }
                rendered.push(format!("{column}={}", value.render_in_path()?));
            }
            Ok(format!("{entity_set}({})", rendered.join(",")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataverse_emulator::odata::filter::{self as emu, Operand};
    use proptest::prelude::*;

    #[test]
    fn a_query_renders_every_option_encoded() {
        let q = Query::new("contacts")
            .select(["fullname", "emailaddress1"])
            .filter(Filter::eq("lastname", "O'Brien & Sons"))
            .filter(Filter::ne("statecode", 1))
            .order_by("fullname", Order::Asc)
            .expand(
                Expand::new("parentcustomerid_account")
                    .select(["name"])
                    .top(1),
            )
            .count();
        assert_eq!(
            q.path().unwrap(),
            "contacts?$select=fullname,emailaddress1\
             &$filter=(lastname%20eq%20'O''Brien%20%26%20Sons'%20and%20statecode%20ne%201)\
             &$orderby=fullname%20asc\
             &$expand=parentcustomerid_account($select=name;$top=1)\
             &$count=true"
        );
    }

    #[test]
    fn literals_take_their_odata_forms() {
        let id = Uuid::nil();
        let f = Filter::eq("_ownerid_value", id)
            .and(Filter::eq("isdisabled", false))
            .and(Filter::compare(
                "modifiedon",
                CompareOp::Ge,
                Literal::DateTime("2024-01-01T00:00:00Z".into()),
            ))
            .and(Filter::eq("revenue", 12.5))
            .and(Filter::eq("parentaccountid", Literal::Null));
        assert_eq!(
            f.render().unwrap(),
            "(_ownerid_value eq 00000000-0000-0000-0000-000000000000 and isdisabled eq false \
             and modifiedon ge 2024-01-01T00:00:00Z and revenue eq 12.5 and parentaccountid eq null)"
        );
        assert!(
            Filter::compare("x", CompareOp::Ge, Literal::DateTime("1 or 1".into()))
                .render()
                .is_err()
        );
        assert!(Filter::eq("x", f64::NAN).render().is_err());
    }

    #[test]
    fn wildcards_are_literal_in_text_matches() {
        assert_eq!(
            Filter::contains("name", "100%_[a]").render().unwrap(),
            "contains(name,'100[%][_][[]a]')"
        );
    }

    #[test]
    fn names_cannot_carry_operators() {
        for bad in ["name eq 'x' or 1", "name)", "", "a b", "'x'", "a/"] {
            assert!(
                Query::new("accounts").select([bad]).path().is_err(),
                "{bad}"
            );
            assert!(Filter::eq(bad, 1).render().is_err(), "{bad}");
        }
        assert!(Query::new("accounts?$top=1").path().is_err());
        assert!(
            Filter::eq("primarycontactid/fullname", "x")
                .render()
                .is_ok()
        );
    }

    #[test]
    fn keys_are_escaped_in_the_path() {
        let id = Uuid::new_v4();
        assert_eq!(
            entity_path("accounts", &Key::Id(id)).unwrap(),
            format!("accounts({id})")
        );
        assert_eq!(
            entity_path("lb_notes", &Key::alternate("lb_externalkey", "a/b'c d?")).unwrap(),
            "lb_notes(lb_externalkey='a%2Fb''c%20d%3F')"
        );
        assert!(entity_path("lb_notes", &Key::Alternate(vec![])).is_err());
    }

    proptest! {
        /// Whatever the text, Dataverse's filter grammar (the emulator's parser) reads back one
        /// comparison of that column with exactly that text.
        #[test]
        fn any_text_is_one_literal(text in "\\PC{0,40}") {
            let rendered = Filter::eq("lastname", text.as_str()).render().unwrap();
            match emu::parse(&rendered).unwrap() {
                emu::Filter::Compare { left: Operand::Property(p), right: Operand::Literal(emu::Literal::String(s)), .. } => {
                    prop_assert_eq!(p, "lastname");
                    prop_assert_eq!(s, text);
                }
                other => prop_assert!(false, "{rendered} parsed as {other:?}"),
            }
        }

        #[test]
        fn any_text_is_one_text_match(text in "\\PC{0,40}") {
            let rendered = Filter::starts_with("fullname", &text)
                .and(Filter::eq("statecode", 0))
                .render()
                .unwrap();
            match emu::parse(&rendered).unwrap() {
                emu::Filter::And(parts) => {
                    prop_assert_eq!(parts.len(), 2);
                    match &parts[0] {
                        emu::Filter::StringMatch { property, value, .. } => {
                            prop_assert_eq!(property, "fullname");
                            prop_assert_eq!(value, &escape_like(&text));
                        }
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
                other => prop_assert!(false, "{rendered} parsed as {other:?}"),
            }
        }
    }
}
