//! The UI's languages and their texts: one TOML catalogue per language in `locales/`, compiled in,
//! and which language a request gets (the user's choice, else the browser's, else English).
//!
//! Keys are dotted (`[crm] connect = "…"` is `crm.connect`); `{name}` in a text is a placeholder.
//! A missing key falls back to English and then to the key itself, so a gap shows on the page
//! instead of failing it; the tests make sure there are none.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

use http::HeaderMap;
use http::header::ACCEPT_LANGUAGE;

/// The languages of the UI: English and the seed guide's five.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    It,
    Nl,
    Pt,
    Es,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 6] = [Lang::En, Lang::It, Lang::Nl, Lang::Pt, Lang::Es, Lang::Fr];

    /// The BCP 47 primary tag, as in `<html lang>` and the language cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::Pt => "pt",
            Lang::Es => "es",
            Lang::Fr => "fr",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The language's name in itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::It => "Italiano",
            Lang::Nl => "Nederlands",
            Lang::Pt => "Português",
            Lang::Es => "Español",
            Lang::Fr => "Français",
        }
    }

    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::It => 1,
            Lang::Nl => 2,
            Lang::Pt => 3,
            Lang::Es => 4,
            Lang::Fr => 5,
        }
    }

    /// The language for a request: the chosen one (the language cookie), else the best of
    /// `Accept-Language` we have, else English.
    pub fn negotiate(chosen: Option<&str>, headers: &HeaderMap) -> Lang {
        chosen
            .and_then(Lang::from_code)
            .or_else(|| {
                headers
                    .get_all(ACCEPT_LANGUAGE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(from_accept_language)
            })
            .unwrap_or(Lang::En)
    }
}

/// The highest-weighted language of an `Accept-Language` value we have (RFC 9110 §12.5.4):
/// `fr-CH, fr;q=0.9, en;q=0.8` is French; `q=0` means "not this one".
fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for range in value.split(',') {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let weight = match parts.find_map(|p| p.trim().strip_prefix("q=")) {
            None => 1000,
            Some(q) => match parse_weight(q) {
                Some(weight) => weight,
                None => continue,
            },
        };
        let primary = tag.split('-').next().unwrap_or_default();
        let Some(lang) = Lang::from_code(primary) else {
            continue;
        };
        if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

/// A quality value in thousandths (`0.8` → 800); `None` when malformed.
fn parse_weight(text: &str) -> Option<u16> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The catalogue files, in [`Lang::ALL`] order.
pub const SOURCES: [(Lang, &str); 6] = [
    (Lang::En, include_str!("../../locales/en.toml")),
    (Lang::It, include_str!("../../locales/it.toml")),
    (Lang::Nl, include_str!("../../locales/nl.toml")),
    (Lang::Pt, include_str!("../../locales/pt.toml")),
    (Lang::Es, include_str!("../../locales/es.toml")),
    (Lang::Fr, include_str!("../../locales/fr.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the {lang} catalogue is not valid TOML: {source}")]
    Syntax {
        lang: &'static str,
        #[source]
        source: toml::de::Error,
    },
    #[error("the {lang} catalogue has a value that is not text at {key}")]
    NotText { lang: &'static str, key: String },
}

/// Reads one catalogue into dotted keys.
pub fn parse_catalogue(
    lang: Lang,
    source: &str,
) -> Result<HashMap<String, String>, CatalogueError> {
    let table: toml::Table = toml::from_str(source).map_err(|source| CatalogueError::Syntax {
        lang: lang.code(),
        source,
    })?;
    let mut texts = HashMap::new();
    flatten(lang, "", &table, &mut texts)?;
    Ok(texts)
}

fn flatten(
    lang: Lang,
    prefix: &str,
    table: &toml::Table,
    into: &mut HashMap<String, String>,
) -> Result<(), CatalogueError> {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(text) => {
                into.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(lang, &key, inner, into)?,
            _ => {
                return Err(CatalogueError::NotText {
                    lang: lang.code(),
                    key,
                });
            }
        }
    }
    Ok(())
}

/// Every catalogue, read once. A catalogue that does not parse is empty (and logged): its
/// language then shows English, which the tests would have caught first.
static CATALOGUES: LazyLock<Vec<HashMap<String, String>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, source)| {
            parse_catalogue(*lang, source).unwrap_or_else(|e| {
                tracing::error!(error = %e, "UI catalogue unreadable");
                HashMap::new()
            })
        })
        .collect()
});

/// Whether the catalogues have `key` (they all have the same keys).
pub fn has(key: &str) -> bool {
    CATALOGUES
        .first()
        .is_some_and(|english| english.contains_key(key))
}

/// The texts of one language, as templates use them: `{{ t.t("nav.leads") }}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    /// The text of `key`; a missing one shows as the key itself.
    pub fn t(&self, key: &str) -> Cow<'static, str> {
        let catalogues: &'static Vec<HashMap<String, String>> = &CATALOGUES;
        match [self.lang.index(), Lang::En.index()]
            .into_iter()
            .find_map(|i| catalogues.get(i).and_then(|c| c.get(key)))
        {
            Some(text) => Cow::Borrowed(text.as_str()),
            None => {
                tracing::warn!(key, "UI text missing");
                Cow::Owned(key.to_owned())
            }
        }
    }

    /// The text of `key` with `{name}` replaced by `value`.
    pub fn t1(&self, key: &str, name: &str, value: impl Display) -> String {
        self.t(key)
            .replace(&format!("{{{name}}}"), &value.to_string())
    }

    /// The text of `key` with two placeholders replaced.
    pub fn t2(
        &self,
        key: &str,
        name1: &str,
        value1: impl Display,
        name2: &str,
        value2: impl Display,
    ) -> String {
        self.t1(key, name1, value1)
            .replace(&format!("{{{name2}}}"), &value2.to_string())
    }

    /// A date and time as people of this language write it (UTC, which the page says).
    pub fn datetime(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        let format = match self.lang {
            Lang::En => "%Y-%m-%d %H:%M UTC",
            _ => "%d/%m/%Y %H:%M UTC",
        };
        at.format(format).to_string()
    }

    /// A day as people of this language write it.
    pub fn date(&self, day: &chrono::NaiveDate) -> String {
        let format = match self.lang {
            Lang::En => "%Y-%m-%d",
            _ => "%d/%m/%Y",
        };
        day.format(format).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn catalogues() -> Vec<(Lang, HashMap<String, String>)> {
        SOURCES
            .iter()
            .map(|(lang, source)| (*lang, parse_catalogue(*lang, source).unwrap()))
            .collect()
    }

    fn placeholders(text: &str) -> BTreeSet<String> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    #[test]
    fn every_language_has_every_key_with_the_same_placeholders() {
        let all = catalogues();
        let english = &all[0].1;
        assert!(english.len() > 40, "the English catalogue looks truncated");
        for (lang, texts) in &all {
            let missing: BTreeSet<_> = english.keys().filter(|k| !texts.contains_key(*k)).collect();
            let extra: BTreeSet<_> = texts.keys().filter(|k| !english.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang:?} has keys English lacks: {extra:?}"
            );
            for (key, text) in texts {
                assert!(!text.trim().is_empty(), "{lang:?} {key} is empty");
                assert_eq!(
                    placeholders(text),
                    placeholders(&english[key]),
                    "{lang:?} {key} has other placeholders than English"
                );
            }
        }
    }

    /// Every key the templates and the UI code ask for exists (in English, so everywhere).
    #[test]
    fn every_key_used_exists() {
        let english = &catalogues()[0].1;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates/ui", "src/ui"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                files.push(entry.unwrap().path());
            }
        }
        let mut used = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for call in [".t(\"", ".t1(\"", ".t2(\""] {
                for piece in text.split(call).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    used += 1;
                    assert!(
                        english.contains_key(key),
                        "{} asks for {key:?}, which no catalogue has",
                        file.display()
                    );
                }
            }
        }
        assert!(
            used > 20,
            "the scan found too few keys ({used}) to be looking"
        );
    }

    #[test]
    fn accept_language_picks_the_best_we_have() {
        let cases = [
            (
                "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
                Some(Lang::Fr),
            ),
            ("de-DE, nl;q=0.4, it;q=0.6", Some(Lang::It)),
            ("pt-BR", Some(Lang::Pt)),
            ("ES", Some(Lang::Es)),
            ("de, ja", None),
            ("en;q=0, nl;q=0.1", Some(Lang::Nl)),
            ("it;q=1.5, es", Some(Lang::Es)),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(from_accept_language(header), want, "{header}");
        }
    }

    #[test]
    fn a_chosen_language_beats_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, "fr".parse().unwrap());
        assert_eq!(Lang::negotiate(Some("nl"), &headers), Lang::Nl);
        assert_eq!(Lang::negotiate(Some("xx"), &headers), Lang::Fr);
        assert_eq!(Lang::negotiate(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn placeholders_are_filled() {
        let t = Tr::new(Lang::En);
        assert_eq!(
            t.t1("crm.last_sync", "date", "2026-03-01"),
            t.t("crm.last_sync").replace("{date}", "2026-03-01")
        );
        assert!(!t.t1("crm.last_sync", "date", "x").contains("{date}"));
    }
}
