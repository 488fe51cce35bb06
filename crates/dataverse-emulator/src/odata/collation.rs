//! How Dataverse's SQL Server store compares values: case-insensitive strings that ignore trailing
//! spaces, `LIKE` patterns for `contains`/`startswith`/`endswith`, and `uniqueidentifier` order.
//!
//! Everything here runs once per row of a scan, so nothing allocates: strings are folded one
//! character at a time while they are compared.

use std::cmp::Ordering;

use uuid::Uuid;

use crate::value::Value;

/// The one-character lower-case form used for comparisons. The few characters whose lower case is
/// longer than one character (`İ`) fold to the first one; an approximation of the
/// case-insensitive collation that keeps comparisons allocation-free.
pub(super) fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// The folded form of a literal, computed once when a filter is bound.
pub(super) fn fold_str(s: &str) -> Box<str> {
    s.chars().map(fold).collect::<String>().into_boxed_str()
}

/// SQL Server ignores trailing spaces when it compares strings with `=`, `<` and `>`.
pub(super) fn trim_pad(s: &str) -> &str {
    s.trim_end_matches(' ')
}

/// Case-insensitive order of two strings, trailing spaces ignored.
pub(super) fn cmp_ci(a: &str, b: &str) -> Ordering {
    let (a, b) = (trim_pad(a), trim_pad(b));
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    // ASCII fast path: compare bytes until the first non-ASCII byte on either side, then fall back
    // to folding characters from that (character-aligned) point on.
    let mut i = 0;
    while i < ab.len() && i < bb.len() {
        let (x, y) = (ab[i], bb[i]);
        if !x.is_ascii() || !y.is_ascii() {
            return a[i..].chars().map(fold).cmp(b[i..].chars().map(fold));
        }
        match x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()) {
            Ordering::Equal => i += 1,
            other => return other,
        }
    }
    ab.len().cmp(&bb.len())
}

/// SQL Server orders `uniqueidentifier` values by byte groups from the last group to the first:
/// bytes 10–15, then 8–9, 6–7, 4–5 and 0–3 of the displayed form ("How are GUIDs sorted by SQL
/// Server?", SQL Server team blog). Within a group the displayed order is used; for the first three
/// groups SQL Server actually uses the little-endian storage order, which only matters when two
/// ids differ in nothing but those groups.
pub(super) fn cmp_guid(a: &Uuid, b: &Uuid) -> Ordering {
    const GROUPS: [std::ops::Range<usize>; 5] = [10..16, 8..10, 6..8, 4..6, 0..4];
    let (a, b) = (a.as_bytes(), b.as_bytes());
    GROUPS
        .iter()
        .map(|g| a[g.clone()].cmp(&b[g.clone()]))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// SQL Server's order of two non-NULL stored values: numbers numerically (whole numbers against
/// decimals too), strings case-insensitively, GUIDs as `uniqueidentifier`. `None` for NULLs and
/// for values of unrelated kinds.
pub(super) fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Decimal(b)) => Some(cmp_int_decimal(*a, *b)),
        (Value::Decimal(a), Value::Int(b)) => Some(cmp_int_decimal(*b, *a).reverse()),
        (Value::Decimal(a), Value::Decimal(b)) => Some(cmp_decimal(*a, *b)),
        (Value::String(a), Value::String(b)) => Some(cmp_ci(a, b)),
        (Value::Guid(a), Value::Guid(b)) => Some(cmp_guid(a, b)),
        (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Numeric order of two decimals; NaN (which SQL Server cannot store, but a row could hold) sorts
/// after every number so that sorting always sees a total order.
pub(super) fn cmp_decimal(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// Exact order of a whole number and a decimal: converting the integer to `f64` would round
/// above 2^53 and make the order inconsistent.
pub(super) fn cmp_int_decimal(i: i64, d: f64) -> Ordering {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || d >= TWO_POW_63 {
        return Ordering::Less;
    }
    if d < -TWO_POW_63 {
        return Ordering::Greater;
    }
    let whole = d.trunc();
    // In range and integral, so the cast is exact.
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(d - whole)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// One element of a compiled `LIKE` pattern. Characters are stored folded.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LikeElement {
    Char(char),
    /// `_`
    AnyChar,
    /// `%`
    AnyRun,
    /// `[abc]`, `[a-f]`, `[^…]`
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Where the user's text sits in the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    Contains,
    StartsWith,
    EndsWith,
}

/// Compiles the value of `contains`/`startswith`/`endswith` into a `LIKE` pattern. Dataverse
/// passes the value to SQL Server's `LIKE` unescaped, so `%`, `_` and `[…]` in it are wildcards
/// (filter-rows.md, "Use wildcard characters"). An unclosed `[` is kept as a literal character.
pub(super) fn compile_like(value: &str, anchor: Anchor) -> Vec<LikeElement> {
    let mut out = Vec::new();
    if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
        out.push(LikeElement::AnyRun);
    }
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '%' => out.push(LikeElement::AnyRun),
            '_' => out.push(LikeElement::AnyChar),
            '[' => match chars[i + 1..].iter().position(|&c| c == ']') {
                Some(close) => {
                    let body = &chars[i + 1..i + 1 + close];
                    out.push(compile_set(body));
                    i += close + 1;
                }
                None => out.push(LikeElement::Char('[')),
            },
            c => out.push(LikeElement::Char(fold(c))),
        }
        i += 1;
    }
    if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
        out.push(LikeElement::AnyRun);
    }
    out
}

fn compile_set(body: &[char]) -> LikeElement {
    let (negated, body) = match body.split_first() {
        Some(('^', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            let (lo, hi) = (fold(body[i]), fold(body[i + 2]));
            ranges.push((lo.min(hi), lo.max(hi)));
            i += 3;
        } else {
            let c = fold(body[i]);
            ranges.push((c, c));
            i += 1;
        }
    }
    LikeElement::Set { negated, ranges }
}

fn element_matches(element: &LikeElement, c: char) -> bool {
    match element {
        LikeElement::Char(p) => *p == c,
        LikeElement::AnyChar => true,
        LikeElement::AnyRun => false,
        LikeElement::Set { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// The folded character at byte `at` of `text` and its byte length.
fn folded_char_at(text: &str, at: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(at)?;
    if b.is_ascii() {
        return Some((char::from(b.to_ascii_lowercase()), 1));
    }
    let c = text.get(at..)?.chars().next()?;
    Some((fold(c), c.len_utf8()))
}

/// Case-insensitive `LIKE`. The classic wildcard walk: on a mismatch, go back to the last `%` and
/// let it swallow one more character. Worst case O(text × pattern), no allocation.
pub(super) fn like_matches(text: &str, pattern: &[LikeElement]) -> bool {
    let (mut t, mut p) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(element) = pattern.get(p) {
            if *element == LikeElement::AnyRun {
                p += 1;
                backtrack = Some((p, t));
                continue;
            }
            if let Some((c, len)) = folded_char_at(text, t)
                && element_matches(element, c)
            {
                t += len;
                p += 1;
                continue;
            }
        } else if t >= text.len() {
            return true;
        }
        match backtrack {
            Some((bp, bt)) => match folded_char_at(text, bt) {
                Some((_, len)) => {
                    backtrack = Some((bp, bt + len));
                    p = bp;
                    t = bt + len;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_order_ignores_trailing_spaces() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("abc", "ABC", Ordering::Equal),
            ("abc", "abc   ", Ordering::Equal),
            ("  abc", "abc", Ordering::Less),
            ("abc", "abd", Ordering::Less),
            ("b", "A", Ordering::Greater),
            ("ab", "abc", Ordering::Less),
            ("ÉCOLE", "école", Ordering::Equal),
            ("Straße", "STRASSE", Ordering::Greater),
            ("ÅB", "åa", Ordering::Greater),
            ("zeta", "Ωmega", Ordering::Less),
        ];
        for &(a, b, expected) in cases {
            assert_eq!(cmp_ci(a, b), expected, "{a:?} vs {b:?}");
            assert_eq!(cmp_ci(b, a), expected.reverse(), "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn like_patterns_follow_sql_server() {
        let cases: &[(&str, Anchor, &str, bool)] = &[
            ("Contoso Ltd", Anchor::Contains, "toso", true),
            ("Contoso Ltd", Anchor::Contains, "TOSO", true),
            ("Contoso Ltd", Anchor::Contains, "xyz", false),
            ("Contoso Ltd", Anchor::StartsWith, "con", true),
            ("Contoso Ltd", Anchor::StartsWith, "ltd", false),
            ("Contoso Ltd", Anchor::EndsWith, "LTD", true),
            ("Contoso Ltd", Anchor::EndsWith, "con", false),
            ("Contoso Ltd", Anchor::StartsWith, "c%d", true),
            ("Contoso Ltd", Anchor::StartsWith, "c_ntoso", true),
            ("Contoso Ltd", Anchor::StartsWith, "c__toso", true),
            ("Contoso Ltd", Anchor::StartsWith, "c_toso", false),
            ("Contoso Ltd", Anchor::StartsWith, "[a-c]ontoso", true),
            ("Contoso Ltd", Anchor::StartsWith, "[^a-c]ontoso", false),
            ("Contoso Ltd", Anchor::StartsWith, "[xyzc]ontoso", true),
            ("100% sure", Anchor::Contains, "0[%]", true),
            ("100 sure", Anchor::Contains, "0[%]", false),
            ("a[b", Anchor::Contains, "[b", true),
            ("ab", Anchor::Contains, "", true),
            ("", Anchor::Contains, "", true),
            ("", Anchor::StartsWith, "a", false),
            ("mississippi", Anchor::EndsWith, "%ss%pi", true),
            ("mississippi", Anchor::EndsWith, "%ss%pix", false),
            ("Ünïcödé", Anchor::Contains, "NÏCÖ", true),
            ("Ünïcödé", Anchor::StartsWith, "_n", true),
        ];
        for &(text, anchor, value, expected) in cases {
            let pattern = compile_like(value, anchor);
            assert_eq!(
                like_matches(text, &pattern),
                expected,
                "{text:?} {anchor:?} {value:?}"
            );
        }
    }

    #[test]
    fn guid_order_starts_with_the_last_group() {
        let a = uuid::uuid!("ffffffff-ffff-ffff-ffff-000000000000");
        let b = uuid::uuid!("00000000-0000-0000-0000-000000000001");
        assert_eq!(cmp_guid(&a, &b), Ordering::Less);
        let c = uuid::uuid!("00000000-0000-0000-0001-000000000000");
        let d = uuid::uuid!("ffffffff-ffff-ffff-0000-000000000000");
        assert_eq!(cmp_guid(&c, &d), Ordering::Greater);
        assert_eq!(cmp_guid(&a, &a), Ordering::Equal);
    }
}
