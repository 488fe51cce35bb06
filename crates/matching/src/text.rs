//! Text folding shared by every normaliser: Unicode compatibility forms, accents, case, punctuation
//! and whitespace, plus the string similarity used when comparing folded values.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest folded value kept for one field; longer input is noise for matching and would only
/// cost memory in an index of millions of records.
pub const MAX_FIELD_BYTES: usize = 200;

/// Folds text to lowercase ASCII-ish words separated by single spaces: compatibility forms are
/// decomposed (NFKD), accents dropped, letters that do not decompose (ß, æ, ø, ł…) spelled out,
/// apostrophes removed (`O'Brien` → `obrien`) and any other punctuation turned into a separator.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(MAX_FIELD_BYTES));
    let mut gap = false;
    if input.is_ascii() {
        for c in input.chars() {
            push_folded(&mut out, &mut gap, c);
        }
    } else {
        for c in input.nfkd() {
            if is_combining_mark(c) {
                continue;
            }
            push_folded(&mut out, &mut gap, c);
        }
    }
    truncate_at_char(&mut out, MAX_FIELD_BYTES);
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

fn push_folded(out: &mut String, gap: &mut bool, c: char) {
    if is_apostrophe(c) {
        return;
    }
    if c.is_alphanumeric() {
        if *gap && !out.is_empty() {
            out.push(' ');
        }
        *gap = false;
        if let Some(spelled) = spell_out(c) {
            out.push_str(spelled);
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    } else {
        *gap = true;
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | '`' | '´' | 'ʼ')
}

/// Letters NFKD leaves alone but that people routinely write in ASCII.
fn spell_out(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'ł' | 'Ł' => "l",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        'ħ' | 'Ħ' => "h",
        _ => return None,
    })
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// The folded text with its spaces removed, so `Van der Berg` and `Vanderberg` compare equal.
pub fn compact(folded: &str) -> String {
    folded.chars().filter(|c| *c != ' ').collect()
}

/// Equal once spaces are ignored: `van der berg` and `vanderberg`.
pub fn same_ignoring_spaces(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| *c != ' ')
        .eq(b.chars().filter(|c| *c != ' '))
}

/// Every word of the shorter value (at least one of three letters or more) is a word of the
/// longer: `garcia` in `garcia lopez`.
pub fn words_contained(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.split(' ').any(|w| w.len() >= 3)
        && short.split(' ').all(|w| long.split(' ').any(|l| l == w))
}

/// Jaro-Winkler similarity of two folded strings, 0.0 to 1.0.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(a, b)
}

/// True when the two strings differ by at most one edit (insert, delete, substitute or swap of
/// neighbours): the typo a person makes when keying a name.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    if la == lb {
        ra[1..] == rb[1..]
            || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
    } else if la > lb {
        ra[1..] == *rb
    } else {
        *ra == rb[1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fold_handles_case_accents_and_punctuation() {
        assert_eq!(fold("  José  MARÍA "), "jose maria");
        assert_eq!(fold("Jean-Pierre"), "jean pierre");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("D’Alessandro"), "dalessandro");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Łukasz Wiśniewski"), "lukasz wisniewski");
        assert_eq!(fold("Bjørn Ærø"), "bjorn aero");
        assert_eq!(fold("S.p.A."), "s p a");
    }

    #[test]
    fn fold_unifies_unicode_forms() {
        // Precomposed é (U+00E9) and e + combining acute (U+0065 U+0301), full-width letters.
        assert_eq!(fold("Ren\u{e9}"), fold("Rene\u{301}"));
        assert_eq!(fold("ＡＢＣ"), "abc");
        assert_eq!(fold("ﬁne"), "fine");
    }

    #[test]
    fn fold_caps_length() {
        let long = "é".repeat(1000);
        assert!(fold(&long).len() <= MAX_FIELD_BYTES);
    }

    #[test]
    fn one_edit_detects_typos() {
        assert!(within_one_edit("smith", "smyth"));
        assert!(within_one_edit("smith", "smiht"));
        assert!(within_one_edit("smith", "smit"));
        assert!(within_one_edit("smith", "smitth"));
        assert!(!within_one_edit("smith", "jones"));
        assert!(!within_one_edit("smith", "smtih2"));
    }

    proptest! {
        #[test]
        fn fold_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }

        #[test]
        fn fold_ignores_case_and_outer_space(s in "[a-zA-Zàéîõü ,.-]{0,30}") {
            prop_assert_eq!(fold(&s.to_uppercase()), fold(&format!("  {s} ")));
        }
    }
}
