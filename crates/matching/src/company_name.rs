//! Company names and websites: legal-form suffixes ignored (Inc, Ltd, GmbH, S.p.A., B.V.…),
//! `&`/`and`, and websites reduced to their registrable domain with the public suffix list.

use crate::text::fold;

/// A company name reduced to what matching compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyName {
    /// Folded words without the legal form, e.g. `acme logistics group`.
    pub full: String,
    /// `full` without generic designators (group, holding, international…), e.g. `acme logistics`.
    pub core: String,
}

/// Legal forms, as folded token sequences; longest first so `gmbh co kg` wins over `kg`.
const LEGAL_FORMS: &[&[&str]] = &[
    &["s", "de", "r", "l", "de", "c", "v"],
    &["s", "a", "b", "de", "c", "v"],
    &["gmbh", "and", "co", "kg"],
    &["gmbh", "co", "kg"],
    &["sp", "z", "o", "o"],
    &["s", "a", "de", "c", "v"],
    &["sa", "de", "cv"],
    &["s", "a", "r", "l"],
    &["s", "p", "a"],
    &["s", "r", "l"],
    &["s", "a", "s"],
    &["s", "r", "o"],
    &["pty", "ltd"],
    &["co", "ltd"],
    &["b", "v"],
    &["n", "v"],
    &["s", "a"],
    &["s", "l"],
    &["a", "s"],
    &["e", "v"],
    &["l", "l", "c"],
    &["l", "t", "d"],
    &["inc"],
    &["incorporated"],
    &["corp"],
    &["corporation"],
    &["co"],
    &["company"],
    &["ltd"],
    &["limited"],
    &["llc"],
    &["llp"],
    &["lp"],
    &["plc"],
    &["gmbh"],
    &["ag"],
    &["kg"],
    &["ohg"],
    &["ug"],
    &["ev"],
    &["spa"],
    &["srl"],
    &["sas"],
    &["sa"],
    &["sarl"],
    &["sl"],
    &["slu"],
    &["bv"],
    &["nv"],
    &["vof"],
    &["ab"],
    &["as"],
    &["asa"],
    &["aps"],
    &["oy"],
    &["oyj"],
    &["ltda"],
    &["lda"],
    &["pty"],
    &["kk"],
    &["sro"],
    &["doo"],
    &["sprl"],
    &["bvba"],
    &["cv"],
];

/// Words that say what kind of organisation it is, not which one.
const DESIGNATORS: &[&str] = &[
    "group",
    "groep",
    "gruppo",
    "grupo",
    "groupe",
    "holding",
    "holdings",
    "international",
    "intl",
    "the",
];

impl CompanyName {
    pub fn parse(raw: &str) -> Self {
        let folded = fold(&raw.replace(['&', '+'], " and "));
        let mut tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
        if tokens.first() == Some(&"the") && tokens.len() > 1 {
            tokens.remove(0);
        }
        loop {
            let before = tokens.len();
            if let Some(form) = LEGAL_FORMS
                .iter()
                .find(|f| f.len() < tokens.len() && tokens.ends_with(f))
            {
                tokens.truncate(tokens.len() - form.len());
            }
            while tokens.len() > 1 && tokens.last() == Some(&"and") {
                tokens.pop();
            }
            if tokens.len() == before {
                break;
            }
        }
        let full = tokens.join(" ");
        let core_tokens: Vec<&str> = tokens
            .iter()
            .copied()
            .filter(|t| !DESIGNATORS.contains(t))
            .collect();
        let core = if core_tokens.is_empty() {
            full.clone()
        } else {
            core_tokens.join(" ")
        };
        Self { full, core }
    }
}

/// The registrable domain (eTLD+1) of a website or email domain: `https://www.shop.acme.co.uk/x`
/// → `acme.co.uk`. `None` when there is no host or it is itself a public suffix.
pub fn registrable_domain(raw: &str) -> Option<String> {
    let s = raw.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host
        .split(':')
        .next()
        .unwrap_or(host)
        .trim_end_matches('.')
        .to_lowercase();
    if !host.contains('.') || host.contains(char::is_whitespace) {
        return None;
    }
    let domain = psl::domain(host.as_bytes())?;
    // Without a listed suffix psl falls back to the last label; a bare "acme.nosuchtld" is
    // still a usable key, so keep it.
    std::str::from_utf8(domain.as_bytes())
        .ok()
        .map(str::to_string)
}

/// The registrable domain without its public suffix: `acme` for `acme.co.uk`, so `acme.com` and
/// `acme.it` can be recognised as one company's aliases.
pub fn domain_label(registrable: &str) -> &str {
    registrable.split('.').next().unwrap_or(registrable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(raw: &str) -> String {
        CompanyName::parse(raw).full
    }

    #[test]
    fn legal_forms_are_ignored() {
        for (raw, want) in [
            ("Acme, Inc.", "acme"),
            ("ACME Ltd", "acme"),
            ("Acme LLC", "acme"),
            ("Acme GmbH & Co. KG", "acme"),
            ("Fratelli Rossi S.p.A.", "fratelli rossi"),
            ("Bakker Logistiek B.V.", "bakker logistiek"),
            ("Construcciones Pérez S.A.", "construcciones perez"),
            ("Dupont SARL", "dupont"),
            ("Nordic Oy", "nordic"),
            ("Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo"),
            ("Smith & Co.", "smith"),
            ("Kowalski Sp. z o.o.", "kowalski"),
        ] {
            assert_eq!(full(raw), want, "{raw}");
        }
    }

    #[test]
    fn ampersand_is_and() {
        assert_eq!(full("Johnson & Johnson"), full("Johnson and Johnson"));
        assert_eq!(full("Marks+Spencer plc"), "marks and spencer");
    }

    #[test]
    fn a_name_that_is_only_a_legal_form_is_kept() {
        assert_eq!(full("AG"), "ag");
        assert_eq!(full("S.A."), "s a");
    }

    #[test]
    fn designators_leave_the_core() {
        let n = CompanyName::parse("The Acme Group Ltd");
        assert_eq!((n.full.as_str(), n.core.as_str()), ("acme group", "acme"));
        assert_eq!(
            CompanyName::parse("International Group").core,
            "international group"
        );
    }

    #[test]
    fn websites_to_registrable_domains() {
        for (raw, want) in [
            ("https://www.acme.com/about?x=1", Some("acme.com")),
            ("shop.acme.co.uk", Some("acme.co.uk")),
            ("HTTP://Acme.IT:8080", Some("acme.it")),
            ("acme.com.br/", Some("acme.com.br")),
            ("user@mail.acme.de", Some("acme.de")),
            ("co.uk", None),
            ("localhost", None),
            ("", None),
        ] {
            assert_eq!(registrable_domain(raw).as_deref(), want, "{raw}");
        }
        assert_eq!(domain_label("acme.co.uk"), "acme");
    }
}
