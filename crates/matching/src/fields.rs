//! Compact storage of a record's normalised text fields, and the normalisers and comparisons of
//! the fields people and companies share: address parts, phone, country.

use crate::explain::{Agreement, Detail, Field, FieldEvidence};
use crate::phone::Phone;
use crate::text::{compact, fold, within_one_edit};

/// N text fields in one allocation: an index of millions of records holds one string per record
/// instead of one per field. An empty field means missing.
pub struct Packed<const N: usize> {
    buf: Box<str>,
    ends: [u16; N],
}

impl<const N: usize> Packed<N> {
    /// Packs the fields; each must already be capped (see `text::MAX_FIELD_BYTES`).
    pub fn new(fields: [&str; N]) -> Self {
        let mut buf = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u16; N];
        for (end, f) in ends.iter_mut().zip(fields) {
            buf.push_str(f);
            *end = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        }
        Self {
            buf: buf.into_boxed_str(),
            ends,
        }
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.buf.get(start..self.ends[i] as usize).unwrap_or("")
    }
}

/// Street spellings that mean the same word.
fn street_word(token: &str) -> &str {
    match token {
        "street" | "st" => "st",
        "avenue" | "av" | "ave" | "avda" | "avenida" => "ave",
        "road" | "rd" => "rd",
        "boulevard" | "blvd" | "bd" => "blvd",
        "drive" | "dr" => "dr",
        "lane" | "ln" => "ln",
        "square" | "sq" => "sq",
        "place" | "pl" => "pl",
        "strasse" | "str" => "str",
        "piazza" | "pza" => "piazza",
        "viale" | "vle" => "viale",
        other => other,
    }
}

pub fn street(raw: &str) -> String {
    let folded = fold(raw);
    // "Hauptstrasse" and "Haupt str" → "hauptstr".
    let folded = folded.replace("strasse", "str");
    let mut out: Vec<&str> = folded.split(' ').map(street_word).collect();
    out.retain(|t| !t.is_empty());
    out.join(" ")
}

pub fn postal_code(raw: &str) -> String {
    compact(&fold(raw))
}

/// Job-title abbreviations that mean the same words.
fn title_word(token: &str) -> &str {
    match token {
        "vp" => "vice president",
        "svp" => "senior vice president",
        "ceo" => "chief executive officer",
        "cfo" => "chief financial officer",
        "cto" => "chief technology officer",
        "coo" => "chief operating officer",
        "cmo" => "chief marketing officer",
        "sr" | "snr" => "senior",
        "jr" => "junior",
        "mgr" => "manager",
        "dir" => "director",
        "eng" => "engineer",
        "mktg" => "marketing",
        "dev" => "developer",
        "hr" => "human resources",
        other => other,
    }
}

pub fn title(raw: &str) -> String {
    let folded = fold(raw);
    let words: Vec<&str> = folded
        .split(' ')
        .map(title_word)
        .filter(|w| !w.is_empty() && *w != "of" && *w != "and")
        .collect();
    words.join(" ")
}

/// The normalised address parts of one record ("" when missing).
pub struct Address<'a> {
    pub street: &'a str,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub region: &'a str,
    pub country: &'a str,
}

/// (agreeing, similar, different) for each text part; (equal, different) for the country.
pub struct AddressWeights {
    pub street: (f32, f32, f32),
    pub city: (f32, f32, f32),
    pub postal_code: (f32, f32, f32),
    pub region: (f32, f32, f32),
    pub country: (f32, f32),
}

/// Accumulates a comparison: evidence and the total score. The `weights` arguments below are
/// (agreeing, similar, different), in bits.
pub struct Scorer<'a> {
    pub out: &'a mut Vec<FieldEvidence>,
    pub score: f32,
}

impl Scorer<'_> {
    pub fn add(&mut self, field: Field, agreement: Agreement, detail: Option<Detail>, weight: f32) {
        self.out.push(FieldEvidence {
            field,
            agreement,
            detail,
            weight,
        });
        self.score += weight;
    }

    /// Street, city, postal code and region as text fields, then the country (equal or not).
    /// People and companies weigh the parts differently; the comparison is the same.
    pub fn address(&mut self, l: &Address<'_>, r: &Address<'_>, w: &AddressWeights) {
        self.text(Field::Street, l.street, r.street, w.street);
        self.text(Field::City, l.city, r.city, w.city);
        self.text(
            Field::PostalCode,
            l.postal_code,
            r.postal_code,
            w.postal_code,
        );
        self.text(Field::Region, l.region, r.region, w.region);
        match (l.country, r.country) {
            ("", _) | (_, "") => {}
            (a, b) if a == b => self.add(Field::Country, Agreement::Exact, None, w.country.0),
            _ => self.add(Field::Country, Agreement::Different, None, w.country.1),
        }
    }

    /// A plain text field: equal, one typo away, or different. Missing on either side adds nothing.
    pub fn text(&mut self, field: Field, l: &str, r: &str, weights: (f32, f32, f32)) {
        if l.is_empty() || r.is_empty() {
            return;
        }
        // House numbers must agree exactly: "Main St 30" is not "Main St 233".
        fn numbers(s: &str) -> impl Iterator<Item = &str> {
            s.split(' ')
                .filter(|w| w.bytes().any(|b| b.is_ascii_digit()))
        }
        if l == r {
            self.add(field, Agreement::Exact, None, weights.0);
        } else if !numbers(l).eq(numbers(r)) {
            self.add(field, Agreement::Different, None, weights.2);
        } else if l.len() >= 4 && within_one_edit(l, r) {
            self.add(field, Agreement::Similar, None, weights.1);
        } else {
            self.add(field, Agreement::Different, None, weights.2);
        }
    }

    /// Words in common (job titles): all, at least half, or few.
    pub fn words(&mut self, field: Field, l: &str, r: &str, weights: (f32, f32, f32)) {
        if l.is_empty() || r.is_empty() {
            return;
        }
        if l == r {
            self.add(field, Agreement::Exact, None, weights.0);
            return;
        }
        let lw: Vec<&str> = l.split(' ').collect();
        let rw: Vec<&str> = r.split(' ').collect();
        let common = lw.iter().filter(|w| rw.contains(w)).count();
        let union = lw.len() + rw.len() - common;
        if common * 2 >= union {
            self.add(field, Agreement::Similar, None, weights.1);
        } else {
            self.add(field, Agreement::Different, None, weights.2);
        }
    }

    /// Phones: full number, trailing digits when one side's country was unknown, or different.
    pub fn phone(&mut self, l: Option<Phone>, r: Option<Phone>, weights: (f32, f32, f32)) {
        let (Some(l), Some(r)) = (l, r) else { return };
        match (l, r) {
            (Phone::International(a), Phone::International(b)) if a == b => {
                self.add(Field::Phone, Agreement::Exact, None, weights.0)
            }
            (Phone::International(_), Phone::International(_)) => {
                self.add(Field::Phone, Agreement::Different, None, weights.2)
            }
            _ if l.tail() == r.tail() => self.add(
                Field::Phone,
                Agreement::Similar,
                Some(Detail::TrailingDigits),
                weights.1,
            ),
            _ => self.add(Field::Phone, Agreement::Different, None, weights.2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_fields_round_trip() {
        let p = Packed::new(["ann", "", "lee", "x"]);
        assert_eq!(
            (p.get(0), p.get(1), p.get(2), p.get(3)),
            ("ann", "", "lee", "x")
        );
    }

    #[test]
    fn street_and_title_spellings() {
        assert_eq!(street("12 Main Street"), street("12 main st."));
        assert_eq!(street("Hauptstraße 5"), street("Hauptstr. 5"));
        assert_eq!(title("VP of Sales"), title("Vice President, Sales"));
        assert_eq!(title("Sr. Eng."), "senior engineer");
        assert_eq!(postal_code("sw1a 1aa"), "sw1a1aa");
    }
}
