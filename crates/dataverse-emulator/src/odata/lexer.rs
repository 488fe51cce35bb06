//! The token scanner shared by `$filter` and `$orderby`, and the Microsoft.OData error texts that
//! carry a position, so every syntax error reads like the one Dataverse returns.
//!
//! Texts and positions follow Microsoft.OData.Core's `ExpressionLexer` and
//! `UriQueryExpressionParser` (resource file `Microsoft.OData.Core.txt` in OData/odata.net), which
//! Dataverse runs in front of its query engine: positions are 0-based character offsets, and the
//! lexer stays one token ahead of the parser, so "Syntax error at position N" names the end of the
//! token that could not be used.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::QueryError;

/// The code Dataverse returns for every malformed or unbindable query option.
pub(super) const QUERY_ERROR_CODE: &str = "0x80060888";

/// Error texts echo the whole expression, as Dataverse does; past this many characters the echo is
/// cut so an absurd input cannot produce an absurd response body.
const MAX_ECHO_CHARS: usize = 2_000;

pub(super) fn query_error(message: String) -> QueryError {
    QueryError {
        code: QUERY_ERROR_CODE,
        message,
    }
}

/// The expression as error texts quote it.
pub(super) fn echo(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Character offset of a byte offset, for error positions.
pub(super) fn char_pos(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |s| s.chars().count())
}

/// `Syntax error at position {0} in '{1}'.` (ExpressionLexer_SyntaxError)
pub(super) fn syntax_error(text: &str, byte: usize) -> QueryError {
    query_error(format!(
        "Syntax error at position {} in '{}'.",
        char_pos(text, byte),
        echo(text)
    ))
}

/// `Expression expected at position {0} in '{1}'.` (UriQueryExpressionParser_ExpressionExpected)
pub(super) fn expression_expected(text: &str, byte: usize) -> QueryError {
    query_error(format!(
        "Expression expected at position {} in '{}'.",
        char_pos(text, byte),
        echo(text)
    ))
}

/// A fixed-text positioned error such as `')' or operator expected at position {0} in '{1}'.`
pub(super) fn expected(what: &str, text: &str, byte: usize) -> QueryError {
    query_error(format!(
        "{what} expected at position {} in '{}'.",
        char_pos(text, byte),
        echo(text)
    ))
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A name or keyword (`name`, `eq`, `and`, `Microsoft.Dynamics.CRM.In`).
    Identifier,
    /// A single-quoted OData string, unescaped.
    String(String),
    /// A double-quoted JSON string (inside `PropertyValues=[...]`), unescaped.
    JsonString(String),
    Int(i64),
    Decimal(f64),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
    OpenParen,
    CloseParen,
    Comma,
    Equals,
    OpenBracket,
    CloseBracket,
    Slash,
    /// The `:` between a lambda's range variable and its predicate (`any(c:c/name eq 'x')`).
    Colon,
    /// A parameter alias (`@p1`), by name without the `@`.
    Alias(String),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// Byte offsets of the token in the expression.
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn is_identifier(&self, text: &str, word: &str) -> bool {
        self.kind == TokenKind::Identifier && &text[self.start..self.end] == word
    }
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

fn is_alias_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn next_token(&mut self) -> Result<Token, QueryError> {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                kind: TokenKind::End,
                start,
                end: start,
            });
        };
        let single = |kind| (kind, c.len_utf8());
        let (kind, len) = match c {
            '(' => single(TokenKind::OpenParen),
            ')' => single(TokenKind::CloseParen),
            ',' => single(TokenKind::Comma),
            '=' => single(TokenKind::Equals),
            '[' => single(TokenKind::OpenBracket),
            ']' => single(TokenKind::CloseBracket),
            '/' => single(TokenKind::Slash),
            ':' => single(TokenKind::Colon),
            '\'' => {
                let (value, len) = self.scan_quoted(start)?;
                (TokenKind::String(value), len)
            }
            '"' => {
                let (value, len) = self.scan_json_string(start)?;
                (TokenKind::JsonString(value), len)
            }
            '@' if self.text[start + 1..]
                .chars()
                .next()
                .is_some_and(is_identifier_start) =>
            {
                let name_len = self.text[start + 1..]
                    .char_indices()
                    .find(|&(_, c)| !is_alias_char(c))
                    .map_or(self.text.len() - start - 1, |(i, _)| i);
                let name = self.text[start + 1..start + 1 + name_len].to_string();
                (TokenKind::Alias(name), 1 + name_len)
            }
            c if c.is_ascii_digit() || c == '-' || is_identifier_start(c) => {
                if let Some(guid) = self.scan_guid() {
                    (TokenKind::Guid(guid), 36)
                } else if c.is_ascii_digit() || c == '-' {
                    self.scan_number_or_date(start)?
                } else {
                    self.scan_identifier(start)?
                }
            }
            other => {
                return Err(query_error(format!(
                    "Syntax error: character '{other}' is not valid at position {} in '{}'.",
                    char_pos(self.text, start),
                    echo(self.text)
                )));
            }
        };
        self.pos = start + len;
        Ok(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    /// `'…'` with `''` standing for one quote. Returns the value and the byte length.
    fn scan_quoted(&self, start: usize) -> Result<(String, usize), QueryError> {
        let body = &self.text[start + 1..];
        let mut value = String::new();
        let mut i = 0;
        loop {
            match body[i..].find('\'') {
                None => {
                    // Dataverse reports the end of the text: "There is an unterminated literal at
                    // position 21 in 'lastname eq 'O'Bryan''." (filter-rows.md).
                    return Err(query_error(format!(
                        "There is an unterminated literal at position {} in '{}'.",
                        char_pos(self.text, self.text.len()),
                        echo(self.text)
                    )));
                }
                Some(q) => {
                    value.push_str(&body[i..i + q]);
                    if body[i + q + 1..].starts_with('\'') {
                        value.push('\'');
                        i += q + 2;
                    } else {
                        return Ok((value, 1 + i + q + 1));
                    }
                }
            }
        }
    }

    /// A JSON string as Dataverse accepts inside `PropertyValues=[...]`.
    fn scan_json_string(&self, start: usize) -> Result<(String, usize), QueryError> {
        let body = &self.text[start + 1..];
        let mut value = String::new();
        let mut chars = body.char_indices();
        let unterminated = || {
            query_error(format!(
                "There is an unterminated string literal at position {} in '{}'.",
                char_pos(self.text, self.text.len()),
                echo(self.text)
            ))
        };
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((value, 1 + i + 1)),
                '\\' => {
                    let (j, e) = chars.next().ok_or_else(unterminated)?;
                    let decoded = match e {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'u' => {
                            let hex = body.get(j + 1..j + 5).unwrap_or("");
                            let code = (hex.len() == 4
                                && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                            .then(|| u32::from_str_radix(hex, 16).ok())
                            .flatten();
                            match code.and_then(char::from_u32) {
                                Some(ch) => {
                                    for _ in 0..4 {
                                        chars.next();
                                    }
                                    ch
                                }
                                None => return Err(self.bad_escape(e, start + 1 + j)),
                            }
                        }
                        other => return Err(self.bad_escape(other, start + 1 + j)),
                    };
                    value.push(decoded);
                }
                other => value.push(other),
            }
        }
        Err(unterminated())
    }

    fn bad_escape(&self, c: char, byte: usize) -> QueryError {
        query_error(format!(
            "An unrecognized escape sequence '\\{c}' was found at position {} in '{}'.",
            char_pos(self.text, byte),
            echo(self.text)
        ))
    }

    /// An unquoted GUID (`4026be43-6b69-e111-8f65-78e7d1620f5e`) not followed by a name character.
    fn scan_guid(&self) -> Option<Uuid> {
        let candidate = self.rest().get(..36)?;
        let shape_ok = candidate.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        let followed_by_name = self.rest()[36..]
            .chars()
            .next()
            .is_some_and(is_identifier_char);
        if !shape_ok || followed_by_name {
            return None;
        }
        Uuid::parse_str(candidate).ok()
    }

    fn scan_identifier(&self, start: usize) -> Result<(TokenKind, usize), QueryError> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_identifier_char(c))
            .map_or(rest.len(), |(i, _)| i);
        // A name glued to a quote is a type-prefixed literal (`duration'P1D'`, `binary'…'`) to
        // Microsoft.OData; that is how `lastname eq 'O'Bryan'` ends as an unterminated literal.
        if rest[len..].starts_with('\'') {
            let (_, quoted_len) = self.scan_quoted(start + len)?;
            return Err(syntax_error(self.text, start + len + quoted_len));
        }
        Ok((TokenKind::Identifier, len))
    }

    /// Numbers (`12`, `-3`, `1.5`, `2e10`), dates (`2024-01-01`) and date-times
    /// (`2024-01-01T00:00:00Z`, seconds and fraction optional, `Z` or `±hh:mm`).
    fn scan_number_or_date(&self, start: usize) -> Result<(TokenKind, usize), QueryError> {
        let rest = self.rest().as_bytes();
        let digits_at = |from: usize| {
            rest[from.min(rest.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let at = |i: usize| rest.get(i).copied();

        if rest.len() >= 10
            && digits_at(0) == 4
            && at(4) == Some(b'-')
            && digits_at(5) == 2
            && at(7) == Some(b'-')
            && digits_at(8) == 2
        {
            return self.scan_date(start, rest);
        }

        let mut i = usize::from(at(0) == Some(b'-'));
        let int_digits = digits_at(i);
        if int_digits == 0 {
            return Err(query_error(format!(
                "A digit was expected at position {} in '{}'.",
                char_pos(self.text, start + i),
                echo(self.text)
            )));
        }
        i += int_digits;
        let mut is_decimal = false;
        if at(i) == Some(b'.') && digits_at(i + 1) > 0 {
            is_decimal = true;
            i += 1 + digits_at(i + 1);
        }
        if matches!(at(i), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(at(i + 1), Some(b'+' | b'-')));
            let exp_digits = digits_at(i + 1 + sign);
            if exp_digits > 0 {
                is_decimal = true;
                i += 1 + sign + exp_digits;
            }
        }
        let literal = &self.text[start..start + i];
        if self.text[start + i..]
            .chars()
            .next()
            .is_some_and(is_identifier_char)
        {
            let word_end = self.text[start + i..]
                .char_indices()
                .find(|&(_, c)| !is_identifier_char(c))
                .map_or(self.text.len(), |(j, _)| start + i + j);
            return Err(syntax_error(self.text, word_end));
        }
        let invalid_number = || {
            query_error(format!(
                "Numeric string '{literal}' is not a valid Int32/Int64/Double/Decimal."
            ))
        };
        let kind = if is_decimal {
            let value: f64 = literal.parse().map_err(|_| invalid_number())?;
            if !value.is_finite() {
                return Err(invalid_number());
            }
            TokenKind::Decimal(value)
        } else {
            match literal.parse::<i64>() {
                Ok(value) => TokenKind::Int(value),
                // Like Microsoft.OData, an integer too wide for Int64 is read as a decimal.
                Err(_) => TokenKind::Decimal(literal.parse().map_err(|_| invalid_number())?),
            }
        };
        Ok((kind, i))
    }

    fn scan_date(&self, start: usize, rest: &[u8]) -> Result<(TokenKind, usize), QueryError> {
        let digits_at = |from: usize| {
            rest[from.min(rest.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let at = |i: usize| rest.get(i).copied();
        let mut i = 10;
        let mut is_datetime = false;
        if at(10) == Some(b'T') && digits_at(11) == 2 && at(13) == Some(b':') && digits_at(14) == 2
        {
            is_datetime = true;
            i = 16;
            if at(16) == Some(b':') && digits_at(17) == 2 {
                i = 19;
                if at(19) == Some(b'.') && digits_at(20) > 0 {
                    i = 20 + digits_at(20);
                }
            }
            match at(i) {
                Some(b'Z' | b'z') => i += 1,
                Some(b'+' | b'-')
                    if digits_at(i + 1) == 2
                        && at(i + 3) == Some(b':')
                        && digits_at(i + 4) == 2 =>
                {
                    i += 6;
                }
                _ => {}
            }
        }
        let literal = &self.text[start..start + i];
        let followed_by_name = self.text[start + i..]
            .chars()
            .next()
            .is_some_and(|c| is_identifier_char(c) || c == ':');
        let unrecognized = |edm: &str| {
            query_error(format!(
                "Unrecognized '{edm}' literal '{literal}' at '{}' in '{}'.",
                char_pos(self.text, start),
                echo(self.text)
            ))
        };
        if is_datetime {
            if followed_by_name {
                return Err(unrecognized("Edm.DateTimeOffset"));
            }
            parse_datetime(literal)
                .map(|dt| (TokenKind::DateTime(dt), i))
                .ok_or_else(|| unrecognized("Edm.DateTimeOffset"))
        } else {
            if followed_by_name {
                return Err(unrecognized("Edm.Date"));
            }
            NaiveDate::parse_from_str(literal, "%Y-%m-%d")
                .map(|d| (TokenKind::Date(d), i))
                .map_err(|_| unrecognized("Edm.Date"))
        }
    }
}

/// An OData DateTimeOffset literal: RFC 3339, with the seconds optional and a required offset.
pub(super) fn parse_datetime(literal: &str) -> Option<DateTime<Utc>> {
    let with_seconds;
    // `2024-01-01T10:30Z` has no seconds; RFC 3339 parsers require them.
    let normalized = if literal.len() > 16 && literal.as_bytes().get(16) != Some(&b':') {
        with_seconds = format!("{}:00{}", &literal[..16], &literal[16..]);
        with_seconds.as_str()
    } else {
        literal
    };
    DateTime::parse_from_rfc3339(normalized)
        .ok()
        .map(|dt| dt.with_timezone(&Utc))
}
