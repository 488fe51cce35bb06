//! Phone numbers to an E.164-like digit string, using the record's country when the number is
//! written nationally: `+44 (0)20 7946 0018`, `020 7946 0018` (UK) and `0044 20 7946 0018` agree.

use crate::country::{self, Country};

/// A normalised phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phone {
    /// Full international number: calling code and national number, digits only.
    International(u64),
    /// Written nationally with no known country: only the trailing digits can be compared.
    National(u64),
}

/// Fewer digits than this is an extension or noise, not a phone number.
const MIN_DIGITS: usize = 6;
/// E.164 allows at most 15 digits.
const MAX_DIGITS: usize = 15;
/// Digits compared when one side's country is unknown.
pub const TAIL_DIGITS: u32 = 8;

impl Phone {
    /// Normalises `raw`, reading a national number in `default_country` (a country name or code).
    pub fn parse(raw: &str, default_country: Option<&str>) -> Option<Self> {
        let main = cut_extension(raw);
        // "+44 (0)20…": the bracketed trunk zero is not dialled from abroad.
        let main = main.replace("(0)", "");
        let trimmed = main.trim_start();
        let plus = trimmed.starts_with('+');
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let country = default_country.and_then(country::lookup);
        let international = if plus {
            Some(digits.clone())
        } else if let Some(rest) = digits.strip_prefix("00") {
            Some(rest.to_string())
        } else if let Some(rest) = digits
            .strip_prefix("011")
            .filter(|_| country.is_some_and(|c| c.calling_code == "1"))
        {
            Some(rest.to_string())
        } else {
            country.map(|c| to_international(&digits, c))
        };
        match international {
            Some(d) if (MIN_DIGITS..=MAX_DIGITS).contains(&d.len()) => {
                d.parse().ok().map(Phone::International)
            }
            Some(_) => None,
            None if (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) => digits
                .trim_start_matches('0')
                .parse()
                .ok()
                .map(Phone::National),
            None => None,
        }
    }

    /// The last `TAIL_DIGITS` digits, comparable across both forms.
    pub fn tail(self) -> u64 {
        let n = match self {
            Phone::International(n) | Phone::National(n) => n,
        };
        n % 10u64.pow(TAIL_DIGITS)
    }
}

fn to_international(national: &str, country: &Country) -> String {
    // A national number that already carries its calling code, e.g. "44 20 7946 0018" in the UK
    // or NANP's "1 212 …" written with the trunk 1.
    let carries_code = national.starts_with(country.calling_code)
        && national.len() >= 10 + country.calling_code.len() - 1;
    let carries_code = carries_code && (country.calling_code != "1" || national.len() == 11);
    if carries_code {
        return national.to_string();
    }
    let rest = if country.trunk_prefix.is_empty() {
        national
    } else {
        national
            .strip_prefix(country.trunk_prefix)
            .unwrap_or(national)
    };
    format!("{}{rest}", country.calling_code)
}

fn cut_extension(raw: &str) -> &str {
    let lower = raw.to_ascii_lowercase();
    let cut = ["ext", "x", "#", ";"]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(raw.len());
    raw.get(..cut).unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn intl(raw: &str, country: Option<&str>) -> Option<u64> {
        match Phone::parse(raw, country) {
            Some(Phone::International(n)) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn uk_forms_agree() {
        let want = Some(442079460018);
        assert_eq!(intl("+44 (0)20 7946 0018", None), want);
        assert_eq!(intl("020 7946 0018", Some("United Kingdom")), want);
        assert_eq!(intl("0044 20 7946 0018", Some("fr")), want);
        assert_eq!(intl("+44-20-7946-0018 ext. 12", None), want);
    }

    #[test]
    fn italy_keeps_its_leading_zero() {
        assert_eq!(intl("06 1234 5678", Some("Italia")), Some(390612345678));
        assert_eq!(intl("+39 06 1234 5678", None), Some(390612345678));
    }

    #[test]
    fn nanp_forms_agree() {
        let want = Some(12125550143);
        assert_eq!(intl("(212) 555-0143", Some("USA")), want);
        assert_eq!(intl("1-212-555-0143", Some("US")), want);
        assert_eq!(intl("+1 212 555 0143", None), want);
        assert_eq!(intl("011 44 20 7946 0018", Some("us")), Some(442079460018));
    }

    #[test]
    fn unknown_country_keeps_national_digits() {
        let p = Phone::parse("020 7946 0018", None);
        assert_eq!(p, Some(Phone::National(2079460018)));
        assert_eq!(
            p.map(Phone::tail),
            Phone::parse("+44 20 7946 0018", None).map(Phone::tail)
        );
    }

    #[test]
    fn rejects_noise() {
        assert_eq!(Phone::parse("123", Some("it")), None);
        assert_eq!(Phone::parse("n/a", None), None);
        assert_eq!(Phone::parse("+1234567890123456789", None), None);
    }

    proptest! {
        #[test]
        fn never_panics(raw in "\\PC{0,30}", c in proptest::option::of("[a-zA-Z ]{0,12}")) {
            let _ = Phone::parse(&raw, c.as_deref());
        }

        #[test]
        fn formatting_does_not_matter(d in "[1-9][0-9]{9}") {
            let spaced: String = d.chars().flat_map(|c| [c, ' ']).collect();
            prop_assert_eq!(Phone::parse(&format!("+49{d}"), None), Phone::parse(&format!("+49 ({spaced})"), None));
        }
    }
}
