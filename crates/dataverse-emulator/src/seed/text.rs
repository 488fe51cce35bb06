//! Text building for the seed: ASCII folding for e-mail addresses and domains, and the national
//! formats of phone numbers, postal codes and street addresses.

use super::locale::{City, Country, HouseNumber, Locale};
use super::rng::Rng;

/// Appends `text` folded to what a mail admin would type: lowercase ASCII, accents stripped
/// (German umlauts and ß spelled out, as German mailboxes do), apostrophes and spaces dropped.
pub(super) fn push_folded(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            'ä' | 'Ä' => out.push_str("ae"),
            'ö' | 'Ö' => out.push_str("oe"),
            'ü' | 'Ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' => out.push('a'),
            'ç' | 'Ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => out.push('i'),
            'ñ' | 'Ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Õ' => out.push('o'),
            'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => out.push('u'),
            'ÿ' => out.push('y'),
            _ => {}
        }
    }
}

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
pub(super) fn push_num(out: &mut String, n: u64, width: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in (buf.len() - i)..width {
        out.push('0');
    }
    for b in &buf[i..] {
        out.push(char::from(*b));
    }
}

/// Appends `count` random digits.
fn push_digits(out: &mut String, rng: &mut Rng, count: usize) {
    for _ in 0..count {
        out.push(char::from(b'0' + rng.below(10) as u8));
    }
}

/// Appends random digits in groups of the given sizes separated by `sep`; the first digit is
/// never 0 or 1, which would read as a trunk or service prefix.
fn push_groups(out: &mut String, rng: &mut Rng, groups: &[usize], sep: char) {
    for (g, size) in groups.iter().enumerate() {
        if g > 0 {
            out.push(sep);
        }
        for d in 0..*size {
            let digit = if g == 0 && d == 0 {
                2 + rng.below(8)
            } else {
                rng.below(10)
            };
            out.push(char::from(b'0' + digit as u8));
        }
    }
}

/// A landline in the city's area, written the way the country writes it: mostly international
/// ("+39 02 8734 1234"), some in national form ("02 8734 1234", "030/12345678").
pub(super) fn landline(locale: &Locale, city: &City, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(20);
    let national = rng.chance(25);
    let area = city.area;
    match locale.country {
        Country::Us => {
            if national {
                out.push('(');
                out.push_str(area);
                out.push_str(") ");
            } else {
                out.push_str("+1 ");
                out.push_str(area);
                out.push('-');
            }
            push_groups(&mut out, rng, &[3, 4], '-');
        }
        Country::Uk => {
            out.push_str(if national { "0" } else { "+44 " });
            out.push_str(area);
            out.push(' ');
            let rest = 10 - area.len();
            push_groups(&mut out, rng, &[rest - 4, 4], ' ');
        }
        Country::Italy => {
            if !national {
                out.push_str("+39 ");
            }
            out.push_str(area);
            out.push(' ');
            let rest = 10 - area.len();
            push_groups(&mut out, rng, &[rest - 4, 4], ' ');
        }
        Country::Netherlands => {
            out.push_str(if national { "0" } else { "+31 " });
            out.push_str(area);
            out.push(if national { '-' } else { ' ' });
            let rest = 9 - area.len();
            push_groups(&mut out, rng, &[rest - 4, 4], ' ');
        }
        Country::Portugal => {
            out.push_str("+351 ");
            out.push_str(area);
            out.push(' ');
            // "21 123 4567" in Lisbon and Porto, "253 123 456" elsewhere.
            let groups: &[usize] = if area.len() == 2 { &[3, 4] } else { &[3, 3] };
            push_groups(&mut out, rng, groups, ' ');
        }
        Country::Spain => {
            if !national {
                out.push_str("+34 ");
            }
            out.push_str(area);
            out.push(' ');
            if area.len() == 2 {
                push_groups(&mut out, rng, &[3, 2, 2], ' ');
            } else {
                push_groups(&mut out, rng, &[2, 2, 2], ' ');
            }
        }
        Country::France => {
            out.push_str(if national { "0" } else { "+33 " });
            out.push_str(area);
            out.push(' ');
            push_groups(&mut out, rng, &[2, 2, 2, 2], ' ');
        }
        Country::Germany => {
            out.push_str(if national { "0" } else { "+49 " });
            out.push_str(area);
            out.push(if national && rng.chance(50) { '/' } else { ' ' });
            let rest = 10 - area.len();
            push_groups(&mut out, rng, &[rest], ' ');
        }
    }
    out
}

/// A mobile number in the country's usual written form.
pub(super) fn mobile(locale: &Locale, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(20);
    match locale.country {
        Country::Us => {
            out.push_str("+1 ");
            push_groups(&mut out, rng, &[3, 3, 4], '-');
        }
        Country::Uk => {
            out.push_str("+44 7");
            push_digits(&mut out, rng, 3);
            out.push(' ');
            push_digits(&mut out, rng, 6);
        }
        Country::Italy => {
            out.push_str("+39 3");
            push_digits(&mut out, rng, 2);
            out.push(' ');
            push_digits(&mut out, rng, 3);
            out.push(' ');
            push_digits(&mut out, rng, 4);
        }
        Country::Netherlands => {
            out.push_str(if rng.chance(50) { "06-" } else { "+31 6 " });
            push_digits(&mut out, rng, 8);
        }
        Country::Portugal => {
            out.push_str("+351 9");
            out.push(rng.pick(&['1', '2', '3', '6']));
            push_digits(&mut out, rng, 1);
            out.push(' ');
            push_digits(&mut out, rng, 3);
            out.push(' ');
            push_digits(&mut out, rng, 3);
        }
        Country::Spain => {
            out.push_str("+34 6");
            push_digits(&mut out, rng, 2);
            for _ in 0..3 {
                out.push(' ');
                push_digits(&mut out, rng, 2);
            }
        }
        Country::France => {
            out.push_str(if rng.chance(50) { "+33 6" } else { "+33 7" });
            for _ in 0..4 {
                out.push(' ');
                push_digits(&mut out, rng, 2);
            }
        }
        Country::Germany => {
            out.push_str("+49 15");
            push_digits(&mut out, rng, 1);
            out.push(' ');
            push_digits(&mut out, rng, 8);
        }
    }
    out
}

/// A postal code of the city, in the country's format ("20121", "1012 AB", "1000-123", "M1 4BT").
pub(super) fn postal_code(country: Country, city: &City, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(9);
    let steps = (city.postal_hi - city.postal_lo) / city.postal_step;
    let n = u64::from(city.postal_lo + city.postal_step * rng.below(steps as usize + 1) as u32);
    const LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let letter = |rng: &mut Rng| char::from(rng.pick(LETTERS));
    match country {
        Country::Us | Country::Italy | Country::Spain | Country::France | Country::Germany => {
            push_num(&mut out, n, 5);
        }
        Country::Netherlands => {
            push_num(&mut out, n, 4);
            out.push(' ');
            out.push(letter(rng));
            out.push(letter(rng));
        }
        Country::Portugal => {
            push_num(&mut out, n, 4);
            out.push('-');
            push_num(&mut out, rng.below(1000) as u64, 3);
        }
        Country::Uk => {
            out.push_str(city.uk_area);
            push_num(&mut out, n, 1);
            out.push(' ');
            push_num(&mut out, 1 + rng.below(9) as u64, 1);
            out.push(letter(rng));
            out.push(letter(rng));
        }
    }
    out
}

/// A street address line in the country's order.
pub(super) fn street(locale: &Locale, rng: &mut Rng) -> String {
    let name = rng.pick(locale.streets);
    let number = match locale.country {
        Country::Us => 100 + rng.below(9900) as u64,
        _ => 1 + rng.below(180) as u64,
    };
    let mut out = String::with_capacity(name.len() + 8);
    match locale.house_number {
        HouseNumber::First => {
            push_num(&mut out, number, 1);
            out.push(' ');
            out.push_str(name);
        }
        HouseNumber::After => {
            out.push_str(name);
            out.push(' ');
            push_num(&mut out, number, 1);
        }
        HouseNumber::AfterComma => {
            out.push_str(name);
            out.push_str(", ");
            push_num(&mut out, number, 1);
        }
    }
    if locale.country == Country::Us && rng.chance(20) {
        out.push_str(", Suite ");
        push_num(&mut out, 100 * (1 + rng.below(12) as u64), 1);
    }
    out
}

/// Upper-cases the first letter, for a family name that opens a company name ("Van der Berg
/// Techniek B.V."): Dutch particles are capitalised when no first name precedes them.
pub(super) fn push_capitalised(out: &mut String, text: &str) {
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::locale::LOCALES;

    fn folded(text: &str) -> String {
        let mut out = String::new();
        push_folded(&mut out, text);
        out
    }

    #[test]
    fn folding_strips_accents_apostrophes_and_spaces() {
        assert_eq!(folded("José Gonçalves"), "josegoncalves");
        assert_eq!(folded("D'Angelo"), "dangelo");
        assert_eq!(folded("van der Berg"), "vanderberg");
        assert_eq!(folded("Müller"), "mueller");
        assert_eq!(folded("Weiß"), "weiss");
        assert_eq!(folded("Jean-Pierre"), "jean-pierre");
        assert_eq!(folded("Daniëlle"), "danielle");
    }

    #[test]
    fn numbers_are_zero_padded() {
        let mut s = String::new();
        push_num(&mut s, 118, 5);
        push_num(&mut s, 0, 1);
        assert_eq!(s, "001180");
    }

    #[test]
    fn phones_and_postal_codes_follow_national_shapes() {
        let mut rng = Rng::new(3, 3);
        for locale in LOCALES {
            for city in locale.cities {
                let phone = landline(locale, city, &mut rng);
                let digits = phone.chars().filter(char::is_ascii_digit).count();
                assert!((9..=13).contains(&digits), "{phone}");
                let postal = postal_code(locale.country, city, &mut rng);
                let ok = match locale.country {
                    Country::Netherlands => postal.len() == 7 && postal.as_bytes()[4] == b' ',
                    Country::Portugal => postal.len() == 8 && postal.as_bytes()[4] == b'-',
                    Country::Uk => postal.starts_with(city.uk_area) && postal.contains(' '),
                    _ => postal.len() == 5 && postal.bytes().all(|b| b.is_ascii_digit()),
                };
                assert!(ok, "{postal} for {}", city.name);
            }
            let m = mobile(locale, &mut rng);
            assert!(m.chars().filter(char::is_ascii_digit).count() >= 10, "{m}");
        }
    }
}
