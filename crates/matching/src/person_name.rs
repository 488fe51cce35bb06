//! People's names: splitting a full name into given and family name, honorifics, particles,
//! initials, and the nickname table that makes Bob and Robert the same given name.

use crate::text::fold;

/// A person's name reduced to what matching compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    /// Folded given name(s), e.g. `mary ann`; may be a single initial.
    pub first: String,
    /// Folded family name, e.g. `van der berg`; compare it with [`crate::text::same_ignoring_spaces`].
    pub last: String,
}

/// Words that prefix a name but are not part of it.
const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "sig", "sigra", "dott",
    "dottssa", "ing", "avv", "herr", "frau", "mme", "mlle", "sr", "sra", "srta", "dhr", "mevr",
];

/// Words that follow a name but are not part of it.
const SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "esq", "jun", "sen",
];

/// Family-name particles: `van der Berg`, `de la Cruz`, `da Silva`, `di Stefano`.
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "dello", "dei", "da", "das", "do", "dos",
    "di", "du", "la", "le", "ter", "ten", "het", "mac", "st", "bin", "al", "el",
];

impl PersonName {
    /// Builds the name from whichever of `first_name`, `last_name` and `full_name` are present;
    /// explicit first/last win, a full name fills whatever is missing.
    pub fn parse(first: Option<&str>, last: Option<&str>, full: Option<&str>) -> Self {
        let first = first
            .map(fold)
            .map(|f| strip_honorifics(&f))
            .unwrap_or_default();
        let last = last
            .map(fold)
            .map(|l| strip_suffixes(&l))
            .unwrap_or_default();
        if !first.is_empty() && !last.is_empty() {
            return Self { first, last };
        }
        let (full_first, full_last) = full.map(split_full).unwrap_or_default();
        let first = if first.is_empty() { full_first } else { first };
        let last = if last.is_empty() { full_last } else { last };
        Self { first, last }
    }

    /// The first given-name token (`mary` of `mary ann`), the part nicknames apply to.
    pub fn given(&self) -> &str {
        self.first.split(' ').next().unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.last.is_empty()
    }
}

fn strip_honorifics(folded: &str) -> String {
    let tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let skip = tokens.iter().take_while(|t| HONORIFICS.contains(t)).count();
    // "Dr" alone may be all there is; only strip when something remains.
    let skip = if skip == tokens.len() { 0 } else { skip };
    tokens[skip..].join(" ")
}

fn strip_suffixes(folded: &str) -> String {
    let mut tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    while tokens.len() > 1 && tokens.last().is_some_and(|t| SUFFIXES.contains(t)) {
        tokens.pop();
    }
    tokens.join(" ")
}

/// Splits a full name: `Last, First` when written with a comma, otherwise the last word (with
/// any particles before it) is the family name.
fn split_full(full: &str) -> (String, String) {
    if let Some((last, first)) = full.split_once(',') {
        let first = strip_honorifics(&fold(first));
        let last = strip_suffixes(&strip_honorifics(&fold(last)));
        if !first.is_empty() && !last.is_empty() {
            return (first, last);
        }
    }
    let folded = strip_suffixes(&strip_honorifics(&fold(full)));
    let tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    match tokens.len() {
        0 => (String::new(), String::new()),
        1 => (String::new(), tokens[0].to_string()),
        n => {
            let mut start = n - 1;
            while start > 1 && PARTICLES.contains(&tokens[start - 1]) {
                start -= 1;
            }
            (tokens[..start].join(" "), tokens[start..].join(" "))
        }
    }
}

/// Nicknames and short forms, each with the formal given names it can stand for. Only true
/// diminutives are listed: translations (Giovanni/John, Pierre/Peter) are different names.
const NICKNAMES: &[(&str, &[&str])] = &[
    ("abby", &["abigail"]),
    ("al", &["albert", "alan", "alfred", "alexander"]),
    (
        "alex",
        &["alexander", "alexandra", "alessandro", "alejandro"],
    ),
    ("andy", &["andrew"]),
    ("ben", &["benjamin"]),
    ("beppe", &["giuseppe"]),
    ("beth", &["elizabeth"]),
    ("betty", &["elizabeth"]),
    ("bill", &["william"]),
    ("billy", &["william"]),
    ("bob", &["robert"]),
    ("bobby", &["robert"]),
    ("cathy", &["catherine", "katherine"]),
    ("charlie", &["charles"]),
    (
        "chris",
        &["christopher", "christine", "christina", "christian"],
    ),
    ("chuck", &["charles"]),
    ("dan", &["daniel"]),
    ("danny", &["daniel"]),
    ("dave", &["david"]),
    ("dick", &["richard"]),
    ("ed", &["edward"]),
    ("eddie", &["edward"]),
    ("fede", &["federico", "federica"]),
    ("frank", &["francis", "franklin"]),
    ("fred", &["frederick"]),
    ("gianni", &["giovanni"]),
    ("greg", &["gregory"]),
    ("hans", &["johannes"]),
    ("jack", &["john"]),
    ("jeff", &["jeffrey"]),
    ("jen", &["jennifer"]),
    ("jenny", &["jennifer"]),
    ("jim", &["james"]),
    ("jimmy", &["james"]),
    ("joe", &["joseph"]),
    ("johnny", &["john"]),
    ("jon", &["jonathan"]),
    ("kate", &["katherine", "catherine"]),
    ("kathy", &["katherine", "catherine"]),
    ("katie", &["katherine", "catherine"]),
    ("ken", &["kenneth"]),
    ("larry", &["lawrence"]),
    ("liz", &["elizabeth"]),
    ("lola", &["dolores"]),
    ("maggie", &["margaret"]),
    ("manu", &["manuel", "emmanuel", "manuela"]),
    ("matt", &["matthew"]),
    ("max", &["maximilian", "massimo", "maxime"]),
    ("meg", &["margaret"]),
    ("mike", &["michael"]),
    ("nick", &["nicholas"]),
    ("paco", &["francisco"]),
    ("pam", &["pamela"]),
    ("pat", &["patrick", "patricia"]),
    ("peggy", &["margaret"]),
    ("pepe", &["jose"]),
    ("peppe", &["giuseppe"]),
    ("pete", &["peter"]),
    ("rick", &["richard"]),
    ("rob", &["robert"]),
    ("robbie", &["robert"]),
    ("ron", &["ronald"]),
    ("sam", &["samuel", "samantha"]),
    ("sandy", &["sandra", "alexandra"]),
    ("steve", &["steven", "stephen"]),
    ("sue", &["susan"]),
    ("ted", &["edward", "theodore"]),
    ("tim", &["timothy"]),
    ("tom", &["thomas"]),
    ("tommy", &["thomas"]),
    ("tony", &["anthony", "antonio"]),
    ("vicky", &["victoria"]),
    ("will", &["william"]),
];

/// The formal names a given name can stand for; a formal name stands for itself.
pub fn formal_names(given: &str) -> &'static [&'static str] {
    match NICKNAMES.binary_search_by(|(nick, _)| nick.cmp(&given)) {
        Ok(i) => NICKNAMES[i].1,
        Err(_) => &[],
    }
}

/// The listed nicknames of a formal given name (`robert` → `bob`, `bobby`, `rob`, `robbie`).
pub fn nicknames_of(formal: &str) -> impl Iterator<Item = &'static str> {
    NICKNAMES
        .iter()
        .filter(move |(_, formals)| formals.contains(&formal))
        .map(|(nick, _)| *nick)
}

/// One canonical spelling per given name for blocking: a nickname's first formal name, or the
/// name itself.
pub fn canonical_given(given: &str) -> &str {
    formal_names(given).first().copied().unwrap_or(given)
}

/// True when one given name is a listed nickname of the other, or both are nicknames of a
/// common formal name (Bob and Rob).
pub fn nickname_equivalent(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (fa, fb) = (formal_names(a), formal_names(b));
    fa.contains(&b) || fb.contains(&a) || fa.iter().any(|n| fb.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(first: &str, last: &str) -> PersonName {
        PersonName {
            first: first.into(),
            last: last.into(),
        }
    }

    #[test]
    fn nickname_table_is_sorted_for_lookup() {
        assert!(NICKNAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn explicit_fields_win() {
        assert_eq!(
            PersonName::parse(Some("Dr. Ann"), Some("van der Berg"), None),
            name("ann", "van der berg")
        );
        assert_eq!(
            PersonName::parse(Some("John"), Some("Smith Jr."), Some("x y")),
            name("john", "smith")
        );
    }

    #[test]
    fn full_name_forms() {
        assert_eq!(
            PersonName::parse(None, None, Some("Smith, John")),
            name("john", "smith")
        );
        assert_eq!(
            PersonName::parse(None, None, Some("Mr John Smith")),
            name("john", "smith")
        );
        assert_eq!(
            PersonName::parse(None, None, Some("Maria de la Cruz")),
            name("maria", "de la cruz")
        );
        assert_eq!(
            PersonName::parse(None, None, Some("Mary Ann Jones")),
            name("mary ann", "jones")
        );
        assert_eq!(
            PersonName::parse(None, None, Some("J. Smith")),
            name("j", "smith")
        );
        assert_eq!(
            PersonName::parse(None, None, Some("Madonna")),
            name("", "madonna")
        );
        assert_eq!(
            PersonName::parse(Some("Ann"), None, Some("Ann Lee")),
            name("ann", "lee")
        );
        assert!(PersonName::parse(None, None, Some(" , ")).is_empty());
    }

    #[test]
    fn nicknames_are_equivalent_but_translations_are_not() {
        assert!(nickname_equivalent("bob", "robert"));
        assert!(nickname_equivalent("robert", "bob"));
        assert!(nickname_equivalent("bob", "rob"));
        assert!(nickname_equivalent("bill", "william"));
        assert!(nickname_equivalent("beppe", "giuseppe"));
        assert!(!nickname_equivalent("giovanni", "john"));
        assert!(!nickname_equivalent("bob", "william"));
        assert_eq!(canonical_given("bill"), "william");
        assert_eq!(canonical_given("william"), "william");
    }
}
