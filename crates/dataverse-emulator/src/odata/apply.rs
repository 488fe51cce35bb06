//! `$apply`, the part Dataverse supports (aggregate-data.md): `filter(…)` steps, then one
//! `groupby((a,b)[,aggregate(…)])` or `aggregate(…)`, where an aggregate is `$count as n` or
//! `column with sum|average|min|max as alias`.

use super::QueryError;
use super::filter::{self, Aliases, Filter};
use super::lexer::{self, query_error};

/// Dataverse aggregates over at most this many source rows (aggregate-data.md).
pub const MAX_SOURCE_ROWS: usize = 50_000;

/// A parsed `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    /// The `filter(…)` steps, all of which a source row must pass.
    pub filters: Vec<Filter>,
    /// The `groupby` properties: columns or one-level lookup paths (`primarycontactid/fullname`).
    pub group_by: Vec<String>,
    pub aggregates: Vec<Aggregate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub method: Method,
    /// The aggregated column; `None` for `$count`.
    pub property: Option<String>,
    pub alias: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Count,
    Sum,
    Average,
    Min,
    Max,
}

/// A cursor over the `$apply` text.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn skip_spaces(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.pos == self.text.len()
    }

    fn error_here(&self, what: &str) -> QueryError {
        lexer::expected(what, self.text, self.pos)
    }

    /// Consumes `c` (after spaces) or fails with "`what` expected".
    fn expect(&mut self, c: char, what: &str) -> Result<(), QueryError> {
        self.skip_spaces();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(self.error_here(what))
        }
    }

    /// Consumes the keyword `word` or fails with "`what` expected" where it should start.
    fn keyword(&mut self, word: &str, what: &str) -> Result<(), QueryError> {
        self.skip_spaces();
        let at = self.pos;
        if self.word() == Some(word) {
            Ok(())
        } else {
            Err(lexer::expected(what, self.text, at))
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        let found = self.rest().starts_with(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    /// A name, a `$`-prefixed name, or a path of names joined by `/`.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_alphanumeric() || c == '_' || c == '/' || (c == '$' && i == 0)))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    /// The text up to the `)` that closes the parenthesis just consumed, skipping quoted
    /// strings; the `)` is consumed too.
    fn balanced(&mut self) -> Result<&'a str, QueryError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' | '"' if !chars.by_ref().any(|(_, d)| d == c) => break,
                '(' => depth += 1,
                ')' if depth == 0 => {
                    self.pos = start + i + 1;
                    return Ok(&self.text[start..start + i]);
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        self.pos = self.text.len();
        Err(self.error_here("')'"))
    }
}

pub fn parse(text: &str, aliases: &Aliases) -> Result<Apply, QueryError> {
    let mut s = Scanner { text, pos: 0 };
    let mut apply = Apply {
        filters: Vec::new(),
        group_by: Vec::new(),
        aggregates: Vec::new(),
    };
    let mut done = false;
    loop {
        let at = s.pos;
        let Some(transformation) = s.word() else {
            return Err(lexer::expression_expected(text, s.pos));
        };
        if done {
            return Err(unsupported_sequence(text));
        }
        s.expect('(', "'('")?;
        match transformation {
            "filter" => {
                let inner = s.balanced()?;
                apply
                    .filters
                    .push(filter::parse_with_aliases(inner, aliases)?);
            }
            "groupby" => {
                s.expect('(', "'('")?;
                loop {
                    let Some(property) = s.word() else {
                        return Err(lexer::expression_expected(text, s.pos));
                    };
                    apply.group_by.push(property.to_string());
                    if !s.eat(',') {
                        break;
                    }
                }
                s.expect(')', "')' or ','")?;
                if s.eat(',') {
                    let at = s.pos;
                    match s.word() {
                        Some("aggregate") => {
                            s.expect('(', "'('")?;
                            apply.aggregates = parse_aggregates(&mut s)?;
                        }
                        _ => return Err(lexer::expected("'aggregate'", text, at)),
                    }
                }
                s.expect(')', "')'")?;
                done = true;
            }
            "aggregate" => {
                apply.aggregates = parse_aggregates(&mut s)?;
                done = true;
            }
            other => {
                // ApplyParser: the transformations OData defines beyond these are not
                // supported by Dataverse.
                return Err(query_error(format!(
                    "The transformation '{other}' at position {} in '{}' is not supported; use \
                     filter, groupby or aggregate.",
                    lexer::char_pos(text, at),
                    lexer::echo(text)
                )));
            }
        }
        if s.at_end() {
            break;
        }
        s.expect('/', "'/'")?;
    }
    if !done {
        return Err(query_error(format!(
            "The $apply expression '{}' has no groupby or aggregate; this emulator needs one.",
            lexer::echo(text)
        )));
    }
    let mut names: Vec<&str> = apply.group_by.iter().map(String::as_str).collect();
    for aggregate in &apply.aggregates {
        if names.contains(&aggregate.alias.as_str()) {
            return Err(query_error(format!(
                "The alias '{}' is used more than once in '{}'.",
                aggregate.alias,
                lexer::echo(text)
            )));
        }
        names.push(&aggregate.alias);
    }
    Ok(apply)
}

fn unsupported_sequence(text: &str) -> QueryError {
    query_error(format!(
        "Only filter steps may come before groupby or aggregate in '{}', and nothing after them.",
        lexer::echo(text)
    ))
}

/// The items of `aggregate(…)`; the `(` is consumed, the `)` is consumed here.
fn parse_aggregates(s: &mut Scanner<'_>) -> Result<Vec<Aggregate>, QueryError> {
    let mut out = Vec::new();
    loop {
        let Some(subject) = s.word() else {
            return Err(lexer::expression_expected(s.text, s.pos));
        };
        let (method, property) = if subject == "$count" {
            (Method::Count, None)
        } else {
            // UriQueryExpressionParser_WithExpected.
            s.keyword("with", "'with'")?;
            s.skip_spaces();
            let at = s.pos;
            let method = match s.word() {
                Some("sum") => Method::Sum,
                Some("average") => Method::Average,
                Some("min") => Method::Min,
                Some("max") => Method::Max,
                Some("countdistinct") => {
                    // aggregate-data.md: a distinct count is not available through OData.
                    return Err(query_error(format!(
                        "Aggregation method 'countdistinct' at position {} in '{}' is not \
                         supported; use FetchXML for a distinct count.",
                        lexer::char_pos(s.text, at),
                        lexer::echo(s.text)
                    )));
                }
                other => {
                    // UriQueryExpressionParser_UnrecognizedWithMethod.
                    return Err(query_error(format!(
                        "Unrecognized with '{}' at '{}' in '{}'.",
                        other.unwrap_or_default(),
                        lexer::char_pos(s.text, at),
                        lexer::echo(s.text)
                    )));
                }
            };
            (method, Some(subject.to_string()))
        };
        // UriQueryExpressionParser_AsExpected.
        s.keyword("as", "'as'")?;
        let Some(alias) = s.word().filter(|a| !a.contains('/') && !a.starts_with('$')) else {
            return Err(lexer::expression_expected(s.text, s.pos));
        };
        out.push(Aggregate {
            method,
            property,
            alias: alias.to_string(),
        });
        if !s.eat(',') {
            break;
        }
    }
    s.expect(')', "')' or ','")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap

    use super::*;

    fn agg(method: Method, property: Option<&str>, alias: &str) -> Aggregate {
        Aggregate {
            method,
            property: property.map(str::to_string),
            alias: alias.into(),
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        let apply = parse("groupby((statuscode),aggregate($count as count))", &[]).unwrap();
        assert_eq!(apply.group_by, ["statuscode"]);
        assert_eq!(apply.aggregates, [agg(Method::Count, None, "count")]);
        let apply = parse("aggregate(revenue with sum as total)", &[]).unwrap();
        assert!(apply.group_by.is_empty());
        assert_eq!(
            apply.aggregates,
            [agg(Method::Sum, Some("revenue"), "total")]
        );
        let apply = parse(
            "filter(address1_stateorprovince eq 'W(A)')/groupby((primarycontactid/fullname))",
            &[],
        )
        .unwrap();
        assert_eq!(apply.filters.len(), 1);
        assert_eq!(apply.group_by, ["primarycontactid/fullname"]);
        assert!(apply.aggregates.is_empty());
        let apply = parse(
            " groupby( ( statecode , statuscode ) , aggregate( revenue with average as a , createdon with max as b, $count as n ) ) ",
            &[],
        )
        .unwrap();
        assert_eq!(apply.group_by, ["statecode", "statuscode"]);
        assert_eq!(
            apply.aggregates,
            [
                agg(Method::Average, Some("revenue"), "a"),
                agg(Method::Max, Some("createdon"), "b"),
                agg(Method::Count, None, "n"),
            ]
        );
        let aliases = [("p".to_string(), "'WA'".to_string())];
        let apply = parse("filter(name eq @p)/aggregate($count as n)", &aliases).unwrap();
        assert_eq!(apply.filters[0].to_string(), "name eq 'WA'");
    }

    #[test]
    fn refuses_what_dataverse_does_not_support() {
        let cases = [
            ("", "Expression expected at position 0 in ''."),
            (
                "aggregate(revenue as total)",
                "'with' expected at position 18 in 'aggregate(revenue as total)'.",
            ),
            (
                "aggregate(revenue with sum total)",
                "'as' expected at position 27 in 'aggregate(revenue with sum total)'.",
            ),
            (
                "aggregate(revenue with median as m)",
                "Unrecognized with 'median' at '23' in 'aggregate(revenue with median as m)'.",
            ),
            (
                "aggregate(name with countdistinct as n)",
                "Aggregation method 'countdistinct' at position 20 in 'aggregate(name with countdistinct as n)' is not supported; use FetchXML for a distinct count.",
            ),
            (
                "groupby((a))/filter(a eq 1)",
                "Only filter steps may come before groupby or aggregate in 'groupby((a))/filter(a eq 1)', and nothing after them.",
            ),
            (
                "filter(a eq 1)",
                "The $apply expression 'filter(a eq 1)' has no groupby or aggregate; this emulator needs one.",
            ),
            (
                "compute(a as b)",
                "The transformation 'compute' at position 0 in 'compute(a as b)' is not supported; use filter, groupby or aggregate.",
            ),
            (
                "groupby((a),aggregate($count as a))",
                "The alias 'a' is used more than once in 'groupby((a),aggregate($count as a))'.",
            ),
            (
                "groupby((a)",
                "')' expected at position 11 in 'groupby((a)'.",
            ),
            (
                "filter(name eq 'x)/aggregate($count as n)",
                "')' expected at position 41 in 'filter(name eq 'x)/aggregate($count as n)'.",
            ),
            (
                "filter(name eq)/aggregate($count as n)",
                "Expression expected at position 7 in 'name eq'.",
            ),
        ];
        for (text, message) in cases {
            let error = parse(text, &[]).expect_err(text);
            assert_eq!(error.code, "0x80060888", "{text}");
            assert_eq!(error.message, message, "{text}");
        }
    }
}
